'use strict'
// The plan of one uncacheTree(), made by the native core on the live module graph it owns
// (src/tree_plan.rs: one call), then checked here against the live objects.
//
// The graph is a superset of the references the loader made (graph-index.js): the planner names
// the references its plan relied on, and this file reads exactly those — for each removed module
// one edge from a removed module that lists it, for each kept module a chain from a live holder,
// and the holders the report names. A reference that is gone is dropped from the graph, a "holder"
// that no longer holds (other code deleted it from the cache) is named as such, a module that
// turns out to be a boundary (an addon, one kept by the option) is passed as one, and the plan is
// made again; a key that moved, or a module the graph never fully saw, makes it read the whole
// graph first (`rescan`). The plan is then turned into the shape every unload executes
// (engine.js executePlan): node indices into a small graph of the objects it names.
const { state, isModuleLike, isLoading, mainModule } = require('./state.js')
const { outsideRequirers } = require('./outside-requirers.js')
const graphIndex = require('./graph-index.js')
const { rescan } = require('./rescan.js')
const { HOLDER, BOUNDARY, nodeIds } = require('./flatten.js')
const { childrenOf, parentOf, filenameOf, holdsFromOutside, readRefs } = require('./module-fields.js')

// A plan that needs more rounds than this reads the whole graph first: every round removes an
// edge or names a boundary or non-holder, so this only bounds pathological histories.
const ROUNDS_BEFORE_READ = 4
const MAX_ROUNDS = 64

/** How plans were made (tests and the fuzz suite check that the ways they expect were taken). */
const planPaths = { plans: 0, rounds: 0, reads: 0, scans: 0 }

/**
 * Why `m` (node `id` of `objects`), met in a tree, is never unloaded or walked, or undefined. The
 * keep option is asked with every key the module is cached under (looked up only then).
 */
function boundaryReason(m, keep, objects, id) {
  if (m === mainModule()) return 'main'
  const filename = filenameOf(m)
  if (filename !== undefined && filename.endsWith('.node')) return 'native-addon'
  if (isLoading(m)) return 'loading'
  if (keep !== undefined) {
    for (const key of objects.keysOf(id)) if (keep(key)) return 'kept-by-option'
  }
  return undefined
}

/**
 * One plan's state across its rounds: what it learned of the live objects. A class, not
 * closures: see the note on V8's background compiler in engine.js (a closure's context would keep
 * this unload's modules alive).
 */
class TreePlanner {
  constructor(cache, gi, roots, keep, removeShared) {
    this.cache = cache
    this.gi = gi
    this.roots = roots
    this.keep = keep
    this.removeShared = removeShared
    this.boundaries = new Map() // id -> reason
    this.nonHolders = new Set()
    this.dropFrom = []
    this.dropTo = []
    this.opaque = new Map() // root that the graph never records -> its id for this plan
  }

  /**
   * The root ids, or undefined when a root is not fully known to the graph (read it first). A
   * root the graph never records (a Proxy, a value that is no object) gets an id of its own for
   * this plan: it has no edges, and goes alone.
   */
  rootIds() {
    const ids = new Uint32Array(this.roots.length)
    for (let k = 0; k < this.roots.length; k++) {
      const root = this.roots[k]
      if (!graphIndex.isRef(root)) {
        ids[k] = this.opaque.get(root) ?? this.gi.nextId++
        this.opaque.set(root, ids[k])
      } else if (!graphIndex.isKnown(this.gi, root)) {
        return undefined
      } else {
        ids[k] = this.gi.ids.get(root)
      }
    }
    return ids
  }

  /** The boundaries known before planning: the main module and the modules loading now. */
  seedBoundaries() {
    const { gi } = this
    const main = mainModule()
    const mainId = main === undefined ? undefined : gi.ids.get(main)
    if (mainId !== undefined) this.boundaries.set(mainId, 'main')
    for (const m of state.loading) {
      const id = gi.ids.get(m)
      if (id !== undefined) this.boundaries.set(id, 'loading')
    }
  }

  /** One round: the native plan, or undefined when it relied on something the objects deny. */
  round(rootIds) {
    const { gi } = this
    const { plan, reliedFrom, reliedTo, reliedKind } = gi.graph.planTree(
      graphIndex.takeEdits(gi, this.dropFrom, this.dropTo),
      rootIds,
      Uint32Array.from(this.boundaries.keys()),
      Uint32Array.from(this.nonHolders),
      this.removeShared,
    )
    this.dropFrom = []
    this.dropTo = []
    planPaths.rounds++
    const objects = new ObjectsById(this.cache, gi)
    for (const [root, id] of this.opaque) objects.hits.set(id, [undefined, root])
    let settled = true
    // Modules the plan removes, keeps, or keeps others through, that are boundaries (an addon,
    // one kept by the option): a boundary is not walked, and what is only reached through it is
    // not part of the tree.
    const asked = new Set(rootIds)
    for (const list of [plan.removed, plan.kept, reliedFrom, reliedTo]) {
      for (let k = 0; k < list.length; k++) {
        const id = list[k]
        if (asked.has(id) || this.boundaries.has(id)) continue
        asked.add(id)
        const hit = objects.get(id)
        if (!isModuleLike(hit[1])) continue
        const reason = boundaryReason(hit[1], this.keep, objects, id)
        if (reason !== undefined) this.boundaries.set(id, reason), (settled = false)
      }
    }
    if (gi.changed) return { reread: true }
    if (!settled) return undefined
    // The references it relied on.
    for (let k = 0; k < reliedFrom.length; k++) {
      const from = objects.get(reliedFrom[k])[1]
      const to = objects.get(reliedTo[k])[1]
      if (reliedKind[k] === 1 && !objects.isHolder(reliedFrom[k])) {
        // (Named already: the planner did not rely on it as a holder this time.)
        if (!this.nonHolders.has(reliedFrom[k])) this.nonHolders.add(reliedFrom[k]), (settled = false)
      } else if (!isModuleLike(from) || to === undefined || !childrenOf(from).includes(to)) {
        this.dropFrom.push(reliedFrom[k])
        this.dropTo.push(reliedTo[k])
        settled = false
      }
    }
    if (gi.changed) return { reread: true }
    // Every removed module must be fully known: one seen only as a requirer may hold more.
    for (let k = 0; k < plan.removed.length && settled; k++) {
      const m = objects.get(plan.removed[k])[1]
      if (m !== undefined && !graphIndex.isKnown(gi, m) && objects.cached(plan.removed[k])) return { reread: true }
    }
    if (!settled) return undefined
    const graph = toGraph(objects, plan, this.boundaries)
    // (A key met only now, on a holder to cut, that moved: read, and plan again.)
    return gi.changed ? { reread: true } : { graph }
  }
}

/**
 * The live objects behind ids, each looked up once per round (graphIndex.liveObject), with their
 * keys and whether they hold.
 */
class ObjectsById {
  constructor(cache, gi) {
    this.cache = cache
    this.gi = gi
    this.outside = graphIndex.byId(gi, outsideRequirers().filter(holdsFromOutside))
    this.hits = new Map()
    this.keys = new Map()
  }

  get(id) {
    let hit = this.hits.get(id)
    if (hit === undefined) this.hits.set(id, (hit = graphIndex.liveObject(this.gi, this.cache, id, this.outside)))
    return hit
  }

  /** Whether require.cache holds it (under its recorded key or an alias). */
  cached(id) {
    return typeof this.get(id)[0] === 'string'
  }

  /** A live holder: a cached module, or a requirer outside the cache that holds what it lists. */
  isHolder(id) {
    const hit = this.get(id)
    return isModuleLike(hit[1]) && (typeof hit[0] === 'string' || (hit[0] === undefined && this.outside.has(id)))
  }

  keysOf(id) {
    let keys = this.keys.get(id)
    if (keys === undefined) {
      const hit = this.get(id)
      keys = typeof hit[0] === 'string' ? graphIndex.cachedKeys(this.gi, this.cache, id, hit[1]) : []
      this.keys.set(id, keys)
    }
    return keys
  }
}

/**
 * The native plan (ids) as the graph and plan engine.js executes: node indices into the objects
 * the plan names, their keys, flags, recorded parents and the boundaries' reasons.
 */
function toGraph(objects, plan, boundaries) {
  const nodes = []
  const index = new Map()
  const idOf = []
  const add = (id) => {
    const m = objects.get(id)[1]
    if (m === undefined) return -1
    let i = index.get(m)
    if (i === undefined) {
      i = nodes.length
      index.set(m, i)
      nodes.push(m)
      idOf.push(id)
    }
    return i
  }
  const indices = (list) => {
    const out = []
    for (let k = 0; k < list.length; k++) {
      const i = add(list[k])
      if (i >= 0) out.push(i)
    }
    return Int32Array.from(out)
  }
  const removed = indices(plan.removed)
  const kept = []
  const holders = []
  const holderOffsets = [0]
  for (let k = 0; k < plan.kept.length; k++) {
    const i = add(plan.kept[k])
    if (i < 0) continue
    kept.push(i)
    for (let h = plan.holderOffsets[k]; h < plan.holderOffsets[k + 1]; h++) {
      const j = add(plan.holders[h])
      if (j >= 0) holders.push(j)
    }
    holderOffsets.push(holders.length)
  }
  const skipped = indices(plan.skipped)
  const cutChildrenOf = indices(plan.cutChildrenOf)
  // Read before the cuts delete the removed modules' keys: a `children` accessor is described by
  // what the index recorded (module-fields.js childrenOf), which finds removed modules by key.
  for (const i of cutChildrenOf) if (isModuleLike(nodes[i])) childrenOf(nodes[i])
  const resetParentOf = indices(plan.resetParentOf)
  const n = nodes.length
  const flags = new Uint8Array(n)
  const keys = []
  const keyNode = []
  const reasons = new Map()
  for (let i = 0; i < n; i++) {
    const id = idOf[i]
    if (objects.isHolder(id)) flags[i] |= HOLDER
    for (const key of objects.keysOf(id)) keys.push(key), keyNode.push(i)
    const reason = boundaries.get(id)
    if (reason !== undefined) flags[i] |= BOUNDARY, reasons.set(i, reason)
  }
  const parent = new Int32Array(n).fill(-1)
  for (let i = 0; i < n; i++) {
    if (!isModuleLike(nodes[i])) continue
    const p = index.get(parentOf(nodes[i]))
    if (p !== undefined) parent[i] = p
  }
  const graph = { keys, keyNode: Int32Array.from(keyNode), nodes, index, cachedCount: 0, parent, flags, reasons }
  graph.ids = nodeIds(graph)
  const unloadPlan = {
    removed,
    kept: Int32Array.from(kept),
    holderOffsets: Int32Array.from(holderOffsets),
    holders: Int32Array.from(holders),
    skipped,
    cutChildrenOf,
    resetParentOf,
  }
  return { graph, plan: unloadPlan }
}

/**
 * The graph and plan of unloading the trees of `roots` (cache values, none a boundary or kept by
 * the option). `fullScan` plans on a graph read anew from the cache for this plan only (the same
 * planner: the property-based suite compares the two).
 * @param {{ keep?: (id: string) => boolean, removeShared?: boolean, fullScan?: boolean }} options
 */
function planTree(cache, roots, { keep, removeShared = false, fullScan = false } = {}) {
  planPaths.plans++
  let gi = state.graphIndex
  if (fullScan) {
    gi = graphIndex.scanned(cache, outsideRequirers(), readRefs)
    planPaths.scans++
  } else if (gi.readAtEpoch !== state.loaderEpoch) {
    read(cache, gi)
  }
  const planner = new TreePlanner(cache, gi, roots, keep, removeShared)
  planner.seedBoundaries()
  for (let round = 0; round < MAX_ROUNDS; round++) {
    if (round === ROUNDS_BEFORE_READ) reread(planner, cache)
    gi.changed = false
    let rootIds = planner.rootIds()
    if (rootIds === undefined) {
      reread(planner, cache)
      rootIds = planner.rootIds()
      if (rootIds === undefined) throw new Error('uncache-tree: a root is unknown to the module graph after a full read')
    }
    const outcome = planner.round(rootIds)
    if (outcome?.reread) reread(planner, cache)
    else if (outcome !== undefined) return outcome.graph
  }
  throw new Error(`uncache-tree: the unload plan did not settle in ${MAX_ROUNDS} rounds`)
}

/** Reads the whole graph into the process's index (or a scanned one) and starts the plan over. */
function reread(planner, cache) {
  if (planner.gi === state.graphIndex) read(cache, planner.gi)
  else planner.gi = graphIndex.scanned(cache, outsideRequirers(), readRefs)
  planner.boundaries.clear()
  planner.nonHolders.clear()
  planner.dropFrom = []
  planner.dropTo = []
  planner.seedBoundaries()
}

function read(cache) {
  planPaths.reads++
  rescan(cache)
}

module.exports = { planTree, planPaths }
