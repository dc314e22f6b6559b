'use strict'
// The plugin of leaky.js, fixed: the chain checks a flag before it reschedules, and the dispose
// handler sets the flag and clears the pending timeout.
const { hot } = require('uncache-tree')

const window = new Float64Array(64 * 1024)
let index = 0
let disposed = false
let timer

function poll() {
  window[index++ % window.length] = Date.now()
  if (!disposed) timer = setTimeout(poll, 20).unref()
}
timer = setTimeout(poll, 20).unref()
hot(module).dispose(() => {
  disposed = true
  clearTimeout(timer)
})
module.exports = { name: 'poller', last: () => window[(index - 1 + window.length) % window.length] }
