'use strict'
// Module state a test can mutate: a count, and which copy of this file this is.
const config = require('./config.js')

globalThis.counterLoads = (globalThis.counterLoads || 0) + 1
const copy = globalThis.counterLoads
let count = 0

module.exports = {
  copy,
  config,
  increment: () => (count += config.step),
}
