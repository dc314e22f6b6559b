'use strict'
// The metrics plugin of leaky.js, fixed: it stops its timer when it is unloaded.
//
// hot(module).dispose() registers a handler that uncache-tree runs just before this module is
// unloaded (webpack's module.hot semantics). Clearing the timer there removes the only path from
// Node's timer list to this copy, so the whole copy can be garbage collected.
const { hot } = require('uncache-tree')

// The last 50,000 samples: large on purpose, so that a leak would show on the doctor's chart.
const samples = Array.from({ length: 50_000 }, () => ({ at: 0, rss: 0 }))
let next = 0

const timer = setInterval(() => {
  // The options live on the exports so that the host can change them while the plugin runs.
  if (!module.exports.enabled) return
  samples[next] = { at: Date.now(), rss: process.memoryUsage.rss() }
  next = (next + 1) % samples.length
}, 1000).unref() // unref() only lets a short demo exit by itself

hot(module).dispose(() => clearInterval(timer))

module.exports = {
  name: 'metrics',
  enabled: true,
  latest: () => samples[(next + samples.length - 1) % samples.length],
}
