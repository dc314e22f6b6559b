'use strict'
// A plugin that LEAKS without keeping its module alive: its timer's closure holds a buffer, but
// not `module`. Every old module generation is collected, yet every reload leaves one more
// ticking timer and one more megabyte behind. fixed.js is the cure.
const big = new ArrayBuffer(1 << 20)
setInterval(() => big.byteLength, 60_000).unref() // unref() only lets a short demo exit by itself
module.exports = { name: 'timer-buffer', size: () => big.byteLength }
