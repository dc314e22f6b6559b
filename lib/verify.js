'use strict'
// verifyCollected(): proof that what an unload removed was garbage collected.
const { invalidArgType, invalidArgValue } = require('./errors.js')
const { checkObject } = require('./options.js')
const { trackedRefs } = require('./report.js')
const { forceGc } = require('./gc.js')

/** See index.d.ts. */
async function verifyCollected(report, options) {
  if (report === null || typeof report !== 'object') throw invalidArgType('report', 'an UnloadReport object', report)
  const { timeoutMs = 2000 } = checkObject(options)
  if (typeof timeoutMs !== 'number') throw invalidArgType('options.timeoutMs', 'of type number', timeoutMs)
  if (!(timeoutMs >= 0) || !Number.isFinite(timeoutMs)) {
    throw invalidArgValue('options.timeoutMs', timeoutMs, 'must be a finite number >= 0')
  }
  const tracking = trackedRefs(report)
  if (tracking === undefined) {
    throw invalidArgValue(
      'report',
      '[object]',
      'must be the report object an unload call returned (a copy, e.g. from JSON, has no weak references to check)',
    )
  }
  if (tracking.dryRun) return { collected: [], alive: [] }
  const deadline = Date.now() + timeoutMs
  let alive = tracking.refs
  // Collect, let the event loop turn (weak references clear between jobs), look again.
  for (;;) {
    forceGc()
    await new Promise((resolve) => setImmediate(resolve))
    alive = alive.filter(([, ref]) => ref.deref() !== undefined)
    if (alive.length === 0 || Date.now() >= deadline) break
    await new Promise((resolve) => setTimeout(resolve, Math.min(50, Math.max(0, deadline - Date.now()))))
  }
  const aliveIds = new Set(alive.map(([id]) => id))
  return {
    collected: report.removed.filter((id) => !aliveIds.has(id)),
    alive: report.removed.filter((id) => aliveIds.has(id)),
  }
}

module.exports = { verifyCollected }
