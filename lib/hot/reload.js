'use strict'
// reload(): invalidate, then require again, as one transaction. When the new code throws while
// loading, everything is put back as it was before the unload (rollbackState.captureCuts took it just
// before the cuts): the modules that the failed attempt loaded are unloaded (their dispose
// handlers run), then the old module objects return under the same keys, in the same key
// order, with the same `children` and parents, and the same Module._pathCache entries. The
// program keeps running the old version; the error says so.
//
// A reload that succeeds costs what it unloads and loads, not the cache size: the capture keeps
// where the removed keys sat in the key order as ranks (graph/key-order.js), and only a rollback
// reads every key of require.cache.
//
// The old version's dispose handlers ran before the new code loaded (a server must free its
// port before the new one listens), so the restored modules are those disposed instances.
const Module = require('node:module')
const { fileURLToPath, URL } = require('node:url')
const fields = require('../graph/module-fields.js')
const flatten = require('../graph/flatten.js')
const cuts = require('../graph/cuts.js')
const rollbackState = require('../graph/rollback.js')
const { duringDispose, markAbandoned } = require('../graph/dispose.js')
const hotState = require('./hot.js')
const { executePlan, planRestore, classifyBoundaries } = require('../graph/engine.js')
const { invalidArgType, invalidArgValue, explain } = require('../errors.js')
const { invalidateKeys } = require('./invalidate.js')
const { parseReloadOptions } = require('../options.js')
const { callerFile, resolveTargets } = require('../targets.js')
const { describeThrownAt } = require('./frames.js')
const { assertNoEsm } = require('./esm.js')
const { liveCache, assertNotReentrant } = require('../graph/unload.js')
const { state, isModuleLike, ownValue } = require('../graph/state.js')

/**
 * Unloads every module the failed attempt put into require.cache (the modules that loaded since
 * the capture), with their dispose handlers, and nothing that was loaded before: the plan of a
 * snapshot restore over what the capture recorded (flatten.flattenSince), so a rollback costs what
 * the attempt loaded, not the size of the cache.
 */
function unloadAdded(cache, capture, errors) {
  const loaded = []
  for (const [m, key] of capture.loaded) if (cache[key] === m) loaded.push([key, m])
  if (loaded.length === 0) return
  // Unloading drops the Module._pathCache entries of these files, also those made before the
  // reload (a shared module the failed code loaded anew): restoreCuts puts those back.
  for (const key of cuts.stalePathCacheKeys(loaded.map(([key]) => key))) {
    if (!capture.pathKeysAdded.has(key)) capture.pathEntries.push([key, Module._pathCache[key]])
  }
  // What can hold a module the attempt loaded: the requirers since the capture (their `children`
  // from the length they had), and the modules whose `children` the capture took (read whole).
  const requirers = [...capture.grown]
  for (const m of capture.children.keys()) requirers.push([m, 0])
  const graph = flatten.flattenSince(cache, loaded, requirers)
  graph.ids = flatten.nodeIds(graph)
  graph.reasons = classifyBoundaries(graph)
  errors.push(...executePlan(cache, graph, planRestore(graph), { dryRun: false }).errors)
}

/** Puts back what the attempt changed; adds dispose errors of the failed attempt to `errors`. */
function rollback(cache, capture, created, dataAfterDispose, errors) {
  // Instances that threw while loading are out of the cache already, but may have started
  // timers before throwing: run the dispose handlers they registered.
  const abandoned = created.filter((m) => capture.loaded.has(m) && cache[m.filename] !== m)
  // Inside the dispose phase's guard, like every dispose: a handler that calls back in is refused.
  duringDispose(abandoned, hotState.disposeAbandoned, errors)
  for (const m of abandoned) markAbandoned(m)
  rollbackState.noteAttemptKeys(cache, capture)
  unloadAdded(cache, capture, errors)
  rollbackState.restoreCuts(cache, capture)
  // A snapshot's recording takes back what it let go of at their beforeCut, and lets go of what
  // the attempt loaded (a module a dispose handler loaded meanwhile is only deleted by the key
  // order's restore).
  const reinstated = new Map()
  for (const [key, m] of capture.removed) if (cache[key] === m) reinstated.set(key, m)
  const dropped = []
  for (const [m, key] of capture.loaded) if (cache[key] !== m) dropped.push(m)
  for (const observe of state.rollbackObservers ?? []) observe(reinstated, dropped)
  // The next instance must get what the old version handed over, not what the failed one did.
  hotState.restoreData(dataAfterDispose)
}

/**
 * invalidate(keys), then `require(file)` as `fromFile` would, with rollback. Returns
 * `{ exports, report }` or throws ERR_UNCACHE_RELOAD_FAILED. Used by reload() and watch().
 * `fullScan` plans on a flatten of the whole cache (benchmark/invalidate.js compares).
 */
function reloadKeys(cache, keys, file, fromFile, opts, { fullScan = false } = {}) {
  const attempt = hotState.trackCreated()
  let capture
  let outcome
  try {
    outcome = invalidateKeys(cache, keys, { ...opts, dryRun: false }, { fromFile, fullScan, capture: (c) => (capture = c) })
  } catch (error) {
    attempt.stop()
    capture?.stop()
    throw error
  }
  const { report, failures } = outcome
  try {
    const dataAfterDispose = hotState.saveData()
    let failed = failures.length > 0
    let cause = failures[0]
    let exports
    if (!failed) {
      try {
        exports = fields.requireFrom(cache, fromFile, file)
      } catch (error) {
        failed = true
        cause = error
      }
    }
    const created = attempt.stop()
    if (!failed) return { exports, report }
    rollback(cache, capture, created, dataAfterDispose, report.errors)
    throw explain.reloadFailed(file, cause, report, thrownAt(cause))
  } finally {
    capture?.stop()
  }
}

/** Where `cause` was thrown (and the user's line that called in, when the throw is in node_modules). */
const thrownAt = describeThrownAt

/** The file require() loads for a target that is not loaded (resolveTargets checked it resolves). */
function fileToLoad(target, fromFile) {
  if (isModuleLike(target)) return ownValue(target, 'filename')
  const specifier = target instanceof URL ? fileURLToPath(target) : target
  return Module.createRequire(fromFile).resolve(specifier.startsWith('file:') ? fileURLToPath(specifier) : specifier)
}

/** See index.d.ts. */
function reload(target, options) {
  assertNotReentrant('reload')
  if (Array.isArray(target)) {
    throw invalidArgType('target', 'one path, file: URL, specifier or Module object (reload() takes no arrays)', target)
  }
  const opts = parseReloadOptions(options)
  if (opts.dryRun) {
    throw invalidArgValue(
      'options.dryRun',
      true,
      'is not supported by reload(), which must load the new code; use invalidate(target, { dryRun: true })',
    )
  }
  const cache = liveCache('reload')
  const fromFile = opts.from ?? callerFile()
  const keys = resolveTargets(cache, target, fromFile)
  assertNoEsm(cache, target, keys, fromFile, 'reload')
  const file = keys.length > 0 ? keys[0] : fileToLoad(target, fromFile)
  if (typeof file !== 'string') {
    throw invalidArgType('target', 'a Module object with a filename', target)
  }
  return reloadKeys(cache, keys, file, fromFile, opts)
}

module.exports = { reload, reloadKeys, fileToLoad }
