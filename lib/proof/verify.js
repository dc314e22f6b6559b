'use strict'
// verifyCollected(): proof that what an unload removed was garbage collected.
//
// Two things make a naive "gc(), then deref()" check lie:
// - The unload registers what it removed with a FinalizationRegistry (lib/graph/report.js), whose
//   callbacks run as a separate task after a collection: a check made in the same turn as the
//   collection sees nothing collected yet. We therefore let the event loop turn before the first
//   collection and after each one before looking.
// - Several reports checked at once (the doctor checks one per reload cycle) must not each force
//   their own collections: one round of collection serves them all (`verifyReports`).
const { invalidArgType, invalidArgValue } = require('../errors.js')
const { checkObject } = require('../options.js')
const { trackedRefs } = require('../graph/report.js')
const { forceGc } = require('./gc.js')

const DEFAULT_TIMEOUT_MS = 2000
// Between collections: long enough for pending finalizers and for the program to drop
// references it is about to drop, short enough that a quick success returns quickly.
const POLL_MS = 50
const FINALIZER_TURNS = 4

const nextTurn = () => new Promise((resolve) => setImmediate(resolve))
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

function parseTimeout(options) {
  const { timeoutMs = DEFAULT_TIMEOUT_MS } = checkObject(options, 'options', 'verifyCollected')
  if (typeof timeoutMs !== 'number') throw invalidArgType('options.timeoutMs', 'of type number', timeoutMs)
  if (!(timeoutMs >= 0) || !Number.isFinite(timeoutMs)) {
    throw invalidArgValue('options.timeoutMs', timeoutMs, 'must be a finite number >= 0')
  }
  return timeoutMs
}

function trackingOf(report, name) {
  if (report === null || typeof report !== 'object') throw invalidArgType(name, 'an UnloadReport object', report)
  const tracking = trackedRefs(report)
  if (tracking === undefined) {
    throw invalidArgValue(
      name,
      '[object]',
      // Reports of every copy of this package in the process are known (lib/graph/report.js): an
      // unknown object is a copy of a report or something else, never another copy's report.
      'must be the report object an unload call returned in this process (a copy, e.g. from JSON or structuredClone, has no weak references to check)',
    )
  }
  return tracking
}

/**
 * Forces collections until every tracked object is gone or the deadline passes.
 * @param {{ removed: string[], refs: [string, WeakRef<object>][] }[]} checks
 * @returns {Promise<{ collected: string[], alive: string[] }[]>} one result per check
 */
async function collectAndCheck(checks, timeoutMs) {
  const deadline = Date.now() + timeoutMs
  let pending = checks.flatMap((check, n) => check.refs.map(([id, ref]) => ({ n, id, ref })))
  // Leave the job that created the WeakRefs (usually the unload just before this call).
  await nextTurn()
  for (;;) {
    forceGc()
    // Finalization callbacks run as tasks after the collection, one registry after another: the
    // process has other registries (the live graph index forgets collected modules through one),
    // so a few turns may pass before this report's callbacks have run.
    for (let turn = 0; turn < FINALIZER_TURNS; turn++) {
      await nextTurn()
      pending = pending.filter(({ ref }) => ref.deref() !== undefined)
      if (pending.length === 0) break
    }
    if (pending.length === 0 || Date.now() >= deadline) break
    await sleep(Math.min(POLL_MS, Math.max(0, deadline - Date.now())))
  }
  const aliveIds = checks.map(() => new Set())
  for (const { n, id } of pending) aliveIds[n].add(id)
  return checks.map((check, n) => ({
    collected: check.removed.filter((id) => !aliveIds[n].has(id)),
    alive: check.removed.filter((id) => aliveIds[n].has(id)),
  }))
}

/** See index.d.ts. */
async function verifyCollected(report, options) {
  const tracking = trackingOf(report, 'report')
  const timeoutMs = parseTimeout(options)
  if (tracking.dryRun) return { collected: [], alive: [] }
  const [result] = await collectAndCheck([{ removed: [...report.removed], refs: tracking.refs }], timeoutMs)
  return result
}

/**
 * verifyCollected() for many reports at once, sharing the forced collections (not public: the
 * doctor uses it for one report per reload cycle). Results are in the order of `reports`.
 */
async function verifyReports(reports, options) {
  if (!Array.isArray(reports)) throw invalidArgType('reports', 'an array of UnloadReport objects', reports)
  const trackings = reports.map((report, i) => trackingOf(report, `reports[${i}]`))
  const timeoutMs = parseTimeout(options)
  const checks = reports.map((report, i) =>
    trackings[i].dryRun ? { removed: [], refs: [] } : { removed: [...report.removed], refs: trackings[i].refs },
  )
  return collectAndCheck(checks, timeoutMs)
}

module.exports = { verifyCollected, verifyReports, DEFAULT_TIMEOUT_MS }
