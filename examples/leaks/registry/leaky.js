'use strict'
// A plugin that LEAKS: it registers a handler in a global registry on each load. The entry holds
// this load's data (not `module`), and nothing ever takes it out. fixed.js is the cure.
const cache = new Float64Array(64 * 1024) // 512 KB per load
globalThis.handlerRegistry ??= []
globalThis.handlerRegistry.push({ name: 'lookup', handle: (i) => cache[i] })
module.exports = { name: 'lookup' }
