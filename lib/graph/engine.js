'use strict'
// One unload, start to finish: flatten the live graph, let the native core plan it, run the
// dispose hooks, apply the cuts, report. The plan is complete before anything changes
// (steps 3-7 of docs/node-internals.md §5 destroy the edges the plan is computed from).
const native = require('../native.js')
const cuts = require('./cuts.js')
const fields = require('./module-fields.js')
const flatten = require('./flatten.js')
const rollbackState = require('./rollback.js')
const { planTree } = require('./tree-plan.js')
const { flattenImporters, joinTreeGraph } = require('./importer-graph.js')
const { state, isModuleLike, ownValue, isLoading, mainModule } = require('./state.js')
const { duringDispose, markAbandoned } = require('./dispose.js')
const { renewMarks } = require('../loader/patches.js')
const { on, hasHooks } = require('./hooks.js')
const graphIndex = require('./graph-index.js')
const { emptyReport, track } = require('./report.js')

/**
 * Marks the modules that are never unloaded or walked, with the reason the report gives.
 * The keep option is applied later, and only to modules the tree reaches.
 */
function classifyBoundaries(graph) {
  const reasons = new Map()
  const { nodes, flags } = graph
  const main = mainModule()
  for (let i = 0; i < nodes.length; i++) {
    const m = nodes[i]
    if (!isModuleLike(m)) continue
    let reason
    if (m === main) reason = 'main'
    else if (fields.filenameOf(m)?.endsWith('.node')) reason = 'native-addon'
    else if (i < graph.cachedCount && isLoading(m)) reason = 'loading'
    if (reason !== undefined) {
      flags[i] |= flatten.BOUNDARY
      reasons.set(i, reason)
    }
  }
  return reasons
}

/**
 * require.cache keys of the removed nodes, in plan order, each with its value: `[keys, values]`
 * as two parallel arrays (no per-module pair objects on a whole-graph unload).
 */
function removedEntries(graph, removed) {
  const rank = new Int32Array(graph.nodes.length).fill(-1)
  for (let r = 0; r < removed.length; r++) rank[removed[r]] = r
  // Almost every module has one key: keep the first per node, collect the rare extra ones.
  const firstKey = new Array(removed.length)
  let extra
  for (let k = 0; k < graph.keys.length; k++) {
    const r = rank[graph.keyNode[k]]
    if (r < 0) continue
    if (firstKey[r] === undefined) firstKey[r] = graph.keys[k]
    else (extra ??= new Map()).set(r, [...(extra.get(r) ?? []), graph.keys[k]])
  }
  const keys = []
  const values = []
  for (let r = 0; r < removed.length; r++) {
    if (firstKey[r] === undefined) continue // a stale module outside the cache: cut, not listed
    const value = graph.nodes[removed[r]]
    keys.push(firstKey[r])
    values.push(value)
    for (const key of extra?.get(r) ?? []) {
      keys.push(key)
      values.push(value)
    }
  }
  return { keys, values }
}

function describePlan(graph, plan, reasons, entries) {
  const ids = graph.ids
  const report = emptyReport()
  report.removed = entries.keys
  for (let k = 0; k < plan.kept.length; k++) {
    const holders = plan.holders.subarray(plan.holderOffsets[k], plan.holderOffsets[k + 1])
    report.kept.push({ id: ids[plan.kept[k]], heldBy: Array.from(holders, (h) => ids[h]) })
  }
  for (const i of plan.skipped) report.skipped.push({ id: ids[i], reason: reasons.get(i) })
  const pinned = new Map()
  for (let e = 0; e < entries.keys.length; e++) {
    const by = cuts.pinnedBy(entries.values[e])
    if (by !== undefined) pinned.set(entries.keys[e], by)
  }
  if (cuts.lastParentSlotExists) {
    const keyed = new Set(report.removed)
    // (By node: a module deleted from the cache by other code that invalidate climbed through
    // has no key, though its filename may be the key of its newer copy.)
    let keyedNodes
    const removedNodes = new Set(plan.removed)
    for (const s of plan.resetParentOf) {
      // Only a live survivor pins: a stale or abandoned instance is garbage once cut.
      if ((graph.flags[s] & flatten.HOLDER) === 0) continue
      // The survivor's private last-parent slot holds its removed parent, and that parent's own
      // slot holds *its* first requirer: the pin runs up the chain of removed parents (a kept
      // shared.js pins b.js, and b.js pins a.js; heap snapshot on Node 22-26). Each slot was set
      // by the Module constructor to the same requirer `parent` still names before the cuts.
      for (let p = graph.parent[s]; p >= 0 && removedNodes.has(p); p = graph.parent[p]) {
        const id = ids[p]
        if (!keyed.has(id) || pinned.has(id) || !(keyedNodes ??= new Set(graph.keyNode)).has(p)) break // not a cache entry, or the chain is known
        pinned.set(id, 'last-parent')
      }
    }
  }
  for (const [id, by] of pinned) report.pinned.push({ id, by })
  return report
}

/**
 * The plan of a snapshot restore over the graph `flatten.flattenSince` builds (src/restore.rs),
 * with the start of the recorded `children` tail of each requirer to cut.
 */
function planRestore(graph) {
  const plan = native.planRestore(graph.offsets, graph.targets, graph.flags, graph.parent, graph.cachedCount)
  plan.cutChildrenFrom = new Int32Array(plan.cutChildrenOf.length)
  for (let k = 0; k < plan.cutChildrenOf.length; k++) plan.cutChildrenFrom[k] = graph.cutFrom[plan.cutChildrenOf[k]]
  return plan
}

/** The live graph, flattened, with report ids and boundary reasons. */
function prepareGraph(cache) {
  return withIdsAndReasons(flatten.flattenGraph(cache))
}

/**
 * The changed modules `roots` and their importers, from the live graph index, in the shape
 * prepareGraph returns; undefined when only a flatten of the whole cache can answer.
 */
function prepareImporterGraph(cache, roots) {
  const graph = flattenImporters(cache, roots)
  return graph === undefined ? undefined : withIdsAndReasons(graph)
}

/**
 * For reload's `tree` option: the plan of unloading the trees of `treeRoots` (modules), made as
 * uncacheTree makes it, and the importer graph `graph` joined with that plan's graph
 * (importer-graph.js joinTreeGraph). Returns `{ graph, tree: { graph, plan } }`.
 * @param {{ shared: 'keep'|'remove', keep?: (id: string) => boolean }} options
 */
function prepareTreeJoin(cache, graph, treeRoots, options) {
  const tree = planTreeModules(cache, treeRoots, options)
  return { graph: withIdsAndReasons(joinTreeGraph(graph, tree.graph)), tree }
}

function withIdsAndReasons(graph) {
  graph.ids = flatten.nodeIds(graph)
  graph.reasons = classifyBoundaries(graph)
  return graph
}

/**
 * The second half of every unload, whoever made the plan: report, dispose hooks, cuts.
 * `plan` has the shape of the native core's UnloadPlan (indices into `graph`).
 */
function executePlan(cache, graph, plan, options) {
  const entries = removedEntries(graph, plan.removed)
  const filenames = pathCacheFiles(cache, graph, entries)
  const report = describePlan(graph, plan, graph.reasons, entries)
  if (options.dryRun) {
    // The same checks as the cuts, without the cuts: what a real call would report as pinned.
    const staleKeys = cuts.stalePathCacheKeys(filenames)
    const predicted = cuts.applyCuts(cache, graph, plan, entries, staleKeys, { write: false })
    return track(withCuts(report, predicted), entries.keys, entries.values, true)
  }
  // reload() keeps what the cuts are about to change, to put it back if the new code throws.
  if (options.capture !== undefined) {
    options.capture(rollbackState.captureCuts(cache, graph, plan, cuts.stalePathCacheKeys(filenames), entries))
  }
  const removedNodes = flatten.nodesAt(graph, plan.removed)
  const lateRequirers = dispose(removedNodes.filter(isModuleLike), report)
  // Asked again after the handlers: a require() in one may have made new entries for these files.
  const cut = cuts.applyCuts(cache, graph, plan, entries, cuts.stalePathCacheKeys(filenames), { lateRequirers })
  // The removed modules leave the live graph index with every edge that touches them, but those a
  // live module still reaches through a reference no cut could change (a frozen `children`): they
  // stay in the graph as modules outside the cache, so that the next plan still sees that edge.
  const gi = state.graphIndex
  graphIndex.forget(gi, removedNodes)
  if (cut.uncut.size > 0) keepUncutEdges(gi, graph, plan, removedNodes, cut.uncut, lateRequirers)
  // A snapshot's mark may have been among the removed: renew it while no load went unseen.
  renewMarks()
  // A module compiled by hand never turns `loaded`; once out of the cache it would look like a
  // createRequire proxy (a requirer that holds what it lists). Mark it as never live again.
  for (const value of cut.values) {
    if (isModuleLike(value) && ownValue(value, 'loaded') === false) markAbandoned(value)
  }
  return track(withCuts(report, cut), cut.keys, cut.values, false)
}

/**
 * The references to removed modules that no cut could change (a frozen `children`) go back into
 * the graph, with the removed module as one outside the cache: the next plan sees them, as a full
 * scan does.
 */
function keepUncutEdges(gi, graph, plan, removedNodes, uncut, lateRequirers) {
  const survivors = [...flatten.nodesAt(graph, plan.cutChildrenOf), ...lateRequirers]
  for (const m of removedNodes) {
    if (!uncut.has(m)) continue
    const holders = survivors.filter((s) => isModuleLike(s) && fields.childrenOf(s).includes(m))
    graphIndex.keepOutside(gi, m, holders)
  }
}

/**
 * The files whose Module._pathCache entries go with the removed modules: each one's key and
 * filename. A copy other code dropped from the cache (graph.detached) is the exception when a
 * module that stays is cached under its key or filename (proxyquire puts the original back): the
 * entries name that module's file too, and it stays loaded.
 */
function pathCacheFiles(cache, graph, entries) {
  const files = new Set()
  let removedValues
  const stays = (key) => key !== undefined && cache[key] !== undefined && !removedValues.has(cache[key])
  for (let e = 0; e < entries.keys.length; e++) {
    const key = entries.keys[e]
    const value = entries.values[e]
    const filename = isModuleLike(value) ? fields.filenameOf(value) : undefined
    if (cache[key] !== value && graph.detached?.has(value) === true) {
      removedValues ??= new Set(entries.values)
      if (stays(key) || stays(filename)) continue
    }
    files.add(key)
    if (filename !== undefined) files.add(filename)
  }
  return files
}

/**
 * The report as the cuts made it true: a key that a dispose handler filled with a fresh module
 * stayed (not listed), references that could not be changed pin what they reach, and only the
 * _pathCache entries really dropped are counted.
 */
function withCuts(report, cut) {
  if (cut.keys.length !== report.removed.length) {
    const stayed = new Set(cut.keys)
    report.pinned = report.pinned.filter(({ id }) => stayed.has(id))
  }
  report.removed = cut.keys
  if (cut.unwritable.size > 0) {
    // An unwritable reference is listed even when Node pins the same module too (a getter-only
    // `parent` that reaches a removed module is also its last-parent pin on Node >= 22): that one
    // is the user's to fix.
    const pinnedIds = new Set(report.pinned.filter(({ by }) => by !== 'last-parent').map(({ id }) => id))
    for (let e = 0; e < cut.keys.length; e++) {
      if (cut.unwritable.has(cut.values[e]) && !pinnedIds.has(cut.keys[e])) {
        pinnedIds.add(cut.keys[e])
        report.pinned.push({ id: cut.keys[e], by: 'unwritable' })
      }
    }
  }
  report.pathCacheEntries = cut.pathCacheEntries
  return report
}

// Not a closure: an error thrown by a dispose handler keeps its stack frames' functions alive
// (until its stack is formatted), and a closure over `modules` would keep every removed module.
function runHooks(modules, hooks, report) {
  for (const beforeCut of hooks) beforeCut(modules, report)
}

/**
 * Runs the dispose hooks of `modules` (importers first). Meanwhile requires made by these
 * modules get stand-in parents and unloading calls are refused (dispose.js duringDispose).
 * Returns the modules that required something meanwhile: a lazy `require('../cleanup')` in a
 * handler can hand the helper an edge to a module about to be removed, and that edge is cut too.
 */
function dispose(modules, report) {
  if (!hasHooks('beforeCut') || modules.length === 0) return []
  const requirers = new Set()
  const off = on('require', (parent) => requirers.add(parent))
  try {
    duringDispose(modules, runHooks, state.beforeCut, report)
  } finally {
    off()
  }
  return [...requirers]
}

/**
 * The roots that the keep option skipped, then the plan's skipped modules: a root the walk met
 * again (another root requires it) is listed once.
 */
function withSkippedRoots(skippedRoots, skipped) {
  const listed = new Set(skippedRoots.map(({ id }) => id))
  return [...skippedRoots, ...skipped.filter(({ id }) => !listed.has(id))]
}

/**
 * Unloads `rootKeys` and their trees from `cache`.
 * @param {object} cache require.cache
 * @param {string[]} rootKeys validated require.cache keys
 * @param {{ shared: 'keep'|'remove', keep?: (id: string) => boolean, dryRun: boolean }} options
 * @param {boolean} [fullScan] find holders by reading every cached module (see planTrees)
 */
function unloadTrees(cache, rootKeys, options, fullScan = false) {
  const skippedRoots = []
  const roots = []
  for (const key of rootKeys) {
    if (options.keep !== undefined && options.keep(key)) skippedRoots.push({ id: key, reason: 'kept-by-option' })
    else roots.push(key)
  }
  if (roots.length === 0) {
    const report = emptyReport()
    report.skipped = skippedRoots
    return track(report, [], [], options.dryRun)
  }
  const { graph, plan } = planTrees(cache, roots, options, fullScan)
  const report = executePlan(cache, graph, plan, options)
  report.skipped = withSkippedRoots(skippedRoots, report.skipped)
  return report
}

/**
 * The graph and plan of unloading the trees of `roots` (require.cache keys, none kept by the
 * option). `fullScan` finds the holders by reading every cached module instead of asking the
 * live graph index: the same plan, at the cost of the cache size (the fuzz suite compares them).
 */
function planTrees(cache, roots, options, fullScan = false) {
  const planned = planTreeModules(cache, roots.map((key) => cache[key]), options, fullScan)
  withTargetKeys(planned.graph, cache, roots)
  return planned
}

/**
 * The keys the targets were named by are keys the plan read: a target cached under a key the
 * index does not know (an alias made by hand) is removed under it too, never disposed and left
 * there.
 */
function withTargetKeys(graph, cache, keys) {
  for (const key of keys) {
    const i = graph.index.get(cache[key])
    if (i === undefined || hasKey(graph, i, key)) continue
    graph.keys.push(key)
    graph.keyNode = Int32Array.from([...graph.keyNode, i])
  }
}

/** Whether node `i` of `graph` is listed under `key` (integer compares first: no Set of every key). */
function hasKey(graph, i, key) {
  const { keys, keyNode } = graph
  for (let k = 0; k < keys.length; k++) if (keyNode[k] === i && keys[k] === key) return true
  return false
}

/** planTrees() on the root modules themselves. */
function planTreeModules(cache, roots, options, fullScan = false) {
  return planTree(cache, roots, { keep: options.keep, removeShared: options.shared === 'remove', fullScan })
}

module.exports = { unloadTrees, planTrees, withTargetKeys, planRestore, prepareGraph, prepareImporterGraph, prepareTreeJoin, executePlan, classifyBoundaries, withSkippedRoots }
