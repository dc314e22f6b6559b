'use strict'
// Which modules an uncacheTree (shared: 'keep') removes, decided without walking the forward
// closure of the roots: asked backwards, through the live graph index, from each module a removed
// one requires.
//
// The rule is the full plan's (src/graph.rs `plan_unload`): a module of the closure stays when a
// live holder outside the closure reaches it without passing through a root. `tree-graph.js`
// `decideRemoved` applies it to the walked closure, which for a plugin that requires a few
// modules of the main graph means walking everything those reach (3,200 modules for the
// benchmark's 50-module plugin). Here, a module `c` that a removed module requires is decided by
// a depth-first search up its holders:
// - it stays as soon as the search meets an anchor: a boundary (the main module, an addon, a
//   module still loading, one kept by the option), a requirer that holds from outside the cache,
//   a module already known to stay, or a cached module that nothing lists (it cannot be in the
//   closure, so it is a live holder outside it). Every module on the search path stays too;
// - when the search ends without one, it has read every ancestor of `c` short of the roots. Those
//   the roots do not reach through them are outside the closure, hence anchors (cached modules or
//   requirers that hold: see below), and what they reach stays. The rest of the closure goes.
// A referrer that was garbage collected is skipped. One that other code deleted from the cache
// holds only from inside the closure (the full plan reads no module outside the cache that is
// outside the closure): it is climbed through when it was walked, else the search gives up.
// A plugin module's search ends inside the plugin; a main-graph module's climbs to the main module
// in a few steps. The removed modules and what they require are the walked set, in the shape of
// `walk()`'s result, so the rest of the index plan is shared.
//
// It gives up (returns undefined; the caller walks the closure) after more work than `budget`, or
// once the removed modules and what they require are more than `maxNodes` (a tree that is a large
// part of the graph is planned faster by one pass over the cache), on such
// a deleted module, or on a referrer the index cannot map back at all (an id made by an older
// copy of the package). A
// module the index never fully saw makes it return `{ unknown: true }`: the caller reads the
// graph anew.
const registry = require('./registry.js')
const graphIndex = require('./graph-index.js')
const { BOUNDARY } = require('./flatten.js')
const { childrenOf, parentOf, holdsFromOutside } = require('./module-fields.js')

const { isModuleLike } = registry
const STAYS = 1
const GOES = 2

// Why a search stopped short (`halt`).
const GIVE_UP = 1
const UNKNOWN = 2

/**
 * One search's state, with its steps as methods. Not closures made per call: while V8 compiles a
 * hot function in the background, the job keeps that function object, and a closure's context
 * would keep this unload's modules alive with it until the job is finalized (the soak test saw
 * an old generation outlive six forced collections that way, and never with the concurrent
 * compiler off). Errors are not used to stop either: a thrown Error keeps its frames.
 */
class AncestorSearch {
  constructor(cache, keep, b, boundaryReason, budget) {
    this.cache = cache
    this.keep = keep
    this.b = b
    this.boundaryReason = boundaryReason
    this.budget = budget
    this.gi = registry.state.graphIndex
    this.outside = graphIndex.byId(this.gi, registry.outsideRequirers().filter(holdsFromOutside))
    this.status = new Map()
    this.holders = new Map()
    this.rootSet = new Set()
    this.work = 0
    this.halt = 0 // GIVE_UP or UNKNOWN once the search cannot answer
  }

  /** Whether the index fully knows `m` (else the search halts: the graph must be read anew). */
  known(m) {
    if (graphIndex.isKnown(this.gi, m)) return true
    this.halt = UNKNOWN
    return false
  }

  /**
   * The live modules whose `children` list `m`, found as they are asked for: a search that climbs
   * through the first holder of each module maps back one referrer per step, not all of them.
   * `holderAt(entry, k)` is the k-th (undefined past the last, or when the search halts);
   * `allHolders` maps back the rest. Every referrer that is mapped back must map (see the file
   * comment).
   */
  holdersOf(m) {
    let entry = this.holders.get(m)
    if (entry !== undefined) return entry
    const [referrers, count] = graphIndex.referrersOfOne(this.gi, m)
    entry = { m, ids: referrers.slice(0, count), next: 0, list: [] }
    this.holders.set(m, entry)
    return entry
  }

  holderAt(entry, k) {
    const { m, ids, list } = entry
    while (list.length <= k && entry.next < ids.length && this.halt === 0) {
      const id = ids[entry.next++]
      if (++this.work > this.budget) {
        this.halt = GIVE_UP
        break
      }
      const object = graphIndex.liveObject(this.gi, this.cache, id, this.outside)
      // A key that changed since the index read it: the graph is read anew (as for an unknown module).
      if (this.gi.changed) {
        this.halt = UNKNOWN
        break
      }
      if (object === graphIndex.GONE) continue
      const h = object[1]
      if (!isModuleLike(h) || !childrenOf(h).includes(m)) continue
      // One that other code deleted from the cache holds only from inside the closure (as in the
      // full plan): climbed through when walked (it is in the closure), else not decidable here.
      if (object[0] === null && !this.b.index.has(h)) {
        this.halt = GIVE_UP
        break
      }
      list.push(h)
    }
    return this.halt === 0 ? list[k] : undefined
  }

  allHolders(entry) {
    this.holderAt(entry, Infinity)
    return entry.list
  }

  isCached(h) {
    return graphIndex.cachedModule(this.gi, this.cache, this.gi.ids.get(h))?.[1] === h
  }

  /**
   * Anchors that need no search (see the file comment). A requirer compiled outside the cache may
   * have been put into it since: then it is a cached module like the others.
   */
  isAnchor(h) {
    return (
      this.status.get(h) === STAYS ||
      this.boundaryReason(this.cache, h, this.keep) !== undefined ||
      (this.outside.has(this.gi.ids.get(h)) && !this.b.index.has(h) && !this.isCached(h))
    )
  }

  /** Decides `c` (a module a removed one requires; not a boundary), unless the search halts. */
  decide(c) {
    const seen = [c]
    const seenSet = new Set(seen)
    const path = [c]
    const lists = [this.holdersOf(c)]
    const next = [0]
    while (path.length > 0) {
      const top = path.length - 1
      const h = this.holderAt(lists[top], next[top]++)
      if (this.halt !== 0) return
      if (h === undefined) {
        path.pop()
        lists.pop()
        next.pop()
        continue
      }
      if (this.rootSet.has(h) || seenSet.has(h) || this.status.get(h) === GOES) continue
      if (this.isAnchor(h)) return this.stayAlong(path)
      if (!this.known(h)) return
      seenSet.add(h)
      seen.push(h)
      const above = this.holdersOf(h)
      const first = this.holderAt(above, 0)
      if (this.halt !== 0) return
      // Nothing lists it, it is not a root: no module of the closure requires it.
      if (first === undefined && this.isCached(h)) return this.stayAlong(path, h)
      path.push(h)
      lists.push(above)
      next.push(0)
    }
    this.settle(seen, seenSet)
  }

  stayAlong(path, last) {
    for (const m of path) this.status.set(m, STAYS)
    if (last !== undefined) this.status.set(last, STAYS)
  }

  /**
   * Every ancestor of the decided module short of the roots is in `seen`. In the closure are those
   * a root or a removed module lists, and what they list among `seen`; the others are cached
   * modules outside it, and everything they reach in `seen` stays. The rest goes.
   */
  settle(seen, seenSet) {
    const inClosure = new Set()
    const below = new Map()
    const queue = []
    for (const y of seen) {
      for (const h of this.allHolders(this.holders.get(y))) {
        if (this.rootSet.has(h) || this.status.get(h) === GOES) {
          if (!inClosure.has(y)) inClosure.add(y), queue.push(y)
        } else if (seenSet.has(h)) {
          let list = below.get(h)
          if (list === undefined) below.set(h, (list = []))
          list.push(y)
        }
      }
    }
    spread(below, inClosure, queue)
    const stays = new Set(seen.filter((y) => !inClosure.has(y)))
    spread(below, stays, [...stays])
    for (const y of seen) this.status.set(y, stays.has(y) ? STAYS : GOES)
  }
}

/** Adds to `set` everything `below` reaches from the queue `q` (which grows as it goes). */
function spread(below, set, q) {
  for (let k = 0; k < q.length; k++) {
    for (const y of below.get(q[k]) ?? []) if (!set.has(y)) set.add(y), q.push(y)
  }
}

/**
 * @param {object} cache require.cache
 * @param {unknown[]} roots the target modules
 * @param {((id: string) => boolean)|undefined} keep the keep option
 * @param {import('./tree-graph.js').TreeBuilder} b an empty TreeBuilder (the walked set goes there)
 * @param {(cache: object, m: unknown, keep?: Function) => string|undefined} boundaryReason why a
 *   module met is never unloaded or walked (tree-graph.js)
 * @param {number} budget modules and references to read before giving up
 * @param {number} maxNodes how many modules the removed ones and what they require may be before
 *   giving up (a tree that large is planned by one pass over the cache)
 * @returns {{ closure: { b: object, childIndices: number[][], unknown: false }, order: number[] }
 *   | { unknown: true } | undefined}
 */
function decideByAncestors(cache, roots, keep, b, boundaryReason, budget, maxNodes) {
  const search = new AncestorSearch(cache, keep, b, boundaryReason, budget)
  const { rootSet, status } = search
  const childIndices = []
  for (const r of roots) {
    if (b.index.has(r)) continue
    if (!search.known(r)) return { unknown: true }
    b.add(r, 0)
    childIndices.push([])
    rootSet.add(r)
  }
  // A root's own referrers must map back too: the cuts of those that stay depend on them.
  for (const r of rootSet) search.allHolders(search.holdersOf(r))
  if (search.halt !== 0) return undefined
  const order = b.nodes.map((_, i) => i)
  const removed = new Set(order)
  for (let k = 0; k < order.length; k++) {
    const i = order[k]
    const m = b.nodes[i]
    if (!isModuleLike(m)) continue
    b.parents[i] = parentOf(m)
    const children = childrenOf(m)
    search.work += children.length
    for (let j = 0; j < children.length; j++) {
      const child = children[j]
      let t = b.index.get(child)
      if (t === undefined) {
        if (!isModuleLike(child)) continue
        if (!search.known(child)) return { unknown: true }
        t = b.addChild(cache, child, keep)
        childIndices.push([])
        // The removed modules and what they require already make a large tree: planned by one
        // pass over the cache (tree-graph.js isLarge), so stop before the search costs more.
        if (b.nodes.length > maxNodes) return undefined
      }
      childIndices[i].push(t)
      b.from.push(i)
      b.to.push(t)
      if (b.flags[t] & BOUNDARY || rootSet.has(child)) continue
      if (!status.has(child)) search.decide(child)
      if (search.halt !== 0) return search.halt === UNKNOWN ? { unknown: true } : undefined
      if (status.get(child) === GOES && !removed.has(t)) {
        removed.add(t)
        order.push(t)
      }
    }
  }
  return { closure: { b, childIndices, unknown: false }, order }
}

module.exports = { decideByAncestors }
