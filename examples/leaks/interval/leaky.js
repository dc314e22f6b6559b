'use strict'
// A metrics plugin that LEAKS: it starts a timer when it loads and never stops it.
//
// After uncacheTree() removes this module the timer still ticks. Node's timer list holds the
// Timeout, the Timeout holds the callback, and the callback's scope holds what this file's
// top-level code created -- `samples`, and `module` itself, because the callback reads
// `module.exports`. Every reload adds one more ticking copy. fixed.js is the cure.

// The last 50,000 samples: large on purpose, so that each leaked copy shows on the doctor's chart.
const samples = Array.from({ length: 50_000 }, () => ({ at: 0, rss: 0 }))
let next = 0

setInterval(() => {
  // The options live on the exports so that the host can change them while the plugin runs.
  if (!module.exports.enabled) return
  samples[next] = { at: Date.now(), rss: process.memoryUsage.rss() }
  next = (next + 1) % samples.length
}, 1000).unref() // unref() only lets a short demo exit by itself: the timer still holds the callback

module.exports = {
  name: 'metrics',
  enabled: true,
  latest: () => samples[(next + samples.length - 1) % samples.length],
}
