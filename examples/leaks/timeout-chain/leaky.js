'use strict'
// A plugin that LEAKS: a poller that reschedules itself with setTimeout. There is no interval to
// clear; each tick makes a new Timeout, so after an unload the chain goes on forever, and its
// closure keeps this load's buffer. fixed.js is the cure.
const window = new Float64Array(64 * 1024) // 512 KB per load
let index = 0

function poll() {
  window[index++ % window.length] = Date.now()
  setTimeout(poll, 20).unref()
}
setTimeout(poll, 20).unref()
module.exports = { name: 'poller', last: () => window[(index - 1 + window.length) % window.length] }
