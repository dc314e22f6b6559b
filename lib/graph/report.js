'use strict'
// The UnloadReport every unloading function returns, and what verifyCollected() checks it
// against. The tracking lives in a WeakMap keyed by the report object, not on the report:
// JSON.stringify(report) stays the documented shape, and a JSON copy has none. The WeakMap is
// on the process-wide state (lib/graph/state.js), so that a report made by one copy of this
// package verifies with another copy's verifyCollected(); the field is added on first use,
// since the state object may have been made by an older copy that did not have it.
//
// Collection is observed with a FinalizationRegistry, not WeakRefs: `new WeakRef(m)` keeps `m`
// alive until the job that created it ends (ECMAScript KeepDuringJob), so a program that unloads
// and reloads in one synchronous loop would free nothing until the loop ends (4.16 GB peak in a
// 1,000-cycle soak). Registering costs about a sixth of creating a WeakRef, too.

const { state } = require('./state.js')

/** The process-wide report -> tracking map (shared by every copy of the package). */
function trackedReports() {
  if (!(state.reportTracking instanceof WeakMap)) state.reportTracking = new WeakMap()
  return state.reportTracking
}

function emptyReport() {
  return { removed: [], kept: [], skipped: [], pinned: [], pathCacheEntries: 0, errors: [] }
}

/**
 * Remembers, without keeping them alive, the objects that `report.removed` named, so
 * verifyCollected() can tell later whether they were garbage collected: `keys[i]` was removed
 * with value `values[i]`.
 * @param {object} report
 * @param {string[]} keys
 * @param {unknown[]} values
 * @param {boolean} dryRun a dry run removed nothing, so there is nothing to verify
 */
function track(report, keys, values, dryRun) {
  const tracking = { dryRun, keys: [], collected: undefined, registry: undefined }
  if (!dryRun && keys.length > 0) {
    const collected = new Uint8Array(keys.length)
    const registry = new FinalizationRegistry((i) => {
      collected[i] = 1
    })
    for (let i = 0; i < keys.length; i++) {
      const value = values[i]
      if (value !== null && (typeof value === 'object' || typeof value === 'function')) registry.register(value, i)
      else collected[i] = 1 // a primitive cache value holds nothing
    }
    tracking.keys = keys
    tracking.collected = collected
    tracking.registry = registry // lives as long as the report: its callbacks fill `collected`
  }
  trackedReports().set(report, tracking)
  return report
}

/**
 * `[id, ref]` pairs for what `report` removed, where `ref.deref()` is undefined once the object
 * was collected; undefined when the report did not come from an unload.
 */
function trackedRefs(report) {
  const tracking = trackedReports().get(report)
  if (tracking === undefined) return undefined
  const { keys, collected } = tracking
  const refs = keys.map((id, i) => [id, { deref: () => (collected[i] === 1 ? undefined : true) }])
  return { dryRun: tracking.dryRun, refs }
}

module.exports = { emptyReport, track, trackedRefs }
