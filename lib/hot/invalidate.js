'use strict'
// invalidate(): hot reload's unload. The changed modules and every module that (transitively)
// requires them are unloaded, so the next require() sees the new code everywhere; the walk up
// the importers runs in the native core (src/invalidate.rs) and stops at modules that accepted
// the update, at modules that are never unloaded, and at declining modules, which refuse it.
// Dependencies of the unloaded modules are not walked: they stay loaded, with their identity.
//
// After the cuts, the library does what accepting modules asked for: accept(deps, callback)
// handlers run with the ids of their unloaded dependencies, and self-accepting modules are
// required again, through the importers that kept them, so the graph has the same edges.
const native = require('../native.js')
const fields = require('../graph/module-fields.js')
const flatten = require('../graph/flatten.js')
const hotState = require('./hot.js')
const { prepareGraph, prepareImporterGraph, prepareTreeJoin, executePlan, withSkippedRoots, withTargetKeys } = require('../graph/engine.js')
const { parseInvalidateOptions } = require('../options.js')
const { callerFile, parseFrom, resolveTargets } = require('../targets.js')
const { liveCache, assertNotReentrant } = require('../graph/unload.js')
const { emptyReport, track } = require('../graph/report.js')
const { assertNoEsm } = require('./esm.js')

const { FLAG_SELF_ACCEPTS: SELF_ACCEPTS, FLAG_SELF_DECLINES: SELF_DECLINES } = require('../native.js')

/**
 * Flags and accepted/declined edges from the modules' hot handles, and the keep option as
 * boundaries (it is applied to every cached module: the walk is upward, there is no tree to
 * restrict it to first).
 */
function markHotPolicies(cache, graph, keep, rootSet) {
  const accepted = []
  const declined = []
  const { nodes, flags, ids } = graph
  for (let i = 0; i < graph.cachedCount; i++) {
    if (keep !== undefined && !rootSet.has(i) && (flags[i] & flatten.BOUNDARY) === 0 && keep(ids[i])) {
      flags[i] |= flatten.BOUNDARY
      graph.reasons.set(i, 'kept-by-option')
    }
    const record = hotState.recordOf(nodes[i])
    if (record === undefined) continue
    // hot.invalidate(): this instance passes the update on to its importers.
    if (record.selfAccepted && !(record.bubble && rootSet.has(i))) flags[i] |= SELF_ACCEPTS
    if (record.selfDeclined) flags[i] |= SELF_DECLINES
    for (const file of record.acceptedDeps.keys()) {
      const dep = graph.index.get(cache[file])
      if (dep !== undefined) accepted.push(i, dep)
    }
    for (const file of record.declinedDeps) {
      const dep = graph.index.get(cache[file])
      if (dep !== undefined) declined.push(i, dep)
    }
  }
  return { accepted: Uint32Array.from(accepted), declined: Uint32Array.from(declined) }
}

/**
 * Calls each accepting module's handlers once per distinct callback, with the ids of the
 * accepted dependencies that were unloaded (webpack's outdatedDependencies).
 */
function runAcceptHandlers(graph, plan, report, failures) {
  const byAcceptor = new Map()
  for (let k = 0; k < plan.accepted.length; k += 2) {
    const acceptor = plan.accepted[k]
    if (!byAcceptor.has(acceptor)) byAcceptor.set(acceptor, [])
    byAcceptor.get(acceptor).push(graph.ids[plan.accepted[k + 1]])
  }
  for (const [acceptor, updated] of byAcceptor) {
    const record = hotState.recordOf(graph.nodes[acceptor])
    const byCallback = new Map()
    for (const id of updated) {
      const callback = record.acceptedDeps.get(id)
      if (callback === undefined) continue
      if (!byCallback.has(callback)) byCallback.set(callback, [])
      byCallback.get(callback).push(id)
    }
    for (const [callback, ids] of byCallback) {
      try {
        callback(ids)
      } catch (error) {
        report.errors.push(error)
        failures.push(error)
      }
    }
  }
}

/**
 * Requires each self-accepting module again, through the importers that stay (its old parent
 * first, so the new instance has the same parent), so each of them has the new instance in its
 * `children` as it had the old one. A module no one kept is required from `fromFile` (the file,
 * or a function that returns it). A failed load goes to the module's accept(errorHandler), else
 * to report.errors.
 */
function requireSelfAccepted(cache, graph, plan, report, failures, fromFile) {
  if (plan.selfAccepted.length === 0) return
  const importers = new Map()
  for (const x of plan.selfAccepted) importers.set(x, [])
  for (const p of plan.cutChildrenOf) {
    // Only live requirers: a stale module or a stand-in that still lists it does not get it back.
    if ((graph.flags[p] & flatten.HOLDER) === 0) continue
    for (let e = graph.offsets[p]; e < graph.offsets[p + 1]; e++) {
      const list = importers.get(graph.targets[e])
      if (list !== undefined && !list.includes(p)) list.push(p)
    }
  }
  for (const x of plan.selfAccepted) {
    const id = graph.ids[x]
    const list = importers.get(x)
    const oldParent = graph.parent[x]
    if (list.includes(oldParent)) list.unshift(...list.splice(list.indexOf(oldParent), 1))
    try {
      if (list.length === 0) fields.requireFrom(cache, typeof fromFile === 'function' ? fromFile() : fromFile, id)
      for (const p of list) fields.requireVia(graph.nodes[p], id)
    } catch (error) {
      const handler = hotState.recordOf(graph.nodes[x])?.selfErrorHandler
      if (handler === undefined) {
        report.errors.push(error)
        failures.push(error)
        continue
      }
      try {
        handler(error, { moduleId: id })
      } catch (handlerError) {
        report.errors.push(handlerError)
        failures.push(handlerError)
      }
    }
  }
}

/**
 * reload()'s plan: the importers `invalidate` unloads, plus the trees of the roots it unloads,
 * reference counted as uncacheTree counts them: a live module outside the tree keeps what it
 * requires (an importer outside the tree too: a singleton both it and the tree use keeps its
 * identity). A tree module that is also an importer (a require cycle) goes whoever holds it, so
 * it is a root of the tree plan and keeps nothing. `kept` and the tree's boundaries come from
 * the tree plan; the cut lists are made anew for the union. The tree plan is `tree` when
 * planInvalidation made it on its own graph (engine.prepareTreeJoin), else it is made on `graph`.
 */
function withTrees(graph, importersPlan, rootNodes, shared, tree) {
  const n = graph.nodes.length
  const removedMark = new Uint8Array(n)
  for (const i of importersPlan.removed) removedMark[i] = 1
  let treePlan
  if (tree !== undefined) {
    // Its indices into the joined graph, by module.
    const p = tree.plan
    treePlan = {
      removed: joinedIndices(graph, tree.graph, p.removed),
      kept: joinedIndices(graph, tree.graph, p.kept),
      holderOffsets: p.holderOffsets,
      holders: joinedIndices(graph, tree.graph, p.holders),
      skipped: joinedIndices(graph, tree.graph, p.skipped),
    }
  } else {
    const treeRoots = treeRootsOf(graph, { plan: importersPlan, rootNodes })
    if (treeRoots.length === 0) return importersPlan
    const rootIndices = flatten.indicesOf(graph, treeRoots)
    treePlan = native.planUnload(graph.offsets, graph.targets, graph.flags, graph.parent, rootIndices, shared === 'remove')
  }
  const removed = Array.from(importersPlan.removed)
  for (const i of treePlan.removed) {
    if (removedMark[i] === 0) {
      removedMark[i] = 1
      removed.push(i)
    }
  }
  const listed = new Set(importersPlan.skipped)
  const cutChildrenOf = []
  const resetParentOf = []
  for (let i = 0; i < n; i++) {
    if (removedMark[i] === 1) continue
    for (let e = graph.offsets[i]; e < graph.offsets[i + 1]; e++) {
      if (removedMark[graph.targets[e]] === 1) {
        cutChildrenOf.push(i)
        break
      }
    }
    if (graph.parent[i] >= 0 && removedMark[graph.parent[i]] === 1) resetParentOf.push(i)
  }
  return {
    removed: Uint32Array.from(removed),
    kept: treePlan.kept,
    holderOffsets: treePlan.holderOffsets,
    holders: treePlan.holders,
    // The importers' boundaries first (declined ones carry `blocked` by position), then the tree's.
    skipped: Uint32Array.from([...importersPlan.skipped, ...Array.from(treePlan.skipped).filter((i) => !listed.has(i))]),
    cutChildrenOf: Uint32Array.from(cutChildrenOf),
    resetParentOf: Uint32Array.from(resetParentOf),
  }
}

/**
 * The graph and the native plan of invalidating `roots` (require.cache keys, none kept by the
 * option), planned on the importers the live graph index names. With the `tree` option (reload's
 * default) the targets' trees need every holder of their modules: the graph uncacheTree would
 * plan on for them joins the importers' (engine.prepareTreeJoin). When the index cannot answer,
 * and with `fullScan`, the plan is made on a flatten of the whole cache: the same plan (the
 * property-based suite compares them).
 */
function planInvalidation(cache, roots, opts, { fullScan = false } = {}) {
  let graph = fullScan ? undefined : prepareImporterGraph(cache, roots.map((key) => cache[key]))
  let tree
  let planned
  if (graph !== undefined && opts.tree === true) {
    // The trees are those of the targets the plan removes. First on the guess that it removes
    // every target that is no boundary (a reload of a file: one plan of the joined graph); when
    // it removes others (a target whose update was declined), planned again on what it removes.
    const guess = guessTreeRoots(cache, graph, roots)
    if (guess.length > 0) {
      const joined = prepareTreeJoin(cache, graph, guess, opts)
      withTargetKeys(joined.graph, cache, roots)
      const first = planOn(cache, joined.graph, roots, opts)
      if (sameMembers(treeRootsOf(joined.graph, first), guess)) ({ graph, tree } = joined), (planned = first)
    }
    if (planned === undefined) {
      const treeRoots = treeRootsOf(graph, planOn(cache, graph, roots, opts))
      if (treeRoots.length > 0) ({ graph, tree } = prepareTreeJoin(cache, graph, treeRoots, opts))
    }
  }
  graph ??= prepareGraph(cache)
  if (planned === undefined) {
    withTargetKeys(graph, cache, roots)
    planned = planOn(cache, graph, roots, opts)
  }
  const { plan, rootNodes } = planned
  // The plan executePlan runs: the importers' removals, with the trees' when asked.
  planned.unloadPlan = {
    removed: plan.removed,
    kept: new Uint32Array(0),
    holderOffsets: Uint32Array.of(0),
    holders: new Uint32Array(0),
    skipped: Uint32Array.from([...plan.skipped, ...plan.declined]),
    cutChildrenOf: plan.cutChildrenOf,
    resetParentOf: plan.resetParentOf,
  }
  if (opts.tree === true) planned.unloadPlan = withTrees(graph, planned.unloadPlan, rootNodes, opts.shared, tree)
  return planned
}

function planOn(cache, graph, roots, opts) {
  const rootNodes = flatten.indicesOf(graph, roots.map((key) => cache[key]))
  const { accepted, declined } = markHotPolicies(cache, graph, opts.keep, new Set(rootNodes))
  const plan = native.planInvalidate(
    graph.offsets,
    graph.targets,
    graph.flags,
    graph.parent,
    graph.cachedCount,
    rootNodes,
    accepted,
    declined,
  )
  return { graph, plan, rootNodes }
}

/** Indices into `tree` (a graph joined into `graph`) as indices into `graph`. */
function joinedIndices(graph, tree, indices) {
  return flatten.indicesOf(graph, flatten.nodesAt(tree, indices))
}

/**
 * The roots of the targets' trees (modules): what the targets reach that the plan removes (a walk
 * of the plan's small graph, not entering boundaries).
 */
function treeRootsOf(graph, { plan, rootNodes }) {
  const removedMark = new Uint8Array(graph.nodes.length)
  for (const i of plan.removed) removedMark[i] = 1
  const seen = new Uint8Array(graph.nodes.length)
  const queue = []
  for (const r of rootNodes) if (removedMark[r] === 1 && seen[r] === 0) (seen[r] = 1), queue.push(r)
  for (let q = 0; q < queue.length; q++) {
    const i = queue[q]
    for (let e = graph.offsets[i]; e < graph.offsets[i + 1]; e++) {
      const t = graph.targets[e]
      if (seen[t] === 1 || (graph.flags[t] & flatten.BOUNDARY) !== 0) continue
      seen[t] = 1
      queue.push(t)
    }
  }
  return flatten.nodesAt(graph, queue.filter((i) => removedMark[i] === 1))
}

/** The targets (keys) whose modules can be tree roots: every one that is no boundary. */
function guessTreeRoots(cache, graph, roots) {
  const out = []
  for (const key of roots) {
    const i = graph.index.get(cache[key])
    if (i !== undefined && (graph.flags[i] & flatten.BOUNDARY) === 0 && !out.includes(cache[key])) out.push(cache[key])
  }
  return out
}

function sameMembers(a, b) {
  if (a.length !== b.length) return false
  const set = new Set(a)
  for (const x of b) if (!set.has(x)) return false
  return true
}

/**
 * invalidate() on validated require.cache keys. Returns the report and the errors thrown by the
 * new code the library ran for accepting modules (`failures`, also in report.errors), which
 * reload() treats as a failed reload. `capture` (reload) receives what the cuts change;
 * `fullScan` plans on a flatten of the whole cache (benchmark/invalidate.js compares).
 */
function invalidateKeys(cache, keys, opts, { fromFile, capture, fullScan = false } = {}) {
  const skippedRoots = []
  const roots = []
  for (const key of keys) {
    if (opts.keep !== undefined && opts.keep(key)) skippedRoots.push({ id: key, reason: 'kept-by-option' })
    else roots.push(key)
  }
  if (roots.length === 0 && capture === undefined) {
    const report = emptyReport()
    report.skipped = skippedRoots
    return { report: track(report, [], [], opts.dryRun), failures: [] }
  }
  const { graph, plan, unloadPlan } = planInvalidation(cache, roots, opts, { fullScan })
  for (const i of plan.declined) graph.reasons.set(i, 'declined')
  const report = executePlan(cache, graph, unloadPlan, { dryRun: opts.dryRun, capture })
  for (let k = 0; k < plan.declined.length; k++) {
    const blocked = plan.blocked.subarray(plan.blockedOffsets[k], plan.blockedOffsets[k + 1])
    report.skipped[plan.skipped.length + k].blocked = Array.from(blocked, (r) => graph.ids[r])
  }
  report.skipped = withSkippedRoots(skippedRoots, report.skipped)
  const failures = []
  if (!opts.dryRun) {
    runAcceptHandlers(graph, plan, report, failures)
    requireSelfAccepted(cache, graph, plan, report, failures, fromFile ?? callerFile())
  }
  return { report, failures }
}

/** See index.d.ts. */
function invalidate(changed, options) {
  assertNotReentrant('invalidate')
  const opts = parseInvalidateOptions(options)
  const cache = liveCache('invalidate')
  // The caller's file costs a stack trace: taken only when a target or a self-accepting module
  // needs it.
  let from = opts.from
  const fromFile = () => (from ??= callerFile())
  const keys = resolveTargets(cache, changed, fromFile, { allowMain: true })
  assertNoEsm(cache, changed, keys, fromFile, 'invalidate')
  return invalidateKeys(cache, keys, opts, { fromFile }).report
}

module.exports = { invalidate, invalidateKeys, planInvalidation, parseInvalidateOptions }
