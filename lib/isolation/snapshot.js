'use strict'
// snapshot() and isolate(): unload everything loaded since a point in time, keep everything
// loaded before with its identity (test isolation in one process).
//
// A restore must cost what was loaded since, not what is loaded: a test suite restores after
// every test, in a process that may hold 30k modules. So nothing here scans require.cache,
// Module._pathCache or the requirers outside the cache. From the moment of the snapshot a
// Recorder watches two things as they happen:
// - every Module whose code starts loading (the `load` hook: Module.prototype.load runs
//   once per new Module, with its cache key), in load order;
// - every require() made, with its requirer (the `require` hook): only these
//   requirers can have gained an edge to a new module, and only at the end of their `children`
//   (Node appends).
// Module._pathCache entries naming a removed file are found through the registry's index, as
// for every unload.
// restore() builds the small graph of both (flatten.flattenSince), plans it in the native core
// (engine.planRestore, src/restore.rs) and hands it to the engine's executePlan: the same report, dispose
// handlers, cuts and weak references as every other unload.
const { AsyncLocalStorage } = require('node:async_hooks')
const Module = require('node:module')
const { isProxy } = require('node:util').types
const { fileURLToPath } = require('node:url')
const { isLoading, isModuleLike, ownValue, state } = require('../graph/state.js')
const fields = require('../graph/module-fields.js')
const flatten = require('../graph/flatten.js')
const { executePlan, classifyBoundaries, planRestore } = require('../graph/engine.js')
const { liveCache, assertNotReentrant } = require('../graph/unload.js')
const { parseSnapshotOptions, parseIsolateOptions } = require('../options.js')
const { invalidArgType, explain } = require('../errors.js')
const { isOwnFile } = require('../targets.js')
const { outsideRequirers } = require('../graph/outside-requirers.js')
const { install } = require('../loader/patches.js')
const { on } = require('../graph/hooks.js')

// Process-wide, on the shared state (lib/graph/state.js), so that two copies of this package in
// one process see each other's recordings and isolates (the overlap check must see every running
// isolate).
const shared =
  state.snapshots ||
  (state.snapshots = {
    recorders: new Set(),
    sequence: 0,
    restoring: null,
    watchingCuts: false,
    context: new AsyncLocalStorage(),
    running: new Set(),
  })

/**
 * An unload during a recording can remove `children` entries in front of a recorded mark and
 * shift new edges before it; after one, the recorder reads (and cuts) its requirers' whole
 * `children` at restore instead of the tail. A restore is the exception for the recorders
 * started before it: it removes only modules loaded since its own snapshot, which were pushed
 * while those older recorders were already recording, i.e. after their marks, so their marks
 * stay exact. Recorders started after it may have marks past the removed entries.
 */
function watchCuts() {
  if (!shared.watchingCuts) {
    shared.watchingCuts = true
    on('beforeCut', function uncacheTreeSnapshotCuts() {
      const restoring = shared.restoring
      for (const recorder of shared.recorders) {
        if (restoring === null || recorder.sequence > restoring.sequence) recorder.dirty = true
      }
    })
    on('loadGap', function uncacheTreeSnapshotCatchUp(gap = true) {
      for (const recorder of shared.recorders) {
        if (gap) recorder.catchUp()
        else recorder.renewMark()
      }
    })
  }
  // A separate flag: a state whose first hooks an older copy registered lacks this one. Recorders
  // of older copies (which hold modules weakly) have no `forget`.
  if (!shared.forgettingRemoved) {
    shared.forgettingRemoved = true
    on('beforeCut', function uncacheTreeSnapshotForget(modules) {
      for (const recorder of shared.recorders) if (typeof recorder.forget === 'function') recorder.forget(modules)
    })
    on('rollback', function uncacheTreeSnapshotRollback(reinstated, dropped) {
      for (const recorder of shared.recorders) {
        if (typeof recorder.reinstate !== 'function') continue
        recorder.forget(dropped)
        recorder.reinstate(reinstated)
      }
    })
  }
}

class Recorder {
  constructor(cache) {
    this.cache = cache
    this.sequence = ++shared.sequence
    this.dirty = false
    // Module -> the key it loaded with, in load order. Held strongly while the snapshot is open:
    // a WeakRef would keep its module until the current job ends anyway (ECMAScript
    // KeepDuringJob: a synchronous loop of snapshot/require/restore kept every generation), and
    // the restore must find the copies that other code loaded and dropped from the cache
    // (proxyquire, rewire) to unload them. Any unload drops what it removes (`forget`), so a
    // module unloaded meanwhile is free to go, and restore() releases the rest.
    this.loaded = new Map()
    // Requirer -> its `children` length before its first require since the snapshot.
    this.requirers = new Map()
    // Module -> { key, start } of what an unload removed (see forget and reinstate).
    this.forgotten = new WeakMap()
    // Modules loaded before the snapshot that a failed reload put back: their keys now sit after
    // the marks, where `catchUp` would take them for loads made in a gap.
    this.reinstatedOld = new WeakSet()
    this.stopped = false
    // The observers close over the recorder only, never over the Snapshot handle, so that an
    // abandoned snapshot can be collected and its recorder stopped (see `finalizer`).
    this.onLoad = (m, filename) => {
      if (this.loaded.has(m)) return
      this.loaded.set(m, filename)
      // A Module made without Module._load (rewire: `new Module(file, parent)`, then load())
      // was appended to its parent's `children` by the constructor, with no require() seen.
      const parent = fields.parentOf(m)
      if (isModuleLike(parent) && !this.requirers.has(parent)) {
        const at = fields.childrenOf(parent).lastIndexOf(m)
        this.requirers.set(parent, at >= 0 ? at : flatten.childCount(parent))
      }
    }
    this.onRequire = (requirer, request) => {
      if (typeof request !== 'string' || this.requirers.has(requirer)) return
      this.requirers.set(requirer, flatten.childCount(requirer))
    }
    install()
    // Bumped when other code replaced a loader wrapper: what was recorded may miss requires.
    this.epoch = state.loaderEpoch
    this.markLoads()
    watchCuts()
    this.stopLoads = on('load', this.onLoad)
    this.stopRequires = on('require', this.onRequire)
    shared.recorders.add(this)
  }

  /**
   * Drops the modules an unload is removing (the beforeCut hook of every unload). What they
   * were is kept weakly (a WeakMap, which unlike a WeakRef holds nothing until the job ends), for
   * a failed reload that puts them back (`reinstate`).
   */
  forget(modules) {
    // A removed mark is dead (liveMark skips it); dropped now so that it holds nothing.
    if (this.marks !== undefined) this.marks = this.marks.filter((mark) => !modules.includes(mark.module))
    if (this.loaded.size === 0 && this.requirers.size === 0) return
    for (const m of modules) {
      const key = this.loaded.get(m)
      const start = this.requirers.get(m)
      if (key === undefined && start === undefined) continue
      this.forgotten.set(m, { key, start })
      this.loaded.delete(m)
      this.requirers.delete(m)
    }
  }

  /** Takes back what `forget` dropped of the modules a failed reload put back into the cache. */
  reinstate(entries) {
    for (const [key, m] of entries) {
      const was = this.forgotten.get(m)
      if (was?.key !== key) this.reinstatedOld.add(m)
      if (was === undefined) continue
      this.forgotten.delete(m)
      if (was.key === key) this.loaded.set(m, key)
      // The rollback gives its `children` back whole: read them whole at restore.
      if (was.start !== undefined) this.requirers.set(m, 0)
    }
  }

  /**
   * Remembers the last key inserted into require.cache now (the module whose load started last),
   * for `insertedSince`: the last few such keys whose modules are still cached, each with its
   * module (strongly: an unload that removes one drops its mark, see `forget`).
   */
  markLoads() {
    const marks = []
    for (const key of state.recentKeys) {
      const m = this.cache[key]
      if (m !== undefined) marks.push({ key, module: m })
    }
    // Every recent load's entry deleted since (by hand): one scan finds the last key instead.
    if (marks.length === 0) this.remarkAt(Object.keys(this.cache).at(-1))
    else this.marks = marks
  }

  /** The newest mark whose entry still holds the module it held, or undefined. */
  liveMark() {
    for (let k = (this.marks?.length ?? 0) - 1; k >= 0; k--) {
      const mark = this.marks[k]
      if (this.cache[mark.key] === mark.module) return mark
    }
    return undefined
  }

  /**
   * Called by install() (lib/loader/patches.js) at the first call after other code replaced the
   * `Module.prototype.load` wrapper: the loads made meanwhile went unseen. They are the Modules
   * inserted into require.cache after the newest live mark (Node inserts a module's key just
   * before loading it), recorded now, before later calls can unload it; the marks then move to
   * the last key. With no live mark left there is nothing to count from. A module a failed
   * reload put back was loaded before the snapshot, wherever its key now sits (`reinstate`).
   */
  catchUp() {
    const mark = this.liveMark()
    if (mark === undefined) return
    const keys = Object.keys(this.cache)
    for (let k = keys.lastIndexOf(mark.key) + 1; k > 0 && k < keys.length; k++) {
      // Only what Node's loader made: a Module under its own filename with a children array,
      // loaded or loading (a mock or a module compiled by hand is not).
      const m = this.cache[keys[k]]
      if (isProxy(m) || !(m instanceof Module) || fields.filenameOf(m) !== keys[k] || this.loaded.has(m) || this.reinstatedOld.has(m)) continue
      if (!Array.isArray(ownValue(m, 'children'))) continue
      if (ownValue(m, 'loaded') === true || isLoading(m)) this.loaded.set(m, keys[k])
    }
    this.remarkAt(keys.at(-1))
  }

  /**
   * At a call with no loader gap: marks whose modules were all unloaded since are renewed at the
   * last key (every load up to now was seen, so what comes after is what a later gap may hide).
   */
  renewMark() {
    if (this.liveMark() !== undefined) return
    if (this.marks === undefined && state.lastLoadedKey === undefined) return
    this.remarkAt(Object.keys(this.cache).at(-1))
  }

  remarkAt(key) {
    this.marks = key === undefined ? undefined : [{ key, module: this.cache[key] }]
  }

  /**
   * Every module that can hold one loaded since, each to be read whole: used instead of the
   * recorded requirers when a loader wrapper was replaced while recording (mock-require's
   * stopAll() puts back the `Module._load` it found, and requires made then were not seen).
   * One full scan for that restore: exact, at the cost the recording normally saves.
   */
  allRequirers() {
    const out = []
    for (const key of Object.keys(this.cache)) {
      const m = this.cache[key]
      if (isModuleLike(m)) out.push([m, 0])
    }
    for (const m of outsideRequirers()) out.push([m, 0])
    return out
  }

  stop() {
    if (this.stopped) return
    this.stopped = true
    this.stopLoads()
    this.stopRequires()
    shared.recorders.delete(this)
    this.release()
  }

  /** Lets go of every module this recorder holds. */
  release() {
    this.loaded = new Map()
    this.requirers = new Map()
    this.forgotten = new WeakMap()
    this.reinstatedOld = new WeakSet()
    this.marks = undefined
  }

  /** [key, module] of the modules loaded since that are still cached under that key. */
  liveLoaded() {
    const out = []
    for (const [m, key] of this.loaded) if (this.cache[key] === m) out.push([key, m])
    return out
  }

  /**
   * The modules loaded since that other code dropped from the cache after they loaded
   * (proxyquire and rewire load copies and take them out again): no longer under the key they
   * loaded with, finished loading (an instance whose load threw was never live), and not
   * unloaded by this package (`forget` dropped those).
   */
  droppedSince() {
    const out = new Set()
    for (const [m, key] of this.loaded) {
      if (this.cache[key] === m || !isModuleLike(m) || state.abandoned.has(m)) continue
      if (ownValue(m, 'loaded') === true) out.add(m)
    }
    return out
  }

  loadedSince() {
    const keys = new Set()
    for (const [key] of this.liveLoaded()) keys.add(key)
    return [...keys]
  }

  restore(keep) {
    assertNotReentrant('restore')
    const cache = this.cache
    const loaderReplaced = install() || this.epoch !== state.loaderEpoch
    this.epoch = state.loaderEpoch
    let requirers = []
    for (const [m, start] of this.requirers) requirers.push([m, this.dirty ? 0 : start])
    if (loaderReplaced) requirers = this.allRequirers()
    const dropped = this.droppedSince()
    const loaded = []
    for (const [m, key] of this.loaded) loaded.push([key, m])
    const graph = flatten.flattenSince(cache, loaded, requirers, dropped.size > 0 ? dropped : undefined)
    graph.ids = flatten.nodeIds(graph)
    graph.reasons = classifyBoundaries(graph)
    if (keep !== undefined) {
      for (let i = 0; i < graph.cachedCount; i++) {
        if ((graph.flags[i] & flatten.BOUNDARY) === 0 && keep(graph.ids[i])) {
          graph.flags[i] |= flatten.BOUNDARY
          graph.reasons.set(i, 'kept-by-option')
        }
      }
    }
    const plan = planRestore(graph)
    const previous = shared.restoring
    shared.restoring = this
    let report
    try {
      report = executePlan(cache, graph, plan, { dryRun: false })
    } finally {
      shared.restoring = previous
    }
    report.removed = onceEach(report.removed)
    // A new epoch: what stayed loaded (addons, modules kept by option) still counts as loaded
    // since; edges are recorded afresh from the marks after the cuts. Nothing removed stays held.
    this.loaded = new Map()
    this.requirers = new Map()
    const removed = new Set(plan.removed)
    for (let i = 0; i < graph.cachedCount; i++) {
      if (!removed.has(i) && cache[graph.keys[i]] === graph.nodes[i]) this.loaded.set(graph.nodes[i], graph.keys[i])
    }
    this.dirty = false
    return report
  }
}

/**
 * `keys` with each key once, at its first place. A module other code dropped from the cache and
 * the one loaded under its key since are both unloaded, and both listed under that key by the
 * cuts; the report names the key once. (verifyCollected still waits for both objects: it tracks
 * what the cuts removed, by key, and a key is alive while either is.)
 */
function onceEach(keys) {
  const seen = new Set(keys)
  return seen.size === keys.length ? keys : [...seen]
}

// Stops the recording of a snapshot nobody can restore any more (its handle was collected).
const finalizer = new FinalizationRegistry((recorder) => recorder.stop())

/**
 * The snapshot object and a function that ends its recording (for isolate() and the test-runner
 * hooks, which know when a snapshot is done with; a snapshot a user drops is stopped when it is
 * garbage collected).
 */
function openSnapshot(options, api = 'snapshot') {
  const { keep, onRestore } = parseSnapshotOptions(options)
  const cache = liveCache(api)
  // The handle is what the methods close over: whoever holds either method keeps it alive, and
  // once nobody does, the finalizer stops the recording.
  const handle = { recorder: new Recorder(cache) }
  const snap = Object.freeze({
    loadedSince: () => handle.recorder.loadedSince(),
    restore: () => {
      const report = handle.recorder.restore(keep)
      // The place for resets of what a kept package registered (mongoose models, metrics).
      if (onRestore !== undefined) onRestore(report)
      return report
    },
  })
  finalizer.register(handle, handle.recorder, handle)
  const stop = () => {
    finalizer.unregister(handle)
    handle.recorder.stop()
  }
  return { snapshot: snap, stop }
}

/** See index.d.ts. */
function snapshot(options) {
  return openSnapshot(options, 'snapshot').snapshot
}

/**
 * Where isolate() was called from, for the overlap error. V8 captures the frames now but
 * formats them only when `.stack` is read, so the cost stays off the common path (an isolate
 * per test) and is paid only when the error is built.
 */
function captureCallSite() {
  const savedLimit = Error.stackTraceLimit
  const holder = {}
  try {
    Error.stackTraceLimit = 30
    Error.captureStackTrace(holder, captureCallSite)
  } finally {
    Error.stackTraceLimit = savedLimit
  }
  return holder
}

/** `file:line:column` of the first captured frame outside this package. */
function describeCallSite(holder) {
  const savedPrepare = Error.prepareStackTrace
  let frames
  try {
    Error.prepareStackTrace = (_, callSites) => callSites
    frames = holder.stack
  } finally {
    Error.prepareStackTrace = savedPrepare
  }
  for (const frame of Array.isArray(frames) ? frames : []) {
    let file = frame.getFileName()
    if (!file) continue
    if (file.startsWith('file:')) file = fileURLToPath(file)
    if (file.startsWith('node:') || isOwnFile(file)) continue
    return `${file}:${frame.getLineNumber()}:${frame.getColumnNumber()}`
  }
  return '<unknown location>'
}

function isAncestor(frame, descendant) {
  for (let f = descendant; f !== undefined; f = f.parent) if (f === frame) return true
  return false
}

/** Restores after `fn` failed: `fn`'s error is what the caller gets; a restore error is a warning. */
function finishAfterError(finish) {
  try {
    finish()
  } catch (restoreError) {
    process.emitWarning(restoreError, { code: 'UNCACHE_TREE_RESTORE_FAILED' })
  }
}

/** See index.d.ts. */
function isolate(fn, options) {
  if (typeof fn !== 'function') throw invalidArgType('fn', 'of type function', fn)
  const o = parseIsolateOptions(options)
  liveCache('isolate')
  const { context, running } = shared
  const parent = context.getStore()
  const site = captureCallSite()
  // Any isolate still running here is either an ancestor (this one is nested in it) or runs
  // concurrently in another async flow, whose requires would land in both recordings.
  for (const other of running) {
    if (!isAncestor(other, parent)) {
      throw explain.isolateOverlap(
        `the isolate() started at ${describeCallSite(other.site)}`,
        `isolate() at ${describeCallSite(site)}`,
      )
    }
  }
  const { snapshot: snap, stop } = openSnapshot({ keep: o.keep }, 'isolate')
  const frame = { parent, site }
  running.add(frame)
  const finish = () => {
    running.delete(frame)
    let report
    try {
      report = snap.restore()
    } finally {
      stop()
    }
    if (o.onRestore !== undefined) o.onRestore(report)
  }
  let result
  try {
    result = context.run(frame, fn)
  } catch (error) {
    finishAfterError(finish)
    throw error
  }
  let then
  try {
    // Reading `then` runs user code (a getter, a Proxy trap): if it throws, `fn` failed.
    then = result !== null && (typeof result === 'object' || typeof result === 'function') ? result.then : undefined
  } catch (error) {
    finishAfterError(finish)
    throw error
  }
  if (typeof then === 'function') {
    return Promise.resolve(result).then(
      (value) => {
        finish()
        return value
      },
      (error) => {
        finishAfterError(finish)
        throw error
      },
    )
  }
  finish()
  return result
}

module.exports = { snapshot, isolate, openSnapshot }
