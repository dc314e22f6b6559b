'use strict'
// The live module graph as plain data for the native core. `flattenGraph` reads the whole cache:
// node i is a Module (or a cache value that is not one, or a requirer outside the cache), with its
// `children` as CSR int arrays, its first parent, and flags; it is the fallback when the live
// graph index cannot answer (and the planner the benchmarks and the fuzz suite compare with).
// `flattenSince` builds the same shape from only what a snapshot recorded (a restore, a failed
// reload's unload of what its attempt loaded), so its cost follows what was loaded since.
// Identity lives in a Map, never on the objects: adding and removing properties on Module objects
// turns them into slow dictionary-mode objects on Node >= 22 (docs/napi.md §3.4).
const { isModuleLike, ownValue } = require('./state.js')
const { outsideRequirers } = require('./outside-requirers.js')
const { FLAG_HOLDER: HOLDER, FLAG_BOUNDARY: BOUNDARY, FLAG_STALE: STALE } = require('../native.js')
const { EMPTY, childrenOf, parentOf, filenameOf, holdsFromOutside, isDeletedByOtherCode, isCachedInstance } = require('./module-fields.js')


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
  for (const requirer of outsideRequirers()) {
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

module.exports = { HOLDER, BOUNDARY, STALE, flattenGraph, flattenSince, childCount, nodeIds, nodesAt, indicesOf }
