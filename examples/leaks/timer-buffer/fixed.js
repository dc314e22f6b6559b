'use strict'
// The plugin of leaky.js, fixed: it keeps the timer's handle and clears it when it is unloaded.
const { hot } = require('uncache-tree')

const big = new ArrayBuffer(1 << 20)
const timer = setInterval(() => big.byteLength, 60_000).unref()
hot(module).dispose(() => clearInterval(timer))
module.exports = { name: 'timer-buffer', size: () => big.byteLength }
