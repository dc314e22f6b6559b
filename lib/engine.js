'use strict'
// One unload, start to finish: flatten the live graph, let the native core plan it, run the
// dispose hooks, apply the cuts, report. The plan is complete before anything changes
// (steps 3-7 of node-internals.md §5 destroy the edges the plan is computed from).
const native = require('./native.js')
const live = require('./live.js')
const registry = require('./registry.js')
const { emptyReport, track } = require('./report.js')

/**
 * Marks the modules that are never unloaded or walked, with the reason the report gives.
 * The keep option is applied later, and only to modules the tree reaches.
 */
function classifyBoundaries(graph) {
  const reasons = new Map()
  const { nodes, flags } = graph
  for (let i = 0; i < nodes.length; i++) {
    const m = nodes[i]
    if (!registry.isModuleLike(m)) continue
    let reason
    if (m === require.main) reason = 'main'
    else if (typeof m.filename === 'string' && m.filename.endsWith('.node')) reason = 'native-addon'
    else if (m.loaded === false && i < graph.cachedCount) reason = 'loading'
    if (reason !== undefined) {
      flags[i] |= live.BOUNDARY
      reasons.set(i, reason)
    }
  }
  return reasons
}

function applyKeepOption(graph, ids, roots, keep, reasons) {
  const members = native.forwardClosure(graph.offsets, graph.targets, graph.flags, roots)
  const rootSet = new Set(roots)
  for (const i of members) {
    if (!rootSet.has(i) && i < graph.cachedCount && keep(ids[i])) {
      graph.flags[i] |= live.BOUNDARY
      reasons.set(i, 'kept-by-option')
    }
  }
}

/** require.cache keys of the removed nodes, in plan order, each with its value. */
function removedEntries(graph, removed) {
  const rank = new Int32Array(graph.nodes.length).fill(-1)
  removed.forEach((node, r) => {
    rank[node] = r
  })
  const buckets = Array.from({ length: removed.length }, () => [])
  for (let k = 0; k < graph.keys.length; k++) {
    const r = rank[graph.keyNode[k]]
    if (r >= 0) buckets[r].push(graph.keys[k])
  }
  const entries = []
  removed.forEach((node, r) => {
    for (const key of buckets[r]) entries.push([key, graph.nodes[node]])
  })
  return entries
}

function describePlan(graph, plan, reasons, entries, staleKeys) {
  const ids = graph.ids
  const report = emptyReport()
  report.removed = entries.map(([key]) => key)
  for (let k = 0; k < plan.kept.length; k++) {
    const holders = plan.holders.subarray(plan.holderOffsets[k], plan.holderOffsets[k + 1])
    report.kept.push({ id: ids[plan.kept[k]], heldBy: Array.from(holders, (h) => ids[h]) })
  }
  for (const i of plan.skipped) report.skipped.push({ id: ids[i], reason: reasons.get(i) })
  const pinned = new Map()
  for (const [key, m] of entries) {
    const by = live.pinnedBy(m)
    if (by !== undefined) pinned.set(key, by)
  }
  if (live.lastParentSlotExists) {
    const keyed = new Set(report.removed)
    for (const s of plan.resetParentOf) {
      const id = ids[graph.parent[s]]
      if (keyed.has(id) && !pinned.has(id)) pinned.set(id, 'last-parent')
    }
  }
  for (const [id, by] of pinned) report.pinned.push({ id, by })
  report.pathCacheEntries = staleKeys.length
  return report
}

/** The live graph, flattened, with report ids and boundary reasons. */
function prepareGraph(cache) {
  const graph = live.flattenGraph(cache)
  graph.ids = live.nodeIds(graph)
  graph.reasons = classifyBoundaries(graph)
  return graph
}

/**
 * The second half of every unload, whoever made the plan: report, dispose hooks, cuts.
 * `plan` has the shape of the native core's UnloadPlan (indices into `graph`).
 */
function executePlan(cache, graph, plan, options) {
  const entries = removedEntries(graph, plan.removed)
  const filenames = new Set(entries.map(([key]) => key))
  for (const [, m] of entries) if (registry.isModuleLike(m) && typeof m.filename === 'string') filenames.add(m.filename)
  const staleKeys = live.stalePathCacheKeys(filenames)
  const report = describePlan(graph, plan, graph.reasons, entries, staleKeys)
  if (!options.dryRun) {
    const modules = Array.from(plan.removed, (i) => graph.nodes[i]).filter(registry.isModuleLike)
    for (const beforeCut of registry.state.beforeCut) beforeCut(modules, report)
    live.applyCuts(cache, graph, plan, report.removed, staleKeys)
  }
  return track(report, entries, options.dryRun)
}

/**
 * Unloads `rootKeys` and their trees from `cache`.
 * @param {object} cache require.cache
 * @param {string[]} rootKeys validated require.cache keys
 * @param {{ shared: 'keep'|'remove', keep?: (id: string) => boolean, dryRun: boolean }} options
 */
function unloadTrees(cache, rootKeys, options) {
  const skippedRoots = []
  const roots = []
  for (const key of rootKeys) {
    if (options.keep !== undefined && options.keep(key)) skippedRoots.push({ id: key, reason: 'kept-by-option' })
    else roots.push(key)
  }
  if (roots.length === 0) {
    const report = emptyReport()
    report.skipped = skippedRoots
    return track(report, [], options.dryRun)
  }
  const graph = prepareGraph(cache)
  const rootNodes = Uint32Array.from(roots, (key) => graph.index.get(cache[key]))
  for (const r of rootNodes) graph.flags[r] &= ~live.BOUNDARY // validated targets: never boundaries
  if (options.keep !== undefined) applyKeepOption(graph, graph.ids, rootNodes, options.keep, graph.reasons)
  const plan = native.planUnload(
    graph.offsets,
    graph.targets,
    graph.flags,
    graph.parent,
    rootNodes,
    options.shared === 'remove',
  )
  const report = executePlan(cache, graph, plan, options)
  report.skipped.unshift(...skippedRoots)
  return report
}

module.exports = { unloadTrees, prepareGraph, executePlan, applyKeepOption }
