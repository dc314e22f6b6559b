'use strict'
// Medians and quantiles of benchmark samples, and how milliseconds are printed (unload.js,
// verbs.js, from-string.js).

/** The q-quantile of sorted samples, interpolated between the two nearest. */
function quantile(sorted, q) {
  const pos = (sorted.length - 1) * q
  const lo = Math.floor(pos)
  const hi = Math.ceil(pos)
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo)
}

function summarize(samples) {
  const s = [...samples].sort((a, b) => a - b)
  return { median: quantile(s, 0.5), p25: quantile(s, 0.25), p75: quantile(s, 0.75), min: s[0], count: s.length }
}

const nextJob = () => new Promise((resolve) => setImmediate(resolve))

const fmt = (ms) => (ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms >= 1 ? ms.toFixed(2) : ms.toFixed(3))

module.exports = { quantile, summarize, nextJob, fmt }
