'use strict'
// The reads of Module fields that every other file goes through (`childrenOf`, `parentOf`,
// `filenameOf`: no user code runs), and the only code that mutates live Module objects,
// require.cache and Module._pathCache (the cuts). The graphs of uncacheTree and invalidate are
// built in tree-graph.js and importer-graph.js from these reads.
//
// `flattenGraph` turns the live module graph into plain data for the native core: node i is a
// Module (or a cache value that is not one, or a requirer outside the cache), with its
// `children` as CSR int arrays, its first parent, and flags. Identity lives in a Map, never on
// the objects: adding and removing properties on Module objects turns them into slow
// dictionary-mode objects on Node >= 22 (docs/napi.md §3.4).
//
// `applyCuts` then cuts every reference Node keeps to the removed modules, in the order and
// with the guarantees of docs/node-internals.md §5 (steps 3-7).
const Module = require('node:module')
const path = require('node:path')
const { isProxy, isModuleNamespaceObject } = require('node:util').types
const registry = require('./registry.js')
const graphIndex = require('./graph-index.js')
const keyOrder = require('./key-order.js')
const { FLAG_HOLDER: HOLDER, FLAG_BOUNDARY: BOUNDARY, FLAG_STALE: STALE } = require('../native.js')

const { isModuleLike, ownValue } = registry

const NODE_MAJOR = Number(process.versions.node.split('.')[0])
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
  if (!isProxy(m) && m instanceof Module && parentAccessor?.get !== undefined) return parentAccessor.get.call(m)
  return ownValue(m, 'parent')
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
  const index = registry.state.graphIndex
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
  return ownValue(m, 'loaded') === false && !registry.isStandIn(m) && !registry.isUnloaded(m)
}

/**
 * Whether `m`, outside require.cache, is a module that other code deleted from it (decache,
 * clear-module, proxyquire): not a requirer that holds, not one of our stand-ins, not an instance
 * whose load threw. Its live importers still hold its old exports, so invalidate climbs through it
 * (the `STALE` flag of src/invalidate.rs).
 */
function isDeletedByOtherCode(m) {
  return isModuleLike(m) && !holdsFromOutside(m) && !registry.isStandIn(m) && !registry.state.abandoned.has(m)
}

/**
 * @param {object} cache require.cache
 * @returns {{ keys: string[], keyNode: Int32Array, nodes: unknown[], index: Map<unknown, number>,
 *   offsets: Int32Array, targets: Int32Array, parent: Int32Array, flags: Uint8Array }}
 */
function flattenGraph(cache) {
  const keys = Object.keys(cache)
  const nodes = []
  const index = new Map()
  const keyNode = new Int32Array(keys.length)
  for (let i = 0; i < keys.length; i++) {
    const value = cache[keys[i]]
    let idx = index.get(value)
    if (idx === undefined) {
      idx = nodes.length
      index.set(value, idx)
      nodes.push(value)
    }
    keyNode[i] = idx
  }
  const cachedCount = nodes.length
  for (const requirer of registry.outsideRequirers()) {
    if (!index.has(requirer)) {
      index.set(requirer, nodes.length)
      nodes.push(requirer)
    }
  }
  const offsetList = []
  const targetList = []
  const parentList = []
  // `nodes` grows while we walk it: children and parents that are not in the cache are appended
  // and walked in turn, so stale edges through them are seen too.
  for (let i = 0; i < nodes.length; i++) {
    offsetList.push(targetList.length)
    const m = nodes[i]
    if (!isModuleLike(m)) {
      parentList.push(-1)
      continue
    }
    const children = childrenOf(m)
    for (let j = 0; j < children.length; j++) {
      const child = children[j]
      let idx = index.get(child)
      if (idx === undefined) {
        if (!isModuleLike(child)) continue
        idx = nodes.length
        index.set(child, idx)
        nodes.push(child)
      }
      targetList.push(idx)
    }
    const parent = parentOf(m)
    let p = -1
    if (isModuleLike(parent)) {
      p = index.get(parent)
      if (p === undefined) {
        p = nodes.length
        index.set(parent, p)
        nodes.push(parent)
      }
    }
    parentList.push(p)
  }
  offsetList.push(targetList.length)

  const flags = new Uint8Array(nodes.length)
  for (let i = 0; i < nodes.length; i++) {
    const m = nodes[i]
    if (!isModuleLike(m)) continue
    // A cached module holds its children. Outside the cache only requirers that never were
    // loaded as files hold (createRequire proxies, preload, REPL: loaded === false); a module
    // that other code deleted from the cache, or a stand-in for an unloaded one, does not.
    if (i < cachedCount) flags[i] = HOLDER
    else if (holdsFromOutside(m)) flags[i] = HOLDER
  }
  markStale(nodes, flags, offsetList, targetList, parentList)
  return {
    keys,
    keyNode,
    nodes,
    index,
    cachedCount,
    offsets: Int32Array.from(offsetList),
    targets: Int32Array.from(targetList),
    parent: Int32Array.from(parentList),
    flags,
  }
}

/**
 * Flags STALE the modules other code deleted from the cache that a holder (a cached module, a
 * requirer outside the cache that holds) reaches through `children` and `parent`: invalidate
 * climbs through them. What only a stand-in or another stale instance reaches is not.
 */
function markStale(nodes, flags, offsets, targets, parent) {
  // From the holders, through the deleted modules they reach (a stand-in reached is no way on).
  // (Plain loops, no closure over the graph's modules: see applyCuts.)
  const queue = []
  for (let i = 0; i < nodes.length; i++) if (flags[i] & HOLDER) queue.push(i)
  for (let q = 0; q < queue.length; q++) {
    const i = queue[q]
    const end = offsets[i + 1]
    for (let e = offsets[i]; e <= end; e++) {
      // The targets of i, then (e === end) its parent.
      const t = e < end ? targets[e] : parent[i]
      if (t < 0 || flags[t] !== 0 || !isDeletedByOtherCode(nodes[t])) continue
      flags[t] = STALE
      queue.push(t)
    }
  }
}

/** What the index records of a module: its `children` and recorded parent, read safely. */
function readRefs(m) {
  return isModuleLike(m) ? [childrenOf(m), parentOf(m)] : [EMPTY, undefined]
}

graphIndex.useReader(readRefs)

/**
 * Reads the whole live graph into the index (graph-index.js): every cached module and every
 * requirer outside the cache. Returns its size.
 */
function rescan(cache, { paths = false } = {}) {
  // The _pathCache index only for the public rescan(): the registry notices the gaps of its
  // _findPath wrapper itself, and only entries made by hand need a read.
  if (paths) registry.reindexPaths()
  const live = registry.state.graphIndex
  graphIndex.rebuild(live, cache, registry.outsideRequirers(), readRefs, registry.state.loaderEpoch)
  // The public rescan(): keys moved or made by hand get their place in the key order (a reload's
  // rollback uses it; see key-order.js). The index's own reads do not pay for it.
  if (paths) keyOrder.rankAll(cache)
  return graphIndex.stats(live)
}

/** The modules of `graph` at `indices` (plain loops: no closure over the graph, see applyCuts). */
function nodesAt(graph, indices) {
  const out = []
  for (let k = 0; k < indices.length; k++) out.push(graph.nodes[indices[k]])
  return out
}

/** The node indices of `modules` in `graph`, as the native planner takes them. */
function indicesOf(graph, modules) {
  const out = new Uint32Array(modules.length)
  for (let k = 0; k < modules.length; k++) out[k] = graph.index.get(modules[k])
  return out
}

/** The name a report uses for node i: its require.cache key, else its filename or id. */
function nodeIds(graph) {
  const ids = new Array(graph.nodes.length)
  for (let k = graph.keys.length - 1; k >= 0; k--) ids[graph.keyNode[k]] = graph.keys[k]
  for (let i = 0; i < ids.length; i++) {
    if (ids[i] !== undefined) continue
    const m = graph.nodes[i]
    const id = isModuleLike(m) ? filenameOf(m) || ownValue(m, 'id') : undefined
    ids[i] = typeof id === 'string' && id !== '' ? id : '<unknown requirer>'
  }
  return ids
}

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
 * the index the registry keeps as Node makes entries (registry.pathCacheKeysOf).
 */
function stalePathCacheKeys(filenames) {
  return registry.pathCacheKeysOf(filenames)
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
// tree-ancestors.js AncestorSearch), and keep every removed module with it.

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
 * changed: then, when `pins` (its owner is live), what it still lists among them is unwritable.
 */
function cutChildren(m, start, pins, removed, unwritable, write) {
  const children = childrenOf(m)
  const first = firstDropped(children, removed, start)
  if (first < 0) return
  if (!isRewritable(children, first)) {
    if (pins) for (const child of children) if (removed.has(child)) unwritable.add(child)
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
 * @returns {{ keys: string[], values: unknown[], unwritable: Set<unknown>, pathCacheEntries: number }}
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
    if (isModuleLike(m)) cutChildren(m, cutFrom === undefined ? 0 : cutFrom[k], isHolder(graph, i), removedObjects, unwritable, write)
  }
  for (const m of lateRequirers) if (!removedObjects.has(m) && isModuleLike(m)) cutChildren(m, 0, true, removedObjects, unwritable, write)
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
  if (write) registry.forgetPaths(forgottenFiles, forgottenKeys)
  return { keys, values, unwritable, pathCacheEntries }
}

// ---- snapshot restore: the same graph and cuts, over only what was loaded since ----

/** How many children `m` has now: the mark after which a snapshot's new edges will sit. */
function childCount(m) {
  return isModuleLike(m) ? childrenOf(m).length : 0
}

/**
 * The graph a snapshot restore plans on, in the shape `flattenGraph` returns, but built from
 * what a snapshot recorded instead of from the whole cache, so its cost follows what was loaded
 * since:
 * - nodes [0, cachedCount): the modules loaded since that are still cached under the key they
 *   were loaded with (`loaded`, [key, module] in load order); their edges are the children
 *   among these nodes.
 * - nodes [cachedCount, n): the other modules that required something since (`requirers`,
 *   [module, start]): modules loaded before, createRequire proxies, stand-ins. Node appends
 *   to `children` only, so their edges to new modules sit at or after `start`
 *   (`cutFrom[node]`); only that tail is read and later cut.
 * Every edge to a new module was added by a require() made since, which went through
 * `Module._load` with its requirer, so these requirers are all the modules that can hold a new
 * one (a module loaded before cannot have a new module as its recorded parent either).
 * `detached` (optional): modules of `loaded` that other code dropped from the cache after they
 * loaded (proxyquire's and rewire's copies). They are nodes with the key they loaded with, and
 * applyCuts lists them in `removed` without deleting that key (it may hold another module now).
 */
function flattenSince(cache, loaded, requirers, detached = undefined) {
  const keys = []
  const nodes = []
  const index = new Map()
  for (const [key, m] of loaded) {
    if ((cache[key] !== m && detached?.has(m) !== true) || index.has(m)) continue
    index.set(m, nodes.length)
    nodes.push(m)
    keys.push(key)
  }
  const cachedCount = nodes.length
  const starts = []
  for (const [m, start] of requirers) {
    if (index.has(m) || !isModuleLike(m)) continue
    index.set(m, nodes.length)
    nodes.push(m)
    starts.push(start)
  }
  const n = nodes.length
  const offsets = new Int32Array(n + 1)
  const targetList = []
  const parent = new Int32Array(n).fill(-1)
  const cutFrom = new Int32Array(n)
  for (let i = 0; i < n; i++) {
    offsets[i] = targetList.length
    const m = nodes[i]
    const children = isModuleLike(m) ? childrenOf(m) : EMPTY
    const from = i < cachedCount ? 0 : Math.min(starts[i - cachedCount], children.length)
    cutFrom[i] = from
    for (let j = from; j < children.length; j++) {
      const t = index.get(children[j])
      if (t !== undefined && t < cachedCount) targetList.push(t)
    }
    const p = index.get(parentOf(m))
    if (p !== undefined) parent[i] = p
  }
  offsets[n] = targetList.length
  // Live nodes hold (their locked references pin); a recorded requirer that was unloaded since
  // does not, though its edges are cut like any other.
  const flags = new Uint8Array(n)
  for (let i = 0; i < n; i++) {
    const m = nodes[i]
    if (i < cachedCount || isCachedInstance(m) || holdsFromOutside(m)) flags[i] = HOLDER
  }
  return {
    keys,
    keyNode: Int32Array.from(keys, (_, k) => k),
    nodes,
    index,
    cachedCount,
    offsets,
    targets: Int32Array.from(targetList),
    parent,
    flags,
    cutFrom,
    detached,
  }
}

// ---- reload rollback: what the cuts change, kept to be put back ----

/**
 * Everything `applyCuts` is about to change for `plan`, taken before dispose handlers run, so
 * that `restoreCuts` can put it back exactly: the `children` arrays it filters or empties (their
 * contents; the arrays keep their identity), the parent pointers it resets, the Module._pathCache
 * entries it drops, the removed require.cache entries and where their keys sit in the key order:
 * their ranks (key-order.js), so that a reload costs what it removes, not the cache size. When a
 * removed key has no rank (the first reload of a process, a key made by hand since the last full
 * read), the whole key order is read instead (`keys`) and ranked for the next time. From now
 * until `stop()`, it also records the modules that load (the failed attempt's, to be unloaded)
 * and the length of each requirer's `children` before its first require (what it requires is
 * appended, and dropped again at the rollback).
 * @param {{ keys: string[], values: unknown[] }} entries the removed require.cache entries
 */
function captureCuts(cache, graph, plan, staleKeys, entries) {
  const children = new Map()
  const parents = new Map()
  for (const i of plan.cutChildrenOf) {
    const m = graph.nodes[i]
    if (isModuleLike(m)) children.set(m, childrenOf(m).slice())
  }
  for (const i of plan.resetParentOf) parents.set(graph.nodes[i], parentOf(graph.nodes[i]))
  for (const i of plan.removed) {
    const m = graph.nodes[i]
    if (!isModuleLike(m)) continue
    children.set(m, childrenOf(m).slice())
    parents.set(m, parentOf(m))
  }
  const pathCache = Module._pathCache
  const pathEntries = staleKeys.map((key) => [key, pathCache[key]])
  const removed = new Map()
  for (let e = 0; e < entries.keys.length; e++) removed.set(entries.keys[e], entries.values[e])
  const loaded = new Map() // module -> the key it loaded under
  const grown = new Map() // requirer -> its children's length before its first require
  const pathKeysAdded = new Set() // Module._pathCache keys the attempt makes
  const stops = [
    registry.on('load', (m, key) => {
      loaded.set(m, key)
      // A Module made without Module._load (rewire) was appended to its parent's `children`
      // with no require() seen.
      const parent = parentOf(m)
      if (isModuleLike(parent) && !grown.has(parent) && !children.has(parent)) {
        const at = childrenOf(parent).lastIndexOf(m)
        grown.set(parent, at >= 0 ? at : childrenOf(parent).length)
      }
    }),
    registry.on('require', (parent) => {
      if (grown.has(parent) || children.has(parent)) return
      grown.set(parent, childrenOf(parent).length)
    }),
    registry.on('resolve', (key) => pathKeysAdded.add(key)),
  ]
  const rankList = keyOrder.ranksOf(entries.keys, entries.values)
  const ranks = rankList === undefined ? undefined : new Map(entries.keys.map((key, e) => [key, rankList[e]]))
  const keys = ranks === undefined ? keyOrder.rankAll(cache) : undefined
  // Without the whole key list, which modules were cached before the attempt is known for the
  // ones the cuts touch: a rollback puts back an entry the attempt emptied only for one of these
  // (not a copy other code had deleted from the cache before the reload).
  let cachedBefore
  if (ranks !== undefined) {
    cachedBefore = new WeakSet()
    for (const items of children.values()) for (const m of items) if (isModuleLike(m) && isCachedInstance(m)) cachedBefore.add(m)
    for (const m of parents.values()) if (isModuleLike(m) && isCachedInstance(m)) cachedBefore.add(m)
  }
  const since = keyOrder.nextRank()
  keyOrder.captureOpen(true)
  let open = true
  const stop = () => {
    if (!open) return
    open = false
    for (const off of stops) off()
    keyOrder.captureOpen(false)
  }
  return { keys, ranks, since, cachedBefore, removed, children, parents, pathEntries, loaded, grown, pathKeysAdded, stop }
}

/**
 * The modules that held the keys a failed attempt emptied or filled anew (`lost`: code that
 * deleted a shared module's entry and required it again), key -> module. The capture does not
 * read every value (that costs as much again as the key order, on every reload): a module that
 * lost its entry is found where it is still referenced, in the captured `children` and parents,
 * and in the `children` of the cached modules and the requirers outside the cache. Only a
 * rollback that meets such a key pays it.
 */
function replacedEntries(cache, capture, currentKeys, lost) {
  const found = new Map()
  for (const items of capture.children.values()) for (const m of items) considerReplaced(m, lost, capture, found)
  for (const m of capture.parents.values()) considerReplaced(m, lost, capture, found)
  for (const key of currentKeys) {
    const holder = cache[key]
    if (isModuleLike(holder)) for (const m of childrenOf(holder)) considerReplaced(m, lost, capture, found)
  }
  for (const holder of registry.outsideRequirers()) for (const m of childrenOf(holder)) considerReplaced(m, lost, capture, found)
  return found
}

/** Keeps `m` in `found` when it is a module of before the attempt that lost its key. */
function considerReplaced(m, lost, capture, found) {
  if (!isModuleLike(m) || capture.loaded.has(m) || registry.state.abandoned.has(m)) return
  if (capture.cachedBefore !== undefined && !capture.cachedBefore.has(m)) return
  const filename = filenameOf(m)
  if (filename !== undefined && lost.has(filename) && !found.has(filename)) found.set(filename, m)
}

/**
 * Before a rollback unloads what the failed attempt loaded (reload.js): the keys the attempt put
 * into require.cache, to be gone after the rollback. With ranks (see captureCuts): the keys of the
 * modules it loaded, and the keys with no rank after the first of them (made by hand meanwhile:
 * keys are appended, so a key made before the attempt sits before every key it inserted). Reads
 * every key: a rollback costs the cache size, a reload that succeeds does not.
 */
function noteAttemptKeys(cache, capture) {
  if (capture.keys !== undefined) return
  const made = new Set()
  let started = false
  for (const key of Object.keys(cache)) {
    const value = cache[key]
    const rank = keyOrder.rankOf(key, value)
    const loadedNow = capture.loaded.has(value) || (rank !== undefined && rank >= capture.since)
    if (loadedNow) started = true
    if (loadedNow || (started && rank === undefined && !capture.removed.has(key))) made.add(key)
  }
  capture.made = made
}

/**
 * The key order and values require.cache had before the attempt, from the whole order the capture
 * read (`capture.keys`): `[keys, values]`, values[k] undefined for an entry that stays deleted.
 */
function capturedOrder(cache, capture, current) {
  const { keys, removed } = capture
  const values = new Array(keys.length)
  let lost // key -> its index in `keys`, for the entries the attempt emptied or filled anew
  for (let k = 0; k < keys.length; k++) {
    const key = keys[k]
    if (removed.has(key)) values[k] = removed.get(key)
    else {
      const value = cache[key]
      if (value === undefined || capture.loaded.has(value)) (lost ??= new Map()).set(key, k)
      else values[k] = value
    }
  }
  if (lost !== undefined) for (const [key, m] of replacedEntries(cache, capture, current, lost)) values[lost.get(key)] = m
  return [keys, values]
}

/**
 * The same from the ranks the capture took (key-order.js): the keys that stay, in their order now,
 * with the removed keys, and the keys the attempt emptied or filled anew (a shared module its code
 * deleted and required again), placed back by rank. Keys the attempt made are left out
 * (noteAttemptKeys).
 */
function rankedOrder(cache, capture, current) {
  const { removed, ranks } = capture
  const made = capture.made ?? new Set()
  const kept = []
  const keptValues = []
  let lost
  for (const key of current) {
    if (removed.has(key)) continue
    const value = cache[key]
    if (made.has(key) || capture.loaded.has(value)) (lost ??= new Map()).set(key, true)
    else kept.push(key), keptValues.push(value)
  }
  for (const key of made) if (!removed.has(key) && cache[key] === undefined) (lost ??= new Map()).set(key, true)
  const byKey = new Map(removed)
  const placed = []
  for (const [key] of removed) placed.push([key, ranks.get(key)])
  if (lost !== undefined) {
    for (const [key, m] of replacedEntries(cache, capture, current, lost)) {
      byKey.set(key, m)
      placed.push([key, keyOrder.rankOf(key, m)])
    }
  }
  const keys = keyOrder.placeRemoved(kept, keptValues, placed)
  return [keys, keys.map((key) => (byKey.has(key) ? byKey.get(key) : cache[key]))]
}

/**
 * Puts back what `captureCuts` recorded, after the modules loaded since have been unloaded:
 * require.cache gets the keys, values and key order it had (`Object.keys` compares equal element
 * by element; with ranks, see key-order.js for keys made by hand), every `children` array its
 * elements, every reset parent its value, Module._pathCache its dropped entries. A module that
 * required something while the cuts were in place (a survivor's lazy require) loses what that
 * appended. Reads every key of the cache: only a failed reload pays that.
 */
function restoreCuts(cache, capture) {
  const { removed } = capture
  const current = Object.keys(cache)
  const [keys, values] = capture.keys !== undefined ? capturedOrder(cache, capture, current) : rankedOrder(cache, capture, current)
  let same = 0
  while (same < current.length && same < keys.length && current[same] === keys[same] && cache[keys[same]] === values[same]) same++
  // Keys keep insertion order: re-adding the tail from the first difference restores it, each
  // with the value it had (a shared module that the failed code replaced is put back too).
  for (let k = same; k < current.length; k++) delete cache[current[k]]
  for (let k = same; k < keys.length; k++) if (values[k] !== undefined) cache[keys[k]] = values[k]
  // The last key inserted is now the last restored one (snapshot marks rely on it).
  if (same < current.length || same < keys.length) registry.noteInserted(keys.at(-1), true)

  for (const [m, items] of capture.children) replaceContents(childrenOf(m), items)
  for (const [m, length] of capture.grown) {
    if (capture.children.has(m) || capture.loaded.has(m) || !isModuleLike(m)) continue
    const now = childrenOf(m)
    if (now.length > length && isRewritable(now, length)) now.length = length
  }
  for (const [m, parent] of capture.parents) if (parentOf(m) !== parent) setParent(m, parent)
  // The modules put back, and those whose children changed, are known to the live graph index
  // again, with their edges.
  const keyOf = new Map()
  for (const [key, value] of removed) if (!keyOf.has(value)) keyOf.set(value, key)
  const gi = registry.state.graphIndex
  const changed = new Set([...capture.children.keys(), ...capture.parents.keys(), ...capture.grown.keys()])
  for (const m of capture.loaded.keys()) changed.delete(m)
  const known = [...changed].filter((m) => isModuleLike(m))
  // (A module compiled by hand and put into the cache later was recorded without its key.)
  const keyFor = (m) =>
    keyOf.get(m) ?? graphIndex.cachedModule(gi, cache, gi.ids.get(m))?.[0] ?? (isCachedInstance(m) ? filenameOf(m) : '')
  graphIndex.reread(gi, known, keyFor, readRefs)
  // A module put back under several keys keeps them all (aliases).
  for (const [key, value] of removed) {
    const id = gi.ids.get(value)
    if (id !== undefined && gi.keys.has(id) && gi.keys.get(id) !== key) graphIndex.addAlias(gi, id, key)
  }
  const pathCache = Module._pathCache
  // The entries the attempt made go (a failed attempt resolved new requests), then the ones the
  // cuts and the rollback's unload dropped come back.
  const forgottenFiles = []
  const forgottenKeys = []
  for (const key of capture.pathKeysAdded) {
    const filename = pathCache[key]
    try {
      if (delete pathCache[key]) forgottenFiles.push(filename), forgottenKeys.push(key)
    } catch {
      // A locked _pathCache keeps it: it names a file, never a module.
    }
  }
  registry.forgetPaths(forgottenFiles, forgottenKeys)
  for (const [key, value] of capture.pathEntries) {
    try {
      pathCache[key] = value
      registry.rememberPath(value, key)
    } catch {
      // A locked _pathCache: the entry was not deleted either (applyCuts), nothing to put back.
    }
  }
}

/**
 * Replaces the contents of `array` by `items`, keeping the array object. An array that already
 * holds them is not written (a locked one was never cut, so it is unchanged).
 */
function replaceContents(array, items) {
  if (array.length === items.length && items.every((item, k) => array[k] === item)) return
  if (!isRewritable(array, 0) || !Object.isExtensible(array)) return
  array.length = items.length
  for (let k = 0; k < items.length; k++) array[k] = items[k]
}

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
  HOLDER,
  BOUNDARY,
  STALE,
  isDeletedByOtherCode,
  rescan,
  readRefs,
  holdsFromOutside,
  childrenOf,
  filenameOf,
  parentOf,
  flattenGraph,
  nodeIds,
  nodesAt,
  indicesOf,
  pinnedBy,
  lastParentSlotExists,
  stalePathCacheKeys,
  applyCuts,
  filterInPlace,
  captureCuts,
  noteAttemptKeys,
  restoreCuts,
  requireVia,
  requireFrom,
  isCachedInstance,
  childCount,
  flattenSince,
}
