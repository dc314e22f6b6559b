'use strict'
// The UnloadReport every unloading function returns, and the weak references behind
// verifyCollected(). The references live in a WeakMap keyed by the report object, not on the
// report: JSON.stringify(report) stays the documented shape, and a JSON copy has none.

const tracked = new WeakMap()

function emptyReport() {
  return { removed: [], kept: [], skipped: [], pinned: [], pathCacheEntries: 0, errors: [] }
}

/**
 * Remembers, weakly, the objects that `report.removed` named, so verifyCollected() can tell
 * later whether they were garbage collected. `entries` pairs each removed key with its value.
 * @param {object} report
 * @param {[string, unknown][]} entries
 * @param {boolean} dryRun a dry run removed nothing, so there is nothing to verify
 */
function track(report, entries, dryRun) {
  const refs = []
  if (!dryRun) {
    for (const [id, value] of entries) {
      if (value !== null && (typeof value === 'object' || typeof value === 'function')) refs.push([id, new WeakRef(value)])
    }
  }
  tracked.set(report, { dryRun, refs })
  return report
}

/** The weak references taken for `report`, or undefined when it did not come from an unload. */
function trackedRefs(report) {
  return tracked.get(report)
}

module.exports = { emptyReport, track, trackedRefs }
