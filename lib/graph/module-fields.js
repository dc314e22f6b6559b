'use strict'
// Safe reads of Module fields: every other file reads a module's `children`, `parent` and
// `filename` through these, so that user code (a getter on a mock, a Proxy) never runs inside an
// unload and a malformed entry (`children = null`) reads as empty. Also what the live graph index
// records of a module (`readRefs`), whether a module outside the cache still holds what it lists,
// and require() made through a given module (invalidate and reload require the new code as its
// importers would). Split from live.js, which had five jobs (issue 16, "Why - shape").
const Module = require('node:module')
const { isProxy } = require('node:util').types
const { isModuleLike, ownValue, state } = require('./state.js')
const { isStandIn } = require('./outside-requirers.js')
const { isUnloaded } = require('./dispose.js')
const graphIndex = require('./graph-index.js')


const parentAccessor = Object.getOwnPropertyDescriptor(Module.prototype, 'parent')
const EMPTY = Object.freeze([])

// Every read of a module's fields goes through these three: user code (a getter on a mock, a
// Proxy) never runs inside an unload, and a malformed entry (`children = null`) reads as empty.

/**
 * The recorded first requirer of `m`. For a Module, Node's own slot behind the
 * Module.prototype.parent accessor (a WeakMap in Node 20-26), whatever `m` defines itself; for
 * a mock, its own data property.
 */
function parentOf(m) {
  return isProxy(m) ? ownValue(m, 'parent') : objectParent(m)
}

/** parentOf for a value already known not to be a Proxy (readRefs checks once for both fields). */
function objectParent(m) {
  return m instanceof Module && parentAccessor?.get !== undefined ? parentAccessor.get.call(m) : ownValue(m, 'parent')
}

/**
 * `m.children` when it is an own, real array (not a Proxy), else an empty frozen array. A
 * `children` accessor is never called: what the live graph index recorded for `m` stands for it,
 * as a frozen array (an unwritable reference: the cuts cannot change it, and what it reaches among
 * removed modules is pinned).
 */
function childrenOf(m) {
  const d = Object.getOwnPropertyDescriptor(m, 'children')
  if (d === undefined) return EMPTY
  const children = d.value
  if (Array.isArray(children) && !isProxy(children)) return children
  return d.get !== undefined || d.set !== undefined ? recordedChildren(m) : EMPTY
}

/** What the index recorded `m` as referring to, but its recorded parent, as a frozen array. */
function recordedChildren(m) {
  const index = state.graphIndex
  const objects = graphIndex.recordedTargets(index, Module._cache, m)
  if (objects.length === 0) return EMPTY
  const parent = parentOf(m)
  return Object.freeze(objects.filter((o) => o !== parent))
}

/** `m.filename` when it is an own string, else undefined. */
function filenameOf(m) {
  const filename = ownValue(m, 'filename')
  return typeof filename === 'string' ? filename : undefined
}

/**
 * Whether a module outside require.cache holds what it lists in `children`: only requirers that
 * never loaded as files do (createRequire proxies, the --require preload parent, the REPL); a
 * module other code deleted from the cache, a stand-in for an unloaded module, or an instance
 * whose load threw does not.
 */
function holdsFromOutside(m) {
  return ownValue(m, 'loaded') === false && !isStandIn(m) && !isUnloaded(m)
}

/**
 * Whether `m`, outside require.cache, is a module that other code deleted from it (decache,
 * clear-module, proxyquire): not a requirer that holds, not one of our stand-ins, not an instance
 * whose load threw. Its live importers still hold its old exports, so invalidate climbs through it
 * (the `STALE` flag of src/invalidate.rs).
 */
function isDeletedByOtherCode(m) {
  return isModuleLike(m) && !holdsFromOutside(m) && !isStandIn(m) && !state.abandoned.has(m)
}

/** What the index records of a module: its `children` and recorded parent, read safely. */
function readRefs(m) {
  // The Proxy check made once for both fields (a full read calls this for every module of the
  // app); isModuleLike checks again only for what is not a Module (a mock).
  if (m === null || typeof m !== 'object' || isProxy(m)) return [EMPTY, undefined]
  return m instanceof Module || isModuleLike(m) ? [childrenOf(m), objectParent(m)] : [EMPTY, undefined]
}

graphIndex.useReader(readRefs)

/**
 * require(id) made by `parent` (a Module, cached or not): `parent` becomes the new module's
 * parent and gets it in its `children`, as if its own code had called require().
 */
function requireVia(parent, id) {
  return typeof parent.require === 'function' ? parent.require(id) : Module._load(id, parent, false)
}

/** Whether `m` is the instance require.cache holds for its file (not a stale copy). */
function isCachedInstance(m) {
  const filename = filenameOf(m)
  return filename !== undefined && Module._cache[filename] === m
}

/** require(id) as the file `fromFile` would call it: its cached module, else a createRequire. */
function requireFrom(cache, fromFile, id) {
  const m = cache[fromFile]
  return isModuleLike(m) ? requireVia(m, id) : Module.createRequire(fromFile)(id)
}

module.exports = {
  EMPTY,
  parentOf,
  childrenOf,
  filenameOf,
  holdsFromOutside,
  isDeletedByOtherCode,
  readRefs,
  isCachedInstance,
  requireVia,
  requireFrom,
}
