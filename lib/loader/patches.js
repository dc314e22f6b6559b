'use strict'
// The loader patches: wrappers of `Module._load`, `Module.prototype.require`,
// `Module.prototype.load` and `Module._findPath`, installed, checked, re-installed and removed
// here only (`install`, `uninstall`). Every copy of the package shares one set of them through
// the process-wide state (lib/graph/state.js): the wrappers and the functions they replaced are
// fields of it.
//
// What only a loader patch can see:
// 1. Requirers that are not in require.cache (createRequire proxies, the `internal/preload`
//    parent of --require modules, the REPL, vm loaders) hold modules through their `children`,
//    yet no walk of require.cache finds them. The `_load` wrapper records each one
//    (lib/graph/outside-requirers.js).
// 2. On Node >= 22 a new Module records its first requirer in a private slot
//    (`kLastModuleParent`) that nothing can clear. The `_load` wrapper hands requires made by an
//    unloaded (or dying) module a small stand-in parent instead (lib/graph/outside-requirers.js).
// 3. Which modules are loading *now*: `loaded === false` is also true of modules compiled by
//    hand (`new Module` + `_compile`), which never finish "loading". The `load` wrapper keeps
//    the set of modules whose `Module.prototype.load` is running.
// 4. Which Module._pathCache keys name a file: the `Module._findPath` wrapper indexes each entry
//    Node makes (lib/graph/path-cache.js).
// 5. Edges no Node wrapper of ours saw (the `Module.prototype.require` wrapper): a require() that
//    appended to the requirer's `children` without our `_load` wrapper recording it (another
//    library called Node's own `_load` around ours) is a loader gap; one that another library
//    answered from its own cache (require-in-the-middle) gets the `children` entry Node gives
//    every require().
// Each wrapper calls the hooks registered for it (lib/graph/hooks.js) and records the edges of the
// live graph index (lib/graph/graph-index.js).
const Module = require('node:module')
const { isProxy } = require('node:util').types

const graphIndex = require('../graph/graph-index.js')
const { state, index, isModuleLike, ownValue } = require('../graph/state.js')
const { isUnloaded } = require('../graph/dispose.js')
const { recordRequirer, standInFor } = require('../graph/outside-requirers.js')
const { indexPath, pathCacheKey, hasPathCacheEntry } = require('../graph/path-cache.js')

// Node's `parent` accessor on Module.prototype: the load wrapper reads a new module's parent
// through it (a module's own `parent` data property otherwise).
const parentAccessor = Object.getOwnPropertyDescriptor(Module.prototype, 'parent')
// How many of the keys Node inserted last a snapshot marks (state.recentKeys).
const RECENT_KEYS = 8

/** Notes that Node inserted `key` into require.cache last (`reset`: it is the only one known). */
function noteInserted(key, reset = false) {
  state.lastLoadedKey = key
  if (reset) state.recentKeys = key === undefined ? [] : [key]
  else {
    state.recentKeys.push(key)
    if (state.recentKeys.length > RECENT_KEYS) state.recentKeys.shift()
  }
}

/**
 * `Module._load`: records requirers outside the cache, hands requires made by unloaded modules a
 * stand-in parent, calls the `require` hooks, and records the `children` entries a require() adds.
 */
function wrapLoad(originalLoad) {
  return function uncacheTreeLoad(request, parent, isMain) {
    state.loadCalls++
    if (!isModuleLike(parent)) return originalLoad.call(this, request, parent, isMain)
    let key = ''
    const filename = ownValue(parent, 'filename')
    // The common case first, in one read: a requirer cached under its filename that is not being
    // unloaded now (isUnloaded reads `loaded` too).
    if (Module._cache[filename] === parent && (state.dying === null || !state.dying.has(parent)) && !state.abandoned.has(parent)) {
      key = filename
    } else if (isUnloaded(parent)) parent = standInFor(parent)
    else recordRequirer(parent)
    if (state.requireObservers.size > 0) {
      for (const observe of state.requireObservers) observe(parent, request)
    }
    // What this require() appends to the requirer's `children` is an edge of the live graph
    // (recorded once the index was read: until then the plan that reads it reads everything),
    // and, inside a require(), what the require() wrapper checks it against (wrapRequire).
    if (index.readAtEpoch < 0 && state.requireDepth === 0) return originalLoad.call(this, request, parent, isMain)
    const children = ownValue(parent, 'children')
    const before = Array.isArray(children) && !isProxy(children) ? children.length : -1
    const result = originalLoad.call(this, request, parent, isMain)
    if (before >= 0 && children.length > before) {
      if (index.readAtEpoch >= 0) graphIndex.noteChildren(index, parent, children, before, key)
      if (state.requireDepth > 0) {
        state.notedChildren = children
        state.notedLength = children.length
      }
    }
    return result
  }
}

/**
 * `Module.prototype.require`, which every require() of module code goes through: after the call,
 * what it appended to `this.children` must have been recorded by the `_load` wrapper. When it was
 * not, another library ran Node's own `_load` around ours: a loader gap (`loaderEpoch`), so that
 * the next plan reads the graph anew and a snapshot restores by a full scan. When nothing was
 * appended and no `_load` ran at all, another library answered from its own cache
 * (require-in-the-middle): the requirer holds that module all the same (heldWithoutEdge).
 */
function wrapRequire(originalRequire) {
  return function uncacheTreeRequire(id) {
    const children = isModuleLike(this) ? ownValue(this, 'children') : undefined
    if (!Array.isArray(children) || isProxy(children)) return originalRequire.apply(this, arguments)
    const before = children.length
    const calls = state.loadCalls
    let result
    state.requireDepth++
    try {
      result = originalRequire.apply(this, arguments)
    } finally {
      state.requireDepth--
    }
    const noted = state.notedChildren === children && state.notedLength === children.length
    state.notedChildren = null
    if (children.length > before) {
      if (!noted) state.loaderEpoch++
    } else if (state.loadCalls === calls) {
      heldWithoutEdge(this, id, children, result)
    }
    return result
  }
}

/**
 * A require() of `id` by `parent` that no `_load` ran for returned `result`: when that is the
 * exports of a cached module (or the value another library cached on it, as require-in-the-middle
 * does under its own symbol), `parent` gets the `children` entry Node would have made, recorded
 * like one (and seen by snapshot recorders first). A mock that another library returned instead
 * of the module is not that module's exports: no entry.
 */
function heldWithoutEdge(parent, id, children, result) {
  if (typeof id !== 'string' || Module.isBuiltin(id)) return
  let filename
  try {
    filename = Module._resolveFilename(id, parent, false)
  } catch {
    return
  }
  const m = Module._cache[filename]
  if (!isModuleLike(m) || m === parent || children.includes(m) || !exportsOf(m, result)) return
  if (!Object.isExtensible(children) || Object.isFrozen(children)) return
  if (state.requireObservers.size > 0) {
    for (const observe of state.requireObservers) observe(parent, id)
  }
  children.push(m)
  if (index.readAtEpoch >= 0) {
    const key = Module._cache[ownValue(parent, 'filename')] === parent ? ownValue(parent, 'filename') : ''
    graphIndex.noteChildren(index, parent, children, children.length - 1, key)
  }
}

/** Whether `value` is what `m` exports, or a value another library cached on `m` (own symbol). */
function exportsOf(m, value) {
  if (ownValue(m, 'exports') === value) return true
  for (const symbol of Object.getOwnPropertySymbols(m)) {
    if (Object.getOwnPropertyDescriptor(m, symbol)?.value === value) return true
  }
  return false
}

/**
 * `Module.prototype.load`: the key Node inserted last, the main module, each new module's parent
 * for the index, the `load` hooks, and which modules are loading now (or were abandoned).
 */
function wrapModuleLoad(originalModuleLoad) {
  return function uncacheTreeModuleLoad(filename) {
    noteInserted(filename)
    // The main module, for a copy loaded by a preload (see mainModule).
    if (state.mainModule === undefined && ownValue(this, 'id') === '.') state.mainModule = this
    if (index.readAtEpoch >= 0) {
      const parent = parentAccessor?.get !== undefined ? parentAccessor.get.call(this) : ownValue(this, 'parent')
      graphIndex.noteLoad(index, this, filename, parent, Module._cache)
    }
    if (state.loadObservers.size > 0) {
      for (const notify of state.loadObservers) notify(this, filename)
    }
    state.loading.add(this)
    try {
      return originalModuleLoad.call(this, filename)
    } catch (error) {
      // Node drops an instance whose load threw from the cache: it is never live again, and a
      // stale edge to it must not make it count as a requirer that holds (or pins). The live graph
      // index keeps it: it may still be reachable (a requirer's `children`), and its edges must be
      // cut like any stale module's.
      state.abandoned.add(this)
      graphIndex.noteAbandoned(index, this)
      throw error
    } finally {
      state.loading.delete(this)
    }
  }
}

/** `Module._findPath`: indexes each `_pathCache` entry Node makes, and calls the `resolve` hooks. */
function wrapFindPath(originalFindPath) {
  return function uncacheTreeFindPath(request, paths) {
    // A reload's capture asks which entries its attempt adds (to drop them at a rollback).
    const observed = state.resolveObservers.size > 0 && typeof request === 'string' ? pathCacheKey(request, paths) : undefined
    const isNew = observed !== undefined && !hasPathCacheEntry(observed)
    const filename = originalFindPath.apply(this, arguments)
    // Node's own key (the same on Node 20-26): the request, then the lookup paths, which are
    // [''] for an absolute request. Node caches every path it finds under it; whether the entry
    // is there is not checked here (pathCacheKeysOf checks each key against _pathCache when it is
    // used).
    if (typeof filename === 'string' && typeof request === 'string' && state.indexedPathCache === Module._pathCache) {
      const key = observed ?? pathCacheKey(request, paths)
      // Asked for its side effect only: Node has just stored the entry under its own copy of this
      // key, and asking for it by ours makes V8 turn ours into a reference to that copy. So the
      // index keeps no second copy of each key, nor the directory string it was made of: 3.5-4.4
      // MB less heap at 30k modules, and about two thirds of the collector's work on the index, for
      // about a point of code (benchmark/README.md, "What the 11 points are made of"). hasOwn
      // runs no getter.
      Object.hasOwn(Module._pathCache, key)
      indexPath(filename, key)
    }
    if (isNew && typeof filename === 'string' && hasPathCacheEntry(observed)) {
      for (const observe of state.resolveObservers) observe(observed, filename)
    }
    return filename
  }
}

/** The files of the stack frames now: the modules whose top-level code is running. */
function filesOnStack() {
  const savedPrepare = Error.prepareStackTrace
  const savedLimit = Error.stackTraceLimit
  const holder = {}
  try {
    Error.prepareStackTrace = (_, callSites) => callSites
    Error.stackTraceLimit = Infinity
    Error.captureStackTrace(holder, filesOnStack)
    const frames = Array.isArray(holder.stack) ? holder.stack : []
    return new Set(frames.map((frame) => frame.getFileName()).filter(Boolean))
  } finally {
    Error.prepareStackTrace = savedPrepare
    Error.stackTraceLimit = savedLimit
  }
}

/**
 * Installs both wrappers on first use, and re-installs the one that other code replaced or
 * restored since (mock-require's stopAll() puts back the `_load` it found). Returns true when a
 * wrapper had to be re-installed: requires or loads made meanwhile were not seen, and a caller
 * that relies on what was recorded must scan instead (snapshot restore).
 */
function install() {
  let replaced = false
  if (state.loadWrapper === null) {
    // Modules loading now (the one that required this package, its requirers) were entered
    // before the load wrapper existed.
    const onStack = filesOnStack()
    const keys = Object.keys(Module._cache)
    for (const key of keys) {
      const m = Module._cache[key]
      if (!isProxy(m) && m instanceof Module && m.loaded === false && onStack.has(m.filename)) state.loadingAtInstall.add(m)
    }
    if (state.lastLoadedKey === undefined) noteInserted(keys.at(-1), true)
  }
  if (Module._load !== state.loadWrapper) {
    replaced = state.loadWrapper !== null
    state.originalLoad = Module._load
    state.loadWrapper = wrapLoad(Module._load)
    Module._load = state.loadWrapper
  }
  let loadsUnseen = false
  if (Module.prototype.load !== state.moduleLoadWrapper) {
    loadsUnseen = state.moduleLoadWrapper !== null
    replaced ||= loadsUnseen
    state.originalModuleLoad = Module.prototype.load
    state.moduleLoadWrapper = wrapModuleLoad(Module.prototype.load)
    Module.prototype.load = state.moduleLoadWrapper
  }
  if (typeof Module.prototype.require === 'function' && Module.prototype.require !== state.requireWrapper) {
    // (Not a gap by itself: requires through another library's wrapper still reach Node's
    // `_load`, and ours.)
    state.originalRequire = Module.prototype.require
    state.requireWrapper = wrapRequire(Module.prototype.require)
    Module.prototype.require = state.requireWrapper
  }
  if (typeof Module._findPath === 'function' && Module._findPath !== state.findPathWrapper) {
    // Entries made while another _findPath ran were not indexed: rebuild at next use.
    state.indexedPathCache = null
    state.originalFindPath = Module._findPath
    state.findPathWrapper = wrapFindPath(Module._findPath)
    Module._findPath = state.findPathWrapper
  }
  // The _pathCache index is built at its first use (pathCacheKeysOf): until an unload needs it,
  // the _findPath wrapper indexes nothing.
  if (replaced) state.loaderEpoch++
  if (loadsUnseen) {
    for (const catchUp of state.loadGapListeners) catchUp()
    // The last key Node inserted is no longer the last one we saw load: one scan sets it right.
    noteInserted(Object.keys(Module._cache).at(-1), true)
  } else {
    renewMarks()
  }
  return replaced
}

/** Tells the load recorders that there is no gap now (after an install, and after every unload). */
function renewMarks() {
  for (const remark of state.loadGapListeners) remark(false)
}

/**
 * Puts back the loader functions the wrappers replaced, where the wrappers are still in place
 * (others' patches on top of ours are left alone). The next install() finds them replaced, as
 * after another library's put-back: the loads it did not see are caught up and the live graph
 * index is read anew.
 */
function uninstall() {
  if (state.loadWrapper !== null && Module._load === state.loadWrapper) Module._load = state.originalLoad
  if (state.moduleLoadWrapper !== null && Module.prototype.load === state.moduleLoadWrapper) {
    Module.prototype.load = state.originalModuleLoad
  }
  if (state.findPathWrapper !== null && Module._findPath === state.findPathWrapper) Module._findPath = state.originalFindPath
  if (state.requireWrapper !== null && Module.prototype.require === state.requireWrapper) Module.prototype.require = state.originalRequire
}

module.exports = { install, uninstall, noteInserted, renewMarks }
