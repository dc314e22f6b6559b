'use strict'
// hot(module): a module's own handle on hot reload, with webpack's `module.hot` semantics for
// CommonJS: `dispose` handlers that free what no cache surgery can (timers, servers, listeners),
// `data` handed from one instance of a file to the next, and `accept` / `decline`, which
// invalidate() reads to decide where an update stops.
//
// The state of each module lives in a WeakMap keyed by the Module object, never on the object:
// properties added to Module objects turn them into slow dictionary-mode objects on Node >= 22,
// and a WeakMap lets an unloaded module and its handlers be collected with it. The store sits on
// the process-wide state (lib/graph/state.js), so that two copies of this package (or this
// package unloaded and loaded again) share one set of handlers, and the dispose hook is
// registered once.
const Module = require('node:module')
const path = require('node:path')
const { URL } = require('node:url')
const { isPromise, isProxy } = require('node:util').types
const fields = require('../graph/module-fields.js')
const { invalidArgType, invalidArgValue, explain } = require('../errors.js')
const { filePathOfUrl, isUrlLike } = require('../targets.js')
const { state, isModuleLike } = require('../graph/state.js')
const { isUnloaded } = require('../graph/dispose.js')
const { on } = require('../graph/hooks.js')

/** A module's hot-reload state (one per Module object). */
class HotRecord {
  constructor(module, data) {
    this.module = module
    this.data = data
    this.disposeHandlers = []
    this.disposed = false
    this.selfAccepted = false
    this.selfErrorHandler = undefined
    // resolved filename -> callback (or undefined) for accept(deps, callback)
    this.acceptedDeps = new Map()
    this.selfDeclined = false
    this.declinedDeps = new Set()
    // Files that are not modules (templates, .env, JSON read with fs) whose edits reload this module.
    this.watchFiles = new Set()
    // hot.invalidate() was called: the next update of this instance goes past its own accept.
    this.bubble = false
    this.handle = new Hot(this)
  }
}

function createStore() {
  const store = {
    records: new WeakMap(),
    // filename -> the object the dispose handlers of the last unloaded instance of that file
    // filled; what the next instance sees as hot(module).data. Oldest first; at most
    // PENDING_DATA_LIMIT files (trimPendingData).
    pendingData: new Map(),
    // Functions told of each module that gets a hot handle (reload() looks for instances that
    // threw while loading, to run the dispose handlers they registered before throwing).
    creationObservers: new Set(),
  }
  on('beforeCut', (modules, report) => disposeUnloaded(store, modules, report))
  return store
}

const store = state.hotStore || (state.hotStore = createStore())
// Added after the first release: a store made by an older copy gets it here.
// Functions told when a module calls hot.invalidate() (watchers, the dev runner).
store.invalidateListeners ??= new Set()

/**
 * How many files' hot data may wait for their next instance at once. Data is kept until the
 * file is unloaded again, because the next instance may call hot(module) late; a program that
 * unloads files it never loads again (a plugin host, one-shot scripts) would otherwise keep one
 * data object per file forever.
 */
const PENDING_DATA_LIMIT = 1000

/**
 * Past the limit: first drops the data that the file's cached instance already took (its hot
 * record holds the same object), then the data that has waited longest.
 */
function trimPendingData(pending) {
  for (const [filename, data] of pending) {
    if (pending.size <= PENDING_DATA_LIMIT) return
    const m = Module._cache[filename]
    if (m !== undefined && store.records.get(m)?.data === data) pending.delete(filename)
  }
  for (const filename of pending.keys()) {
    if (pending.size <= PENDING_DATA_LIMIT) return
    pending.delete(filename)
  }
}

/** Runs and drops a record's dispose handlers; returns the data object they filled. */
function runDisposeHandlers(record, errors) {
  const handlers = record.disposeHandlers
  record.disposeHandlers = []
  record.disposed = true
  const data = {}
  for (const handler of handlers) {
    try {
      settleLater(handler(data), errors)
    } catch (error) {
      errors.push(error)
    }
  }
  return handlers.length > 0 ? data : undefined
}

/**
 * An async dispose handler is not awaited (an unload is synchronous), but its rejection must not
 * become an unhandled rejection, which ends the process by default: it lands in `errors` (the
 * report's array) when the promise settles. Only real promises are followed: calling `then` of
 * some other returned object would run user code inside the unload.
 */
function settleLater(result, errors) {
  if (isPromise(result) && !isProxy(result)) {
    // The intrinsic `then`: a promise subclass or an own `then` property could be user code.
    Promise.prototype.then.call(result, undefined, (error) => errors.push(error))
  }
}

/**
 * The beforeCut hook of every unload (uncacheTree, invalidate, snapshot restore, reload): runs
 * each module's dispose handlers in the order given, importers before the modules they import,
 * and keeps the data for the next instance of the file. A handler that throws is reported in
 * `report.errors`; the others still run and the unload completes. An instance whose handlers
 * already ran (an old version put back by a failed reload) is not disposed twice, and what it
 * handed over stays for the next instance. Only the instance require.cache holds hands over: a
 * stale copy that an unload meets in some `children` array is disposed, but is not "the
 * previous instance" of its file.
 */
function disposeUnloaded(store, modules, report) {
  for (const m of modules) {
    const record = store.records.get(m)
    if (record !== undefined && record.disposed) continue
    // Neither handlers to run nor data to drop: most modules of a large unload never used hot().
    if (record === undefined && store.pendingData.size === 0) continue
    const current = fields.isCachedInstance(m)
    const data = record === undefined ? undefined : runDisposeHandlers(record, report.errors)
    if (!current) continue
    // Deleted first, so that the newest data is last in the Map's order.
    store.pendingData.delete(m.filename)
    if (data !== undefined) store.pendingData.set(m.filename, data)
  }
  if (store.pendingData.size > PENDING_DATA_LIMIT) trimPendingData(store.pendingData)
}

function resolveDependency(m, request, name) {
  if (typeof request !== 'string') throw invalidArgType(name, 'a string or an array of strings', request)
  if (request === '') throw invalidArgValue(name, request, 'must not be empty')
  if (Module.isBuiltin(request)) throw explain.builtin(request)
  try {
    return Module._resolveFilename(request, m, false)
  } catch (cause) {
    throw explain.unresolved(request, m.filename, cause)
  }
}

/** `deps` of accept/decline as resolved filenames, all resolved before anything is recorded. */
function resolveDependencies(m, deps, name) {
  const list = Array.isArray(deps) ? deps : [deps]
  return list.map((request) => resolveDependency(m, request, name))
}

/** What `hot(module)` returns. */
class Hot {
  #record
  constructor(record) {
    this.#record = record
  }

  /**
   * The object the previous instance's dispose handlers received, or undefined for a first
   * instance (and after an instance that had no dispose handlers).
   */
  get data() {
    return this.#record.data
  }

  /** Runs `handler(data)` just before this module is unloaded, by any unloading function. */
  dispose(handler) {
    if (typeof handler !== 'function') throw invalidArgType('handler', 'a function', handler)
    this.#record.disposeHandlers.push(handler)
  }

  /**
   * `accept()` / `accept(errorHandler)`: this module accepts its own updates (it is unloaded and
   * required again; its importers are not). `accept(deps, callback?)`: updates of these
   * dependencies stop here; `callback(updatedIds)` runs before invalidate() returns.
   */
  accept(deps, callback) {
    const record = this.#record
    if (deps === undefined || typeof deps === 'function') {
      record.selfAccepted = true
      if (typeof deps === 'function') record.selfErrorHandler = deps
      return
    }
    if (typeof deps !== 'string' && !Array.isArray(deps)) {
      throw invalidArgType('deps', 'a string, an array of strings, a function or undefined', deps)
    }
    if (callback !== undefined && typeof callback !== 'function') {
      throw invalidArgType('callback', 'a function', callback)
    }
    for (const file of resolveDependencies(record.module, deps, 'deps')) record.acceptedDeps.set(file, callback)
  }

  /**
   * `decline()`: invalidate() refuses every update that would unload this module.
   * `decline(deps)`: it refuses updates that reach this module through these dependencies.
   */
  decline(deps) {
    const record = this.#record
    if (deps === undefined) {
      record.selfDeclined = true
      return
    }
    if (typeof deps !== 'string' && !Array.isArray(deps)) {
      throw invalidArgType('deps', 'a string, an array of strings or undefined', deps)
    }
    for (const file of resolveDependencies(record.module, deps, 'deps')) record.declinedDeps.add(file)
  }

  /**
   * Passes the update on to this module's importers, as if it had not accepted it (webpack's
   * `module.hot.invalidate()`, Vite's `import.meta.hot.invalidate()`): for a self-accepting module
   * whose new version finds it cannot take over (its exports changed shape). The watchers that
   * watch this module reload it and its importers after the running reload; with none, the module
   * and its importers are invalidated on the next turn, so the next require() loads them anew.
   */
  invalidate() {
    const record = this.#record
    record.bubble = true
    const m = record.module
    // A listener returns true when it watches this module and will reload it.
    let taken = false
    for (const listener of store.invalidateListeners) if (listener(m) === true) taken = true
    if (taken) return
    setImmediate(() => {
      if (!fields.isCachedInstance(m)) return
      require('./invalidate.js').invalidate(m.filename)
    })
  }

  /**
   * Ties a file that is not a module (a template, `.env`, JSON read with `fs`) to this module:
   * watch() and `uncache-tree dev` reload this module when it changes, as they would for an edit
   * of the module itself (Rollup's `addWatchFile`). `file` is a path (relative to this module's
   * directory) or a `file:` URL; returns the absolute path, ready for `fs.readFileSync`. The tie
   * belongs to this instance: the next instance ties its files again when it runs.
   */
  watchFile(file) {
    const record = this.#record
    let absolute
    if (file instanceof URL || (typeof file === 'string' && isUrlLike(file))) {
      absolute = filePathOfUrl(file, 'file')
    } else if (typeof file === 'string') {
      if (file === '') throw invalidArgValue('file', file, 'must not be empty')
      absolute = path.resolve(path.dirname(record.module.filename), file)
    } else {
      throw invalidArgType('file', 'a path or a file: URL', file)
    }
    record.watchFiles.add(absolute)
    return absolute
  }

  get [Symbol.toStringTag]() {
    return 'Hot'
  }
}

/** See index.d.ts. */
function hot(m) {
  if (!isModuleLike(m) || typeof m.filename !== 'string') {
    throw invalidArgType('module', 'a Module object (`module` inside a CommonJS file)', m)
  }
  let record = store.records.get(m)
  if (record === undefined) {
    // An instance already unloaded is not the next one: it gets no data.
    record = new HotRecord(m, isUnloaded(m) ? undefined : store.pendingData.get(m.filename))
    store.records.set(m, record)
    for (const observe of store.creationObservers) observe(m)
  }
  return record.handle
}

/** The hot state of `m`, or undefined when it never called hot(). */
function recordOf(m) {
  return store.records.get(m)
}

/**
 * Starts collecting the modules that get a hot handle from now on; `stop()` ends it and returns
 * them.
 */
function trackCreated() {
  const created = []
  const observe = (m) => created.push(m)
  store.creationObservers.add(observe)
  return {
    stop() {
      store.creationObservers.delete(observe)
      return created
    },
  }
}

/**
 * Runs the dispose handlers of instances that will never be used (they threw while loading), so
 * the timers and listeners they set up before throwing go away. Their data is not handed over:
 * the version that is put back stays the previous instance.
 */
function disposeAbandoned(modules, errors) {
  for (const m of modules) {
    const record = store.records.get(m)
    if (record !== undefined && !record.disposed) runDisposeHandlers(record, errors)
  }
}

/** The data waiting for next instances, to be put back by restoreData after a rollback. */
function saveData() {
  return new Map(store.pendingData)
}

function restoreData(saved) {
  store.pendingData.clear()
  for (const [file, data] of saved) store.pendingData.set(file, data)
}

/** The files `m` tied to itself with hot(m).watchFile(), or an empty list. */
function watchFilesOf(m) {
  const record = store.records.get(m)
  return record === undefined ? [] : [...record.watchFiles]
}

/**
 * Calls `listener(module)` on each hot(module).invalidate(); it returns true when it takes the
 * update (it watches that module). Returns the function that stops it.
 */
function onInvalidate(listener) {
  store.invalidateListeners.add(listener)
  return () => store.invalidateListeners.delete(listener)
}

module.exports = { hot, recordOf, watchFilesOf, onInvalidate, trackCreated, disposeAbandoned, saveData, restoreData, PENDING_DATA_LIMIT }
