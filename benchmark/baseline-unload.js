'use strict'
// The benchmark's baseline: uncache-tree's unload algorithm (docs/node-internals.md §5, shared:
// 'keep') written in plain JavaScript, no native code. uncache-tree is measured against this,
// so it is written to be as fast as plain JS gets, not as a strawman:
//
// - The identity Map covers only the closure of the target, not the whole cache. Every cached
//   module is still visited (reference counting needs every holder), but for a 50-module plugin
//   in a 30k-module app, 75k lookups hit a 60-entry table that stays in the CPU cache.
// - Edges inside the closure are copied once into a small CSR (plain int arrays), so the keep
//   fixpoint and the importers-first order never read `children` of live objects again.
// - Marks are typed arrays indexed by closure position; no per-module objects are allocated.
// - Nothing is ever written to Module objects except the cuts themselves (tagging them would
//   turn them into slow dictionary-mode objects on Node >= 22, docs/napi.md §3.4).
//
// Steps: (0) gather the holders (cached values, plus requirers outside the cache found through
// `parent`); (1) forward closure over `children`, not entering `.node` addons, the main module
// or modules still loading; (2) a closure member that a live holder outside the closure
// requires is kept (the target itself excepted), and kept members keep what they require;
// removed = closure minus kept, importers first; (3) the cuts. Returns `{ removed }`, the
// deleted require.cache keys in order.
const Module = require('node:module')

const isModuleLike = (v) => v !== null && typeof v === 'object' && Array.isArray(v.children)

/** Never walked, never removed: native addons, the main module, modules whose code still runs. */
function isBoundary(m, main) {
  if (!isModuleLike(m)) return true
  if (m === main || m.loaded === false) return true
  const f = m.filename
  return typeof f === 'string' && f.endsWith('.node')
}

/** Drops from `children` the entries that are removed closure members; one write-index pass. */
function cutChildren(children, idx, removedMark) {
  let write = 0
  for (let read = 0; read < children.length; read++) {
    const c = children[read]
    const k = idx.get(c)
    if (k === undefined || k < 0 || removedMark[k] === 0) children[write++] = c
  }
  children.length = write
}

/**
 * Unloads `target` (a require.cache key / absolute filename, or a Module) and every module of
 * its `children` tree that no live module outside that tree still requires.
 * @returns {{ removed: string[] }}
 */
function baselineUnload(target) {
  const cache = Module._cache
  const root = typeof target === 'string' ? cache[target] : target
  if (root === undefined) return { removed: [] }
  if (!isModuleLike(root)) {
    // A JSON object or mock under that key: delete it, there is nothing below it to walk.
    delete cache[target]
    return { removed: [target] }
  }
  const main = require.main

  // (1) Forward closure. idx: member -> closure position; boundaries met map to -1 so that
  // they are classified once. edgeStart/edgeTo: the closure's own edges, as CSR.
  const members = [root]
  const idx = new Map([[root, 0]])
  const edgeStart = [0]
  const edgeTo = []
  for (let i = 0; i < members.length; i++) {
    const children = members[i].children
    for (let j = 0; j < children.length; j++) {
      const c = children[j]
      let k = idx.get(c)
      if (k === undefined) {
        if (isBoundary(c, main)) {
          idx.set(c, -1)
          continue
        }
        k = members.length
        idx.set(c, k)
        members.push(c)
      }
      if (k >= 0) edgeTo.push(k)
    }
    edgeStart.push(edgeTo.length)
  }
  const n = members.length

  // (0) + (2a) One pass over every holder outside the closure: seed `kept` with the members it
  // requires, and remember the holders that need cuts later. Holders are the cached modules
  // (deduplicated by identity: a module under a second key is skipped when its canonical
  // filename key holds it too) and the requirers outside the cache, found through `parent`.
  // A requirer outside the cache holds only when it was never loaded as a file (createRequire
  // proxies, preloads, the REPL): a loaded module that someone deleted from the cache does not.
  const keyOf = new Array(n) // the first require.cache key of each member
  const extraKeys = [] // [key, member] pairs for members cached under more than one key
  const kept = new Uint8Array(n)
  const keptQueue = new Int32Array(n)
  let keptCount = 0
  const touching = [] // holders with at least one member in `children`
  const parentInClosure = [] // holders whose `parent` is a member
  const outside = new Set()
  let aliases = null

  const scanHolder = (h, holds) => {
    const children = h.children
    let touches = false
    for (let j = 0; j < children.length; j++) {
      const k = idx.get(children[j])
      if (k === undefined || k < 0) continue
      touches = true
      if (holds && k !== 0 && kept[k] === 0) {
        kept[k] = 1
        keptQueue[keptCount++] = k
      }
    }
    if (touches) touching.push(h)
    const p = h.parent
    if (p === undefined || p === null) return
    const pk = idx.get(p)
    if (pk !== undefined && pk >= 0) parentInClosure.push(h)
    else if (pk === undefined && isModuleLike(p) && cache[p.filename] !== p && !outside.has(p)) {
      outside.add(p)
      scanHolder(p, p.loaded === false)
    }
  }

  const keys = Object.keys(cache)
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]
    const v = cache[key]
    const k = idx.get(v)
    if (k !== undefined && k >= 0) {
      if (keyOf[k] === undefined) keyOf[k] = key
      else extraKeys.push(key, k)
      continue
    }
    if (!isModuleLike(v)) continue
    if (key !== v.filename) {
      if (cache[v.filename] === v) continue // seen (or to be seen) under its own filename
      if (aliases === null) aliases = new Set()
      if (aliases.has(v)) continue
      aliases.add(v)
    }
    scanHolder(v, true)
  }

  // (2b) Kept members keep what they require inside the closure (never the target).
  for (let q = 0; q < keptCount; q++) {
    const k = keptQueue[q]
    for (let e = edgeStart[k]; e < edgeStart[k + 1]; e++) {
      const t = edgeTo[e]
      if (t !== 0 && kept[t] === 0) {
        kept[t] = 1
        keptQueue[keptCount++] = t
      }
    }
  }

  // (2c) Removed members, importers first: reverse post-order of an iterative DFS from the
  // target through removed members. Every removed member is reached that way (a member reached
  // only through a kept one is kept itself).
  const removedMark = new Uint8Array(n)
  const order = new Int32Array(n)
  let orderLen = 0
  const stackNode = new Int32Array(n)
  const stackEdge = new Int32Array(n)
  let top = 0
  removedMark[0] = 1
  stackNode[0] = 0
  stackEdge[0] = edgeStart[0]
  while (top >= 0) {
    const k = stackNode[top]
    const e = stackEdge[top]
    if (e < edgeStart[k + 1]) {
      stackEdge[top] = e + 1
      const t = edgeTo[e]
      if (kept[t] === 0 && removedMark[t] === 0) {
        removedMark[t] = 1
        top++
        stackNode[top] = t
        stackEdge[top] = edgeStart[t]
      }
    } else {
      order[orderLen++] = k
      top--
    }
  }

  // (3) The cuts. Cache keys first, in importers-first order.
  const removed = []
  const removedNames = new Set()
  for (let r = orderLen - 1; r >= 0; r--) {
    const k = order[r]
    const key = keyOf[k]
    if (key !== undefined) {
      delete cache[key]
      removed.push(key)
      removedNames.add(key)
    }
    const f = members[k].filename
    if (typeof f === 'string') removedNames.add(f)
  }
  for (let i = 0; i < extraKeys.length; i += 2) {
    if (removedMark[extraKeys[i + 1]] === 1) {
      delete cache[extraKeys[i]]
      removed.push(extraKeys[i])
    }
  }
  // Survivors' edges into the removed set: holders outside the closure, and kept members
  // (which can only point back at the target).
  for (let i = 0; i < touching.length; i++) cutChildren(touching[i].children, idx, removedMark)
  for (let k = 1; k < n; k++) {
    if (kept[k] === 0) continue
    for (let e = edgeStart[k]; e < edgeStart[k + 1]; e++) {
      if (removedMark[edgeTo[e]] === 1) {
        cutChildren(members[k].children, idx, removedMark)
        break
      }
    }
    const pk = idx.get(members[k].parent)
    if (pk !== undefined && pk >= 0 && removedMark[pk] === 1) members[k].parent = undefined
  }
  for (let i = 0; i < parentInClosure.length; i++) {
    const h = parentInClosure[i]
    if (removedMark[idx.get(h.parent)] === 1) h.parent = undefined
  }
  for (let r = 0; r < orderLen; r++) {
    const m = members[order[r]]
    m.children.length = 0
    m.parent = undefined
  }
  // Object.keys, not for-in (which re-checks every key): measured a little faster.
  const pathCache = Module._pathCache
  const pathKeys = Object.keys(pathCache)
  for (let i = 0; i < pathKeys.length; i++) {
    if (removedNames.has(pathCache[pathKeys[i]])) delete pathCache[pathKeys[i]]
  }
  return { removed }
}

module.exports = { baselineUnload }
