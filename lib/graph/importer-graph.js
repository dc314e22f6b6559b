'use strict'
// The graph invalidate() and reload() plan on (src/invalidate.rs): the changed modules and every
// module that requires one, transitively, found through the live graph index (graph-index.js)
// instead of a flatten of the whole cache. The native graph answers every importer of the changed
// modules in one call (`ModuleGraph.importers`); each answer is checked against the live
// `children`; the walk goes up through cached modules only (a requirer outside the cache is cut,
// never unloaded, so its own requirers do not matter). The modules those require, and the ones
// that name one of them as parent, join as leaves: their `children` are filtered and their
// `parent` reset when the plan removes one. For reload's `tree` option, `joinTreeGraph` adds the
// graph uncacheTree plans the trees on.
//
// A referrer that other code deleted from the cache counts when a live module still reaches it
// (asked up the index); one that was garbage collected is skipped. It
// returns undefined, and the caller flattens the whole cache (flatten.flattenGraph), when the index
// cannot answer: a referrer it cannot map back at all (made by an older copy of the package), or
// a changed module it never saw. The property-based suite compares the two plans on every
// invalidate and reload.
const { state, isModuleLike } = require('./state.js')
const { outsideRequirers } = require('./outside-requirers.js')
const graphIndex = require('./graph-index.js')
const flatten = require('./flatten.js')
const { rescan } = require('./rescan.js')

const { HOLDER, STALE } = flatten
const { childrenOf, parentOf, filenameOf, holdsFromOutside, isCachedInstance, isDeletedByOtherCode } = require('./module-fields.js')

/**
 * @param {object} cache require.cache
 * @param {unknown[]} roots the changed modules (cache values)
 * @returns the graph in the shape flatten.flattenGraph returns (cached nodes first), or undefined
 */
function flattenImporters(cache, roots) {
  const gi = state.graphIndex
  const epoch = state.loaderEpoch
  // Never read, or read before a loader gap: read now, as uncacheTree's plan does.
  if (gi.readAtEpoch !== epoch || !roots.every((r) => graphIndex.isKnown(gi, r))) {
    rescan(cache)
    if (!roots.every((r) => graphIndex.isKnown(gi, r))) return undefined
  }
  gi.changed = false
  const graph = importersOf(cache, roots, gi)
  if (!gi.changed) return graph
  // A module met under a key the index did not record (moved, or deleted by other code since the
  // last read): read the whole graph once and walk again; still changed, a flatten answers.
  rescan(cache)
  const again = importersOf(cache, roots, gi)
  return gi.changed ? undefined : again
}

/**
 * The referrers of every importer of `roots` (ids), transitively, from one native call: a Map
 * from id to its referrers. A module the walk meets outside it (climbed through a parent
 * reference) is asked of the graph on its own.
 */
class ImporterReferrers {
  constructor(gi, roots) {
    const ids = []
    for (const r of roots) ids.push(gi.ids.get(r))
    const { nodes, offsets, referrers } = gi.graph.importers(graphIndex.takeEdits(gi, [], []), Uint32Array.from(ids))
    this.gi = gi
    this.byId = new Map()
    for (let i = 0; i < nodes.length; i++) this.byId.set(nodes[i], referrers.subarray(offsets[i], offsets[i + 1]))
  }

  of(m) {
    return this.byId.get(this.gi.ids.get(m)) ?? graphIndex.referrersOf(this.gi, [m])
  }
}

/** flattenImporters() on an index that is read (see the file comment). */
function importersOf(cache, roots, gi) {
  const requirers = outsideRequirers()
  const outside = graphIndex.byId(gi, requirers)
  const asked = new ImporterReferrers(gi, roots)
  const nodes = []
  const index = new Map()
  const keyOf = new Map() // node -> its require.cache keys, for cached nodes
  const queue = []
  const walked = new Set()
  // Modules other code deleted from the cache that a live holder still reaches: the walk climbs
  // through them (STALE); other modules outside the cache are only cut.
  const staleImporters = new Set()
  for (const r of roots) {
    if (index.has(r)) continue
    const hit = graphIndex.cachedModule(gi, cache, gi.ids.get(r))
    if (hit === undefined || hit[1] !== r) return undefined // cached under another key
    addNode(nodes, index, r)
    keyOf.set(r, graphIndex.cachedKeys(gi, cache, gi.ids.get(r), r))
    walked.add(r)
    queue.push(r)
  }
  for (let q = 0; q < queue.length; q++) {
    const u = queue[q]
    const referrers = asked.of(u)
    for (let k = 0; k < referrers.length; k++) {
      const object = graphIndex.liveObject(gi, cache, referrers[k], outside)
      if (object === graphIndex.GONE) continue
      if (object === undefined) return undefined // an id of an older copy: only a scan can tell
      const h = object[1]
      if (walked.has(h) || !isModuleLike(h)) continue
      // A module other code deleted from the cache counts when a live module still reaches it
      // (a full flatten reaches it too); otherwise it is garbage not yet collected.
      if (object[0] === null && !reachedFromLive(gi, cache, outside, h, false, asked)) continue
      // A requirer first seen outside the cache (compiled by hand) that was put into it since.
      const hit = typeof object[0] === 'string' ? object : isCachedInstance(h) ? [filenameOf(h), h] : undefined
      const keys = typeof object[0] === 'string' ? graphIndex.cachedKeys(gi, cache, referrers[k], h) : hit !== undefined ? [hit[0]] : undefined
      const imports = childrenOf(h).includes(u)
      if (!imports && parentOf(h) !== u) continue // a stale edge of the index
      if (!index.has(h)) addNode(nodes, index, h)
      if (keys !== undefined && keys.length > 0) keyOf.set(h, keys)
      // An importer in the cache is walked up in turn (one that names u as its parent only, not),
      // and so is one that other code deleted from the cache: its live importers hold its old
      // exports (src/invalidate.rs, STALE).
      const stale = imports && hit === undefined && object[0] === null && isDeletedByOtherCode(h) && reachedFromLive(gi, cache, outside, h, true, asked)
      if (stale) staleImporters.add(h)
      if (imports && (hit !== undefined || stale)) {
        walked.add(h)
        queue.push(h)
      }
    }
  }
  // Requirers outside the cache that list a walked module: the index may not know them (an
  // unloaded module whose frozen `children` could not be cut was forgotten with its edges), and
  // a full flatten cuts them. They are few (outside-requirers.js).
  for (const requirer of requirers) {
    if (index.has(requirer) || !isModuleLike(requirer)) continue
    if (walked.has(parentOf(requirer)) || listsAny(childrenOf(requirer), walked)) addNode(nodes, index, requirer)
  }
  // The modules the walked ones require: leaves, with their keys when cached.
  const found = nodes.length
  for (let i = 0; i < found; i++) {
    if (!isModuleLike(nodes[i])) continue
    for (const child of childrenOf(nodes[i])) {
      if (index.has(child) || !isModuleLike(child)) continue
      addNode(nodes, index, child)
      const id = gi.ids.get(child)
      const hit = id === undefined ? undefined : graphIndex.cachedModule(gi, cache, id)
      if (hit !== undefined && hit[1] === child) keyOf.set(child, graphIndex.cachedKeys(gi, cache, id, child))
    }
  }
  // A leaf's own `children` are not read: one that listed a module the plan removes would be its
  // importer, walked above (a barrel file that an importer requires lists the whole program).
  return toGraph(nodes, keyOf, found < nodes.length ? new Set(nodes.slice(found)) : undefined, staleImporters)
}

// The helpers below are functions, not closures made per call: a closure over this plan's modules
// can outlive it while V8 compiles it in the background (see tree-plan.js TreePlanner).

function addNode(nodes, index, m) {
  index.set(m, nodes.length)
  nodes.push(m)
}

/** Whether `list` has an element of the Set `set`. */
function listsAny(list, set) {
  for (const item of list) if (set.has(item)) return true
  return false
}

/**
 * Whether a cached module or a requirer outside the cache reaches `m` (deleted from the cache)
 * through `children` or `parent`, as a flatten of the whole cache would: up the index's
 * referrers, each checked against the live fields. `holdersOnly`: whether a holder reaches it as
 * flatten.markStale walks (from cached modules and requirers outside the cache that hold, through
 * modules other code deleted from the cache only): then invalidate climbs through `m` (STALE).
 */
function reachedFromLive(gi, cache, outside, m, holdersOnly = false, asked = undefined) {
  const seen = new Set([m])
  const queue = [m]
  for (let q = 0; q < queue.length; q++) {
    const x = queue[q]
    const referrers = asked === undefined ? graphIndex.referrersOf(gi, [x]) : asked.of(x)
    for (let k = 0; k < referrers.length; k++) {
      const object = graphIndex.liveObject(gi, cache, referrers[k], outside)
      if (object === graphIndex.GONE) continue
      if (object === undefined) return true // cannot tell: count it, as a scan might
      const h = object[1]
      if (seen.has(h) || !isModuleLike(h) || !(childrenOf(h).includes(x) || parentOf(h) === x)) continue
      if (typeof object[0] === 'string') return true
      if (!holdersOnly) {
        // Any module a live one reaches is a node of a full flatten.
        if (object[0] === undefined) return true
      } else if (holdsFromOutside(h)) {
        return true
      } else if (!isDeletedByOtherCode(h)) {
        // flatten.markStale's rule: the hold passes only through modules other code deleted from
        // the cache, not through a stand-in or an instance whose load threw (fuzz, seed 20261326).
        continue
      }
      if (object[0] !== null) continue
      seen.add(h)
      queue.push(h)
    }
  }
  return false
}

/**
 * `graph` (the importers) joined with `tree`, the graph uncacheTree plans on for the targets'
 * trees (tree-plan.js), for reload's `tree` option: every holder of a module either removes
 * is a node, so the cuts of the joined plan can be found on it. Edges are read anew among the
 * joined nodes.
 */
function joinTreeGraph(graph, tree) {
  const nodes = [...graph.nodes]
  const keyOf = new Map()
  for (let k = 0; k < graph.keys.length; k++) addKey(keyOf, graph.nodes[graph.keyNode[k]], graph.keys[k])
  const known = new Set(nodes)
  for (const m of tree.nodes) if (!known.has(m)) known.add(m), nodes.push(m)
  // (Modules that other code deleted from the cache, still reached by live ones, that refer to a
  // module the trees remove are among the trees' nodes: the tree plan names every referrer it
  // cuts, found on the live objects, tree-plan.js.)
  for (let k = 0; k < tree.keys.length; k++) addKey(keyOf, tree.nodes[tree.keyNode[k]], tree.keys[k])
  // The importers' leaves stay leaves, unless the trees' graph has them (it has every holder of a
  // module the trees remove).
  let leaves
  if (graph.leaves !== undefined) {
    const inTree = new Set(tree.nodes)
    leaves = new Set()
    for (const m of graph.leaves) if (!inTree.has(m)) leaves.add(m)
  }
  return toGraph(nodes, keyOf, leaves, graph.stale)
}

function addKey(keyOf, m, key) {
  const keys = keyOf.get(m)
  if (keys === undefined) keyOf.set(m, [key])
  else if (!keys.includes(key)) keys.push(key)
}

/**
 * `nodes` as flatten.flattenGraph's graph: cached nodes first, CSR edges among the nodes (none from
 * the `leaves`, whose `children` are not read).
 */
function toGraph(unordered, keyOf, leaves, stale) {
  const nodes = []
  for (const m of unordered) if (keyOf.has(m)) nodes.push(m)
  for (const m of unordered) if (!keyOf.has(m)) nodes.push(m)
  const cachedCount = keyOf.size
  const index = new Map()
  for (let i = 0; i < nodes.length; i++) index.set(nodes[i], i)
  const offsets = new Int32Array(nodes.length + 1)
  const targetList = []
  const parent = new Int32Array(nodes.length).fill(-1)
  const flags = new Uint8Array(nodes.length)
  for (let i = 0; i < nodes.length; i++) {
    offsets[i] = targetList.length
    const m = nodes[i]
    if (!isModuleLike(m)) continue
    if (leaves === undefined || !leaves.has(m)) {
      for (const child of childrenOf(m)) {
        const t = index.get(child)
        if (t !== undefined) targetList.push(t)
      }
    }
    const p = index.get(parentOf(m))
    if (p !== undefined) parent[i] = p
    if (i < cachedCount || holdsFromOutside(m)) flags[i] = HOLDER
    else if (stale?.has(m)) flags[i] = STALE
  }
  offsets[nodes.length] = targetList.length
  // Every key of a cached node (an alias too), the first ones in node order.
  const keys = []
  const keyNode = []
  for (let i = 0; i < cachedCount; i++) keys.push(keyOf.get(nodes[i])[0]), keyNode.push(i)
  for (let i = 0; i < cachedCount; i++) {
    const all = keyOf.get(nodes[i])
    for (let k = 1; k < all.length; k++) keys.push(all[k]), keyNode.push(i)
  }
  return {
    keys,
    keyNode: Int32Array.from(keyNode),
    nodes,
    index,
    cachedCount,
    offsets,
    targets: Int32Array.from(targetList),
    parent,
    flags,
    leaves,
    stale,
  }
}

module.exports = { flattenImporters, joinTreeGraph }
