'use strict'
// The graph one uncacheTree() plans on: the part of the live module graph that can change the
// plan, flattened into an edge list for the native planner (src/graph.rs `plan_unload`).
//
// Two ways to build it, same plan (the property-based suite compares them on every call):
// - `byIndex` (the default): the removed modules, the modules they require directly, and every
//   live module the live graph index (graph-index.js) names as referring to them, each checked
//   against its live `children` and `parent`. The removed modules are decided without walking
//   the closure, by climbing holders (tree-ancestors.js); when that gives up, the closure is
//   walked (`walk`) and decided backwards through its own edges (`decideRemoved`). Cost: the
//   removed modules, what they require directly, and those modules' holders; not the cache size.
// - `byScan`: walk the whole forward closure, then read every cached module for holders. Used
//   for trees that are a large part of the graph (one pass costs less than asking for most
//   modules' referrers), for the first plan that finds the index unread, when a module stays
//   unknown to the index after a read, and by tests.
const registry = require('./registry.js')
const graphIndex = require('./graph-index.js')
const live = { ...require('./module-fields.js'), ...require('./flatten.js'), ...require('./rescan.js') }

const { isModuleLike } = registry
const { HOLDER, BOUNDARY, childrenOf, parentOf, filenameOf, holdsFromOutside } = live
const { FLAG_KEEPS: KEEPS } = require('../native.js')
const { decideByAncestors } = require('./tree-ancestors.js')

/** A tree graph under construction: nodes with flags, edges, recorded parents, cache keys. */
class TreeBuilder {
  constructor() {
    this.nodes = []
    this.index = new Map()
    this.flags = []
    this.parents = [] // parentOf(node), read once, resolved to indices at the end
    this.from = []
    this.to = []
    this.keys = []
    this.keyNodes = []
    this.reasons = new Map()
  }

  add(m, flag) {
    this.index.set(m, this.nodes.length)
    this.nodes.push(m)
    this.flags.push(flag)
    this.parents.push(undefined)
    return this.nodes.length - 1
  }

  /** A child of a walked node seen for the first time: a boundary, or a node to decide on. */
  addChild(cache, child, keep) {
    const reason = boundaryReason(cache, child, keep)
    const t = this.add(child, reason === undefined ? 0 : BOUNDARY)
    if (reason !== undefined) this.reasons.set(t, reason)
    return t
  }

  /** Edges from `m` (node i, which stays) into nodes [0, limit), and its parent. */
  scanOutside(i, m, limit) {
    const children = childrenOf(m)
    for (let j = 0; j < children.length; j++) {
      const t = this.index.get(children[j])
      if (t !== undefined && t < limit) {
        this.from.push(i)
        this.to.push(t)
      }
    }
    this.parents[i] = parentOf(m)
  }

  /**
   * Adds `m` (with `flag`) and its edges into nodes [0, limit) when it lists one of them in
   * `children` or names one as its parent, in one read of its `children`; returns its index, or
   * -1 when it refers to none (nothing is added).
   */
  addIfRefers(m, flag, limit) {
    const start = this.to.length
    const children = childrenOf(m)
    for (let j = 0; j < children.length; j++) {
      const t = this.index.get(children[j])
      if (t !== undefined && t < limit) this.to.push(t)
    }
    const parent = parentOf(m)
    const p = this.index.get(parent)
    if (this.to.length === start && !(p !== undefined && p < limit)) return -1
    const i = this.add(m, flag)
    for (let k = start; k < this.to.length; k++) this.from.push(i)
    this.parents[i] = parent
    return i
  }

  /**
   * Node i is `hit[1]`, cached under `hit[0]` (graphIndex.cachedModule): that key and every alias
   * the index knows that still holds it.
   */
  addKeys(gi, cache, i, hit) {
    for (const key of graphIndex.cachedKeys(gi, cache, gi.ids.get(hit[1]), hit[1])) {
      this.keys.push(key)
      this.keyNodes.push(i)
    }
  }

  /** Adds the requirers outside the cache that refer to nodes [0, limit). */
  addOutsideRequirers(limit) {
    for (const requirer of registry.outsideRequirers()) {
      if (this.index.has(requirer)) continue
      const i = this.addIfRefers(requirer, 0, limit)
      if (i >= 0 && holdsFromOutside(requirer)) this.flags[i] = HOLDER
    }
  }

  /** The graph: a cached tree module holds its children; parents become indices; keep by key. */
  finish(roots, keep, treeSize, cached) {
    const { nodes, index } = this
    const n = nodes.length
    const flags = Uint8Array.from(this.flags)
    for (let i = 0; i < treeSize; i++) {
      if (cached[i] === 1 && isModuleLike(nodes[i])) flags[i] |= HOLDER
    }
    const parent = new Int32Array(n)
    for (let i = 0; i < n; i++) {
      const p = this.parents[i] === undefined ? undefined : index.get(this.parents[i])
      parent[i] = p === undefined ? -1 : p
    }
    const graph = {
      keys: this.keys,
      keyNode: Int32Array.from(this.keyNodes),
      nodes,
      index,
      cachedCount: 0, // nodes are not ordered cached-first here
      from: Int32Array.from(this.from),
      to: Int32Array.from(this.to),
      parent,
      flags,
      reasons: this.reasons,
    }
    graph.ids = live.nodeIds(graph)
    // The keep option on modules cached under a key that is not their filename: only known now.
    if (keep !== undefined) {
      const rootNodes = new Set()
      for (const r of roots) rootNodes.add(index.get(r))
      for (let i = 0; i < treeSize; i++) {
        if (rootNodes.has(i) || flags[i] & BOUNDARY || cached[i] === 0) continue
        if (graph.ids[i] !== filenameOf(nodes[i]) && keep(graph.ids[i])) {
          flags[i] |= BOUNDARY
          this.reasons.set(i, 'kept-by-option')
        }
      }
    }
    return graph
  }
}

/**
 * Why `m`, met in a tree, is never unloaded or walked, or undefined. The keep option is tested
 * here on the usual key (the filename); modules cached under other keys are tested later.
 */
function boundaryReason(cache, m, keep) {
  if (m === registry.mainModule()) return 'main'
  const filename = filenameOf(m)
  if (filename !== undefined && filename.endsWith('.node')) return 'native-addon'
  if (registry.isLoading(m)) return 'loading'
  if (keep !== undefined && filename !== undefined && cache[filename] === m && keep(filename)) return 'kept-by-option'
  return undefined
}

/**
 * The forward closure of the roots, walked over `children` (not into boundaries), as a
 * TreeBuilder with its edges. The edges of node i are `b.to[edgeStart[i] .. edgeStart[i + 1])`
 * (nodes are walked in order); `childIndices` lists them per node, made only when the index
 * plans (a closure planned by one pass over the cache, a whole graph, never needs them).
 */
class WalkedClosure {
  constructor(b, edgeStart) {
    this.b = b
    this.edgeStart = edgeStart
    this.lists = undefined
  }

  get childIndices() {
    if (this.lists === undefined) {
      const { b, edgeStart } = this
      this.lists = []
      for (let i = 0; i < b.nodes.length; i++) this.lists.push(b.to.slice(edgeStart[i], edgeStart[i + 1]))
    }
    return this.lists
  }

  /**
   * Whether a module that the index `gi` has never fully seen was met (its holders cannot be
   * asked of the index).
   */
  unknown(gi) {
    for (const m of this.b.nodes) if (!graphIndex.isKnown(gi, m)) return true
    return false
  }
}

/** The WalkedClosure of `roots` (boundaries met are nodes, flagged, and not walked into). */
function walk(cache, roots, keep) {
  const b = new TreeBuilder()
  const edgeStart = []
  for (const r of roots) {
    if (b.index.has(r)) continue
    b.add(r, 0)
  }
  for (let i = 0; i < b.nodes.length; i++) {
    edgeStart.push(b.to.length)
    const m = b.nodes[i]
    if (b.flags[i] & BOUNDARY || !isModuleLike(m)) continue
    b.parents[i] = parentOf(m)
    const children = childrenOf(m)
    for (let j = 0; j < children.length; j++) {
      const child = children[j]
      let t = b.index.get(child)
      if (t === undefined) {
        if (!isModuleLike(child)) continue
        t = b.addChild(cache, child, keep)
      }
      b.from.push(i)
      b.to.push(t)
    }
  }
  edgeStart.push(b.to.length)
  return new WalkedClosure(b, edgeStart)
}

/**
 * The walked closure, then one pass over the cache for every module that refers to it. A holder
 * that touches none of the tree cannot change the plan, so only those are indexed.
 */
function byScan(cache, roots, keep, { b } = walk(cache, roots, keep)) {
  const treeSize = b.nodes.length
  for (let i = 0; i < treeSize; i++) {
    if (b.flags[i] & BOUNDARY && isModuleLike(b.nodes[i])) b.scanOutside(i, b.nodes[i], treeSize)
  }
  const cached = new Uint8Array(treeSize)
  const cacheKeys = Object.keys(cache)
  for (let k = 0; k < cacheKeys.length; k++) {
    const key = cacheKeys[k]
    const value = cache[key]
    let i = b.index.get(value)
    if (i === undefined) {
      if (!isModuleLike(value)) continue
      i = b.addIfRefers(value, HOLDER, treeSize)
      if (i < 0) continue
    } else if (i < treeSize) {
      cached[i] = 1
    }
    b.keys.push(key)
    b.keyNodes.push(i)
  }
  b.addOutsideRequirers(treeSize)
  return b.finish(roots, keep, treeSize, cached)
}

/**
 * The removed modules of an uncacheTree with shared: 'keep', roots first, deciding only the
 * modules the removed ones require: a module stays when a live module outside the closure holds
 * it, or a module of the closure that stays does (asked backwards through the index, each holder
 * checked against its live `children`).
 */
function decideRemoved(cache, closure, rootCount, gi) {
  return new ClosureDecision(cache, closure, rootCount, gi).removedOrder()
}

/**
 * decideRemoved's state, with its steps as methods: no closure made per call keeps the closure's
 * modules (see tree-ancestors.js `AncestorSearch`).
 */
class ClosureDecision {
  constructor(cache, closure, rootCount, gi) {
    this.cache = cache
    this.b = closure.b
    this.childIndices = closure.childIndices
    this.rootCount = rootCount
    this.gi = gi
    this.outside = graphIndex.byId(gi, registry.outsideRequirers().filter(holdsFromOutside))
    this.holders = new Map()
    const n = this.b.nodes.length
    // Who requires whom inside the closure, backwards (every module of it counts, cached or not:
    // a module that other code deleted from the cache but a kept module still lists is in use).
    this.preds = []
    for (let i = 0; i < n; i++) this.preds.push([])
    for (let i = 0; i < n; i++) for (const c of this.childIndices[i]) this.preds[c].push(i)
    // 1: stays, 2: goes (nothing outside the closure reaches it through modules that stay).
    this.status = new Uint8Array(n)
  }

  /** The live modules whose `children` list node i (checked against the live arrays). */
  holdersOf(i) {
    let list = this.holders.get(i)
    if (list !== undefined) return list
    list = []
    const m = this.b.nodes[i]
    const referrers = graphIndex.referrersOf(this.gi, [m])
    for (let r = 0; r < referrers.length; r++) {
      // (A module other code deleted from the cache is no holder here: one of the closure is
      // among `preds`, and one outside it does not hold.)
      const hit = graphIndex.liveObject(this.gi, this.cache, referrers[r], this.outside)
      const h = hit === undefined || hit[0] === null ? undefined : hit[1]
      if (h !== undefined && isModuleLike(h) && childrenOf(h).includes(m)) list.push(h)
    }
    this.holders.set(i, list)
    return list
  }

  /** Whether a live module outside the closure (or a boundary, which stays) holds node y. */
  heldFromOutside(y) {
    for (const h of this.holdersOf(y)) {
      const hi = this.b.index.get(h)
      if (hi === undefined || (this.b.flags[hi] & BOUNDARY) !== 0) return true
    }
    return false
  }

  /** Whether node x stays: backwards through the closure, to a module held from outside. */
  decide(x) {
    const { status, preds, rootCount } = this
    const seen = [x]
    const seenSet = new Set(seen)
    for (let k = 0; k < seen.length; k++) {
      const y = seen[k]
      if (status[y] === 1 || this.heldFromOutside(y)) {
        status[x] = 1
        return
      }
      for (const p of preds[y]) {
        if (p < rootCount || status[p] === 2 || seenSet.has(p)) continue
        seenSet.add(p)
        seen.push(p)
      }
    }
    // Every way back from these stays inside the closure and reaches no module that stays.
    for (const i of seen) status[i] = 2
  }

  /** The removed nodes, roots first, each after a removed module that requires it. */
  removedOrder() {
    const { b, childIndices, status, rootCount } = this
    const removed = new Uint8Array(b.nodes.length)
    const order = []
    for (let r = 0; r < rootCount; r++) {
      removed[r] = 1
      order.push(r)
    }
    for (let k = 0; k < order.length; k++) {
      for (const c of childIndices[order[k]]) {
        if (removed[c] === 1 || b.flags[c] & BOUNDARY) continue
        if (status[c] === 0) this.decide(c)
        if (status[c] === 2) {
          removed[c] = 1
          order.push(c)
        }
      }
    }
    return order
  }
}

/**
 * The graph for the native planner from the index (see the file comment): the removed modules,
 * the modules and boundaries they require directly, and the holders of both.
 */
function byIndex(cache, roots, keep, removeShared, gi, closure, removedOrder) {
  const { b: walk, childIndices } = closure
  const rootCount = walk.nodes.length > 0 ? new Set(roots).size : 0
  // With shared: 'remove' every module of the closure goes but what boundaries keep: the plan
  // needs the whole closure. With 'keep', only the removed modules and what they require.
  let members
  if (removeShared) {
    members = walk.nodes.map((_, i) => i)
  } else {
    const order = removedOrder ?? decideRemoved(cache, closure, rootCount, gi)
    const inGraph = new Uint8Array(walk.nodes.length)
    members = []
    for (const i of order) {
      if (inGraph[i] === 0) (inGraph[i] = 1), members.push(i)
      for (const c of childIndices[i]) if (inGraph[c] === 0) (inGraph[c] = 1), members.push(c)
    }
  }
  // The graph: those nodes with the edges among them (walked children, and what a module that
  // stays lists), their keys, then every module outside that refers to them.
  const b = new TreeBuilder()
  for (const i of members) {
    b.add(walk.nodes[i], walk.flags[i])
    if (walk.reasons.has(i)) b.reasons.set(b.nodes.length - 1, walk.reasons.get(i))
  }
  const treeSize = b.nodes.length
  const cached = new Uint8Array(treeSize)
  const asked = []
  for (let t = 0; t < treeSize; t++) {
    const m = b.nodes[t]
    const w = walk.index.get(m)
    const walkedChildren = childIndices[w]
    if (walkedChildren.length > 0 && (removeShared || allIn(b.index, walk.nodes, walkedChildren))) {
      b.parents[t] = parentOf(m)
      for (const c of walkedChildren) {
        const target = b.index.get(walk.nodes[c])
        if (target !== undefined) {
          b.from.push(t)
          b.to.push(target)
        }
      }
    } else if (isModuleLike(m)) {
      b.scanOutside(t, m, treeSize)
    }
    const hit = graphIndex.cachedModule(gi, cache, gi.ids.get(m))
    if (hit !== undefined && hit[1] === m) {
      cached[t] = 1
      b.addKeys(gi, cache, t, hit)
    }
    if ((b.flags[t] & BOUNDARY) === 0) asked.push(m)
  }
  // Modules of the closure left out stay (the removed ones are all in): they keep what they list
  // (KEEPS, when not a live holder: deleted from the cache by other code, still listed by a module
  // that stays), and lose their edges to removed modules. Boundaries left out hold when cached.
  for (let w = 0; w < walk.nodes.length; w++) {
    const m = walk.nodes[w]
    if (b.index.has(m) || !isModuleLike(m)) continue
    const i = b.addIfRefers(m, 0, treeSize)
    if (i < 0) continue
    const hit = graphIndex.cachedModule(gi, cache, gi.ids.get(m))
    const isCached = hit !== undefined && hit[1] === m
    b.flags[i] = isCached ? HOLDER : walk.flags[w] & BOUNDARY ? 0 : KEEPS
    if (isCached) b.addKeys(gi, cache, i, hit)
  }
  const referrers = graphIndex.referrersOf(gi, asked)
  for (let r = 0; r < referrers.length; r++) {
    const hit = graphIndex.cachedModule(gi, cache, referrers[r])
    if (hit === undefined) continue
    const value = hit[1]
    if (b.index.has(value) || !isModuleLike(value)) continue
    const i = b.addIfRefers(value, HOLDER, treeSize)
    if (i < 0) continue
    b.addKeys(gi, cache, i, hit)
  }
  b.addOutsideRequirers(treeSize)
  return b.finish(roots, keep, treeSize, cached)
}

/**
 * The graph uncacheTree() plans on (see the file comment). `fullScan` forces `byScan`.
 * @param {object} cache require.cache
 * @param {unknown[]} roots the target modules (cache values), never boundaries
 * @param {{ keep?: (id: string) => boolean, removeShared?: boolean, fullScan?: boolean }} options
 */
function flattenTree(cache, roots, { keep, removeShared = false, fullScan = false } = {}) {
  const gi = registry.state.graphIndex
  if (fullScan) return counted('scan', byScan(cache, roots, keep))
  gi.changed = false
  const graph = fromIndex(cache, roots, keep, removeShared, gi)
  if (!gi.changed) return graph
  // A module met under a key the index did not record (moved to another key, or deleted from the
  // cache by other code since the last read): read the whole graph once and plan again, so that
  // the plan is the one a full scan makes (graph-index.js, `changed`).
  live.rescan(cache)
  const again = fromIndex(cache, roots, keep, removeShared, gi)
  return gi.changed ? counted('scan', byScan(cache, roots, keep)) : again
}

/** flattenTree() through the index (see the file comment). */
function fromIndex(cache, roots, keep, removeShared, gi) {
  // First without walking the closure (tree-ancestors.js). It gives up on trees that are a large
  // part of the graph (one pass over the cache is cheaper), and where the index cannot map a
  // referrer back to a live module; then the closure is walked.
  if (!removeShared && gi.readAtEpoch >= 0 && gi.readAtEpoch === registry.state.loaderEpoch) {
    let decided = decideByAncestors(cache, roots, keep, new TreeBuilder(), boundaryReason, ancestorBudget(gi), largeSize(gi.keys.size))
    if (decided?.unknown) {
      // A module the index never fully saw (put into the cache by hand): read everything once.
      live.rescan(cache)
      decided = decideByAncestors(cache, roots, keep, new TreeBuilder(), boundaryReason, ancestorBudget(gi), largeSize(gi.keys.size))
    }
    if (decided !== undefined && !decided.unknown) {
      return counted('ancestors', byIndex(cache, roots, keep, false, gi, decided.closure, decided.order))
    }
    planPaths.gaveUp++
  }
  let closure = walk(cache, roots, keep)
  // A closure that is a large part of the graph has most modules as holders: one pass over the
  // cache costs less than asking the index for each (benchmark/unload.js, whole graph), and the
  // index need not be read for it.
  // (Until the index is first read, its size is not the graph's: count the cache once.)
  const graphSize = gi.readAtEpoch >= 0 ? gi.keys.size : Object.keys(cache).length
  if (isLarge(closure, graphSize)) return counted('scan', byScan(cache, roots, keep, closure))
  const epoch = registry.state.loaderEpoch
  // Never read, or read before a loader gap: the first plan scans, the next reads (shouldRead).
  const stale = gi.readAtEpoch !== epoch
  if (stale && !graphIndex.shouldRead(gi, epoch)) return counted('scan', byScan(cache, roots, keep, closure))
  if (stale || closure.unknown(gi)) {
    // That, or a module put into the cache by hand: read everything once, then walk again.
    live.rescan(cache)
    closure = walk(cache, roots, keep)
    if (isLarge(closure, graphSize) || closure.unknown(gi)) return counted('scan', byScan(cache, roots, keep, closure))
  }
  return counted('walk', byIndex(cache, roots, keep, removeShared, gi, closure))
}

/** Whether `index` has every node of `nodes` that `indices` name. */
function allIn(index, nodes, indices) {
  for (const c of indices) if (!index.has(nodes[c])) return false
  return true
}

/** The size from which a tree is a large part of a graph of `graphSize` modules (see flattenTree). */
const largeSize = (graphSize) => Math.max(1024, graphSize) >> 2

/** Whether a walked closure is a large part of a graph of `graphSize` modules. */
const isLarge = (closure, graphSize) => closure.b.nodes.length > largeSize(graphSize)

/**
 * How much the search up the ancestors may read before it gives up: a sixteenth of the graph, so
 * that a tree that turns out large (a whole-graph unload) wastes little before the one pass over
 * the cache. The benchmark's 50-module plugin needs about 250.
 */
const ancestorBudget = (gi) => Math.max(512, gi.keys.size >> 4)

/** How many plans took each way (tests check that a small tree does not walk or scan). */
const planPaths = { ancestors: 0, gaveUp: 0, walk: 0, scan: 0 }
const counted = (path, graph) => (planPaths[path]++, graph)

module.exports = { flattenTree, boundaryReason, planPaths }
