'use strict'
// The code that cuts live Module objects, require.cache and Module._pathCache (rollback.js puts
// back what a failed reload's cuts changed, with the helpers exported here): `applyCuts`
// cuts every reference Node keeps to the removed modules, in the order and with the guarantees of
// docs/node-internals.md §5 (steps 3-7), checking writability as it goes so that it never throws
// or leaves a reference half-changed; a dry run makes the same checks without writing. Also what
// Node itself still pins of a removed module (`pinnedBy`), the `_pathCache` entries of removed
// files, and the in-place array filter and parent reset a snapshot restore and a rollback share.
const Module = require('node:module')
const { isProxy, isModuleNamespaceObject } = require('node:util').types
const { forgetPaths, pathCacheKeysOf } = require('./path-cache.js')
const { isModuleLike, ownValue } = require('./state.js')
const { FLAG_HOLDER: HOLDER } = require('../native.js')
const { EMPTY, childrenOf, parentOf, filenameOf } = require('./module-fields.js')


const NODE_MAJOR = Number(process.versions.node.split('.')[0])
const parentAccessor = Object.getOwnPropertyDescriptor(Module.prototype, 'parent')

// Node marks every Module with a regular symbol `kIsCachedByESMLoader` (true when the ESM loader
// made the cache entry). Found once by description, it is then one property read per module;
// the symbols of a module are listed only when its exports look like an ES module, to find
// require(esm) wrappers (`kRequiredModuleSymbol`). Listing every module's symbols cost about 0.5 us each.
let esmLoaderSymbol

function findEsmLoaderSymbol(m) {
  for (const symbol of Object.getOwnPropertySymbols(m)) {
    if (symbol.description === 'kIsCachedByESMLoader') return symbol
  }
  return undefined
}

/**
 * Whether `exports` may be what require(esm) returns: the module namespace, or a facade object
 * with an `__esModule` property. Looked at through descriptors only: a module's exports can be
 * anything (a Proxy that throws on every trap, a getter that throws) and must not run.
 */
function mayBeRequiredEsm(exports) {
  if (exports === null || typeof exports !== 'object' || isProxy(exports)) return false
  if (isModuleNamespaceObject(exports)) return true
  // hasOwn first: no descriptor object for the common case, where there is no __esModule.
  if (!Object.hasOwn(exports, '__esModule')) return false
  const d = Object.getOwnPropertyDescriptor(exports, '__esModule')
  return d.value === true || d.get !== undefined
}

/** Why Node still holds a removed module's old instance, or undefined. */
function pinnedBy(m) {
  if (isProxy(m) || !(m instanceof Module)) return undefined
  if (esmLoaderSymbol === undefined) {
    esmLoaderSymbol = findEsmLoaderSymbol(m)
    if (esmLoaderSymbol === undefined) return undefined // not a Node Module (a mock)
  }
  // Node's own private symbol: no user code defines an accessor under it.
  const byEsmLoader = m[esmLoaderSymbol] === true
  if (mayBeRequiredEsm(ownValue(m, 'exports'))) {
    for (const symbol of Object.getOwnPropertySymbols(m)) {
      if (symbol.description === 'kRequiredModuleSymbol') return 'require-esm'
    }
  }
  return byEsmLoader ? 'esm-loader' : undefined
}

/** On Node >= 22 a survivor's private last-parent slot keeps a removed parent alive. */
const lastParentSlotExists = NODE_MAJOR >= 22

/**
 * Whether `array` can be rewritten in place from index `start` on and shortened: a real array,
 * `length` writable, every element from `start` a writable, configurable data property. A frozen
 * or sealed array (or one with a locked element) fails this before anything is written, so a
 * cut never leaves an array half-filtered.
 */
function isRewritable(array, start) {
  if (isProxy(array) || !Object.getOwnPropertyDescriptor(array, 'length').writable) return false
  for (let k = start; k < array.length; k++) {
    const d = Object.getOwnPropertyDescriptor(array, k)
    if (d !== undefined && (!d.writable || !d.configurable)) return false
  }
  return true
}

/**
 * Filters `array` in place in one pass, dropping the elements in `drop`. Elements before
 * `start` are not looked at (a snapshot restore knows that only a `children` tail can hold
 * modules loaded since, and a long `children` array must not cost it anything). Returns false,
 * changing nothing, when the array cannot be changed.
 */
function filterInPlace(array, drop, start = 0) {
  let first = start
  while (first < array.length && !drop.has(array[first])) first++
  if (first === array.length) return true
  if (!isRewritable(array, first)) return false
  let write = first
  for (let read = first; read < array.length; read++) {
    const item = array[read]
    if (!drop.has(item)) array[write++] = item
  }
  array.length = write
  return true
}

/**
 * Module._pathCache entries whose resolved filename is in `filenames`: O(filenames), through
 * the index path-cache.js keeps as Node makes entries (pathCacheKeysOf).
 */
function stalePathCacheKeys(filenames) {
  return pathCacheKeysOf(filenames)
}

/**
 * Whether setParent(m, value) can leave no reference to the old parent: a Module's own slot
 * always takes the value (Node's accessor, even on a frozen module); an own `parent` property
 * that shadows it must be a writable data property (a setter would be user code), or already
 * hold the value.
 */
function canSetParent(m, value) {
  return settable(m, Object.getOwnPropertyDescriptor(m, 'parent'), value)
}

/** canSetParent() from `m`'s own `parent` descriptor (read once by the caller). */
function settable(m, own, value) {
  if (own === undefined) return !isProxy(m) && m instanceof Module
  if (!('value' in own)) return false
  return own.writable || own.value === value
}

/** Sets the recorded parent of `m` (see canSetParent); returns false where it could not. */
function setParent(m, value) {
  const own = Object.getOwnPropertyDescriptor(m, 'parent')
  if (!isProxy(m) && m instanceof Module && parentAccessor?.set !== undefined) parentAccessor.set.call(m, value)
  if (own !== undefined && 'value' in own && own.writable) m.parent = value
  return settable(m, own, value)
}

/** The index of the first element of `array` at or after `start` that is in `drop`, or -1. */
function firstDropped(array, drop, start) {
  for (let k = start; k < array.length; k++) if (drop.has(array[k])) return k
  return -1
}

// The helpers of applyCuts are functions and a class, not closures made per call: a closure over
// the plan's graph can outlive the unload while V8 compiles it in the background (see
// tree-plan.js TreePlanner), and keep every removed module with it.

/** The objects whose node in `index` is marked in `mark`: a Set without a Set per module. */
class MarkedSet {
  constructor(index, mark) {
    this.index = index
    this.mark = mark
  }

  has(item) {
    return this.mark[this.index.get(item)] === 1
  }
}

const isHolder = (graph, i) => (graph.flags[i] & HOLDER) !== 0

/**
 * Drops the `removed` modules from `m.children` from index `start` on, unless the array cannot be
 * changed: then what it still lists among them is `uncut` and, when `pins` (its owner is live),
 * unwritable too. (A stale owner pins nothing by itself, but a live module may still reach it: the
 * live graph must keep its edge, fuzz seed 20261210.)
 */
function cutChildren(m, start, pins, removed, { unwritable, uncut }, write) {
  const children = childrenOf(m)
  const first = firstDropped(children, removed, start)
  if (first < 0) return
  if (!isRewritable(children, first)) {
    for (const child of children) {
      if (!removed.has(child)) continue
      uncut.add(child)
      if (pins) unwritable.add(child)
    }
  } else if (write) {
    filterInPlace(children, removed, first)
  }
}

/**
 * The removed cache values by their filename (or key), for the _pathCache entries that stay: every
 * removed module of a file (a copy moved to another key and a newer one loaded since share it).
 */
function removedByFilename(entries) {
  const map = new Map()
  for (let e = 0; e < entries.keys.length; e++) {
    const value = entries.values[e]
    const file = (isModuleLike(value) && filenameOf(value)) || entries.keys[e]
    const list = map.get(file)
    if (list === undefined) map.set(file, [value])
    else if (!list.includes(value)) list.push(value)
  }
  return map
}

/**
 * Cuts every reference Node keeps to the removed nodes (`write`), or only finds out what could
 * not be cut (a dry run: the same checks, no change). It checks identity and writability as it
 * goes, so it never throws and never leaves a reference half-changed:
 * - a require.cache key is deleted only while it still holds the object the plan was made for
 *   (a dispose handler may have loaded a fresh module under it);
 * - a `children` array or `parent` that cannot be changed is left whole, and when its owner is
 *   live (a holder) the removed modules it still reaches (directly, or through removed modules
 *   whose own fields are locked too) are returned as `unwritable`;
 * - `lateRequirers` (modules that required something while dispose handlers ran) lose their
 *   edges to removed modules like any survivor.
 * The removed modules that some `children` still lists after the cuts, live owner or not, are
 * returned as `uncut` (the live graph keeps those edges).
 * @returns {{ keys: string[], values: unknown[], unwritable: Set<unknown>, uncut: Set<unknown>, pathCacheEntries: number }}
 */
function applyCuts(cache, graph, plan, entries, staleKeys, { lateRequirers = [], write = true } = {}) {
  // "Is this child removed?" through the identity index the graph already has, instead of a
  // Set of every removed object (one allocation per removed module on a whole-graph unload).
  const removedMark = new Uint8Array(graph.nodes.length)
  for (const i of plan.removed) removedMark[i] = 1
  const removedObjects = new MarkedSet(graph.index, removedMark)
  const keys = []
  const values = []
  const unwritable = new Set()
  const uncut = new Set()
  const refs = { unwritable, uncut }
  for (let e = 0; e < entries.keys.length; e++) {
    const key = entries.keys[e]
    const value = entries.values[e]
    if (cache[key] !== value) {
      // A module other code dropped from the cache before the plan (graph.detached, a snapshot
      // restore's): listed under the key it loaded with, which is not ours to delete.
      if (graph.detached?.has(value) !== true) continue
      keys.push(key)
      values.push(value)
      continue
    }
    // A locked require.cache entry stays, reported as pinned. (Strict-mode `delete` throws for it;
    // a dry run asks the descriptor instead.)
    if (!write) {
      if (Object.getOwnPropertyDescriptor(cache, key)?.configurable === false) unwritable.add(value)
    } else {
      try {
        delete cache[key]
      } catch {
        unwritable.add(value)
      }
    }
    keys.push(key)
    values.push(value)
  }
  // `cutChildrenFrom` (optional, one start index per cutChildrenOf entry) limits a cut to the
  // part of `children` that can hold removed modules.
  const cutFrom = plan.cutChildrenFrom
  for (let k = 0; k < plan.cutChildrenOf.length; k++) {
    const i = plan.cutChildrenOf[k]
    const m = graph.nodes[i]
    if (isModuleLike(m)) cutChildren(m, cutFrom === undefined ? 0 : cutFrom[k], isHolder(graph, i), removedObjects, refs, write)
  }
  for (const m of lateRequirers) if (!removedObjects.has(m) && isModuleLike(m)) cutChildren(m, 0, true, removedObjects, refs, write)
  for (const i of plan.resetParentOf) {
    const m = graph.nodes[i]
    const old = graph.nodes[graph.parent[i]]
    if (parentOf(m) !== old) continue
    if (!(write ? setParent(m, undefined) : canSetParent(m, undefined)) && isHolder(graph, i)) unwritable.add(old)
  }
  // Hygiene on the removed modules themselves: what they still point at only matters when one
  // of them stays reachable, and then it is part of what that one pins.
  const locked = new Map()
  for (const i of plan.removed) {
    const m = graph.nodes[i]
    if (!isModuleLike(m)) continue
    const children = childrenOf(m)
    const reach = []
    if (children.length > 0) {
      if (!write) {
        if (!isRewritable(children, 0)) reach.push(...children)
      } else {
        // One write instead of a check per element: a removed module's own array may end up
        // partly emptied (a locked element stops the shrinking), and what is left is what it
        // still reaches.
        try {
          children.length = 0
        } catch {
          reach.push(...children)
        }
      }
    }
    const parent = parentOf(m)
    if (parent !== undefined && parent !== null) {
      if (!(write ? setParent(m, undefined) : canSetParent(m, undefined))) reach.push(parent)
    }
    if (reach.length > 0) locked.set(m, reach)
  }
  if (unwritable.size > 0 && locked.size > 0) {
    for (const m of unwritable) {
      for (const next of locked.get(m) ?? []) if (removedObjects.has(next)) unwritable.add(next)
    }
  }
  let pathCacheEntries = 0
  const pathCache = Module._pathCache
  const forgottenFiles = []
  const forgottenKeys = []
  let byFilename
  for (const key of staleKeys) {
    // A locked entry (a frozen _pathCache) holds a filename string, not a module, but it is a
    // reference Node keeps that could not be cut: the removed module of that file is listed as
    // pinned (unwritable), as API.md's Robustness section asks.
    const filename = pathCache[key]
    let locked = false
    if (!write) {
      locked = Object.getOwnPropertyDescriptor(pathCache, key)?.configurable === false
    } else {
      try {
        delete pathCache[key]
      } catch {
        locked = true
      }
    }
    if (locked) {
      byFilename ??= removedByFilename(entries)
      for (const value of byFilename.get(filename) ?? EMPTY) unwritable.add(value)
      continue
    }
    forgottenFiles.push(filename)
    forgottenKeys.push(key)
    pathCacheEntries++
  }
  if (write) forgetPaths(forgottenFiles, forgottenKeys)
  return { keys, values, unwritable, uncut, pathCacheEntries }
}

module.exports = { applyCuts, pinnedBy, lastParentSlotExists, stalePathCacheKeys, filterInPlace, isRewritable, setParent }
