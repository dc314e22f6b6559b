'use strict'
// The plan of a snapshot restore, over plain data (the graph live.flattenSince builds; no Module
// objects here): which of the modules loaded since are unloaded and in what order, which stay
// and why, which edges and parent pointers are cut.
//
// Written in JavaScript, not in the Rust core. The graph is only what was loaded since plus its
// requirers (20 nodes for a typical test), already held in JS typed arrays; the plan is two
// linear passes over it, a few microseconds. Crossing into Rust would cost the same again in
// argument and result conversion (seven typed arrays back) and buy no better complexity, and
// the dominant cost of a restore is reading live `children` arrays, which only JS can do.
//
// Semantics (the API contract in README.md and index.d.ts, `snapshot`): every module loaded since is unloaded, whoever requires it now
// (a module loaded before that required it since loses that edge), except boundaries (`.node`
// addons, modules still loading, modules kept by option), which stay with everything loaded
// since that they require.
const { BOUNDARY } = require('../graph/live.js')

const KEPT = 1
const REMOVED = 2

/**
 * @param {{ offsets: Int32Array, targets: Int32Array, flags: Uint8Array, parent: Int32Array,
 *   cachedCount: number, cutFrom: Int32Array }} graph nodes [0, cachedCount) were loaded since;
 *   the others are their requirers, which stay.
 * @returns the UnloadPlan shape executePlan takes, plus `cutChildrenFrom`
 */
function planRestore(graph) {
  const { offsets, targets, flags, parent, cachedCount: since } = graph
  const n = offsets.length - 1
  const state = new Uint8Array(n)

  // Boundaries stay, and so does everything loaded since that they require, transitively.
  // `kept` lists only what a boundary requires directly, with those boundaries as holders (the
  // modules those require stay too and are not listed, as in uncacheTree's report).
  const skipped = []
  const queue = []
  for (let i = 0; i < since; i++) {
    if ((flags[i] & BOUNDARY) !== 0) {
      skipped.push(i)
      state[i] = KEPT
      queue.push(i)
    }
  }
  const directHolders = new Map()
  for (let q = 0; q < queue.length; q++) {
    const h = queue[q]
    const isBoundary = (flags[h] & BOUNDARY) !== 0
    for (let e = offsets[h]; e < offsets[h + 1]; e++) {
      const c = targets[e]
      if ((flags[c] & BOUNDARY) !== 0) continue
      if (isBoundary) {
        const holders = directHolders.get(c)
        if (holders === undefined) directHolders.set(c, [h])
        else if (!holders.includes(h)) holders.push(h)
      }
      if (state[c] === 0) {
        state[c] = KEPT
        queue.push(c)
      }
    }
  }
  for (let i = 0; i < since; i++) if (state[i] === 0) state[i] = REMOVED

  const plan = {
    removed: importersFirst(offsets, targets, state, since),
    kept: Uint32Array.from(directHolders.keys()),
    holderOffsets: new Uint32Array(directHolders.size + 1),
    holders: Uint32Array.from([...directHolders.values()].flat()),
    skipped: Uint32Array.from(skipped),
    cutChildrenOf: [],
    cutChildrenFrom: [],
    resetParentOf: [],
  }
  let offset = 0
  let k = 0
  for (const holders of directHolders.values()) {
    offset += holders.length
    plan.holderOffsets[++k] = offset
  }

  // Requirers that stay lose their edges to removed modules (only their recorded tail holds
  // any); a module that stays and names a removed one as its parent gets that pointer reset.
  for (let i = 0; i < n; i++) {
    if (state[i] === REMOVED) continue
    if (i >= since) {
      for (let e = offsets[i]; e < offsets[i + 1]; e++) {
        if (state[targets[e]] === REMOVED) {
          plan.cutChildrenOf.push(i)
          plan.cutChildrenFrom.push(graph.cutFrom[i])
          break
        }
      }
    }
    const p = parent[i]
    if (p >= 0 && state[p] === REMOVED) plan.resetParentOf.push(i)
  }
  plan.cutChildrenOf = Uint32Array.from(plan.cutChildrenOf)
  plan.cutChildrenFrom = Int32Array.from(plan.cutChildrenFrom)
  plan.resetParentOf = Uint32Array.from(plan.resetParentOf)
  return plan
}

/**
 * The removed nodes, each before the modules it requires (the order dispose handlers run):
 * reverse post-order of a depth-first walk started from each node in load order; inside a
 * cycle the order follows discovery. Iterative, so a long require chain cannot overflow.
 */
function importersFirst(offsets, targets, state, since) {
  const visited = new Uint8Array(state.length)
  const post = []
  const stackNode = []
  const stackEdge = []
  for (let root = 0; root < since; root++) {
    if (state[root] !== REMOVED || visited[root] === 1) continue
    visited[root] = 1
    stackNode.push(root)
    stackEdge.push(offsets[root])
    while (stackNode.length > 0) {
      const top = stackNode.length - 1
      const node = stackNode[top]
      const e = stackEdge[top]
      if (e < offsets[node + 1]) {
        stackEdge[top] = e + 1
        const child = targets[e]
        if (state[child] === REMOVED && visited[child] === 0) {
          visited[child] = 1
          stackNode.push(child)
          stackEdge.push(offsets[child])
        }
      } else {
        post.push(node)
        stackNode.pop()
        stackEdge.pop()
      }
    }
  }
  post.reverse()
  return Uint32Array.from(post)
}

module.exports = { planRestore }
