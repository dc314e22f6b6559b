'use strict'
// A reload's rollback: what the cuts are about to change, taken before they run (`captureCuts`),
// and put back when the new code throws (`restoreCuts`): the `children` arrays, parents,
// `_pathCache` entries, the removed require.cache entries and their place in the key order (as
// ranks, key-order.js: a reload that succeeds never reads every key; only a rollback does).
// lib/hot/reload.js runs the transaction.
const Module = require('node:module')
const { forgetPaths, indexPath } = require('./path-cache.js')
const { isModuleLike, state } = require('./state.js')
const { noteInserted } = require('../loader/patches.js')
const { on } = require('./hooks.js')
const { outsideRequirers } = require('./outside-requirers.js')
const graphIndex = require('./graph-index.js')
const keyOrder = require('./key-order.js')
const { childrenOf, parentOf, filenameOf, readRefs, isCachedInstance } = require('./module-fields.js')
const { isRewritable, setParent } = require('./cuts.js')


/**
 * Everything `applyCuts` is about to change for `plan`, taken before dispose handlers run, so
 * that `restoreCuts` can put it back exactly: the `children` arrays it filters or empties (their
 * contents; the arrays keep their identity), the parent pointers it resets, the Module._pathCache
 * entries it drops, the removed require.cache entries and where their keys sit in the key order:
 * their ranks (key-order.js), so that a reload costs what it removes, not the cache size. When a
 * removed key has no rank (the first reload of a process, a key made by hand since the last full
 * read), the whole key order is read instead (`keys`) and ranked for the next time. From now
 * until `stop()`, it also records the modules that load (the failed attempt's, to be unloaded)
 * and the length of each requirer's `children` before its first require (what it requires is
 * appended, and dropped again at the rollback).
 * @param {{ keys: string[], values: unknown[] }} entries the removed require.cache entries
 */
function captureCuts(cache, graph, plan, staleKeys, entries) {
  const children = new Map()
  const parents = new Map()
  for (const i of plan.cutChildrenOf) {
    const m = graph.nodes[i]
    if (isModuleLike(m)) children.set(m, childrenOf(m).slice())
  }
  for (const i of plan.resetParentOf) parents.set(graph.nodes[i], parentOf(graph.nodes[i]))
  for (const i of plan.removed) {
    const m = graph.nodes[i]
    if (!isModuleLike(m)) continue
    children.set(m, childrenOf(m).slice())
    parents.set(m, parentOf(m))
  }
  const pathCache = Module._pathCache
  const pathEntries = staleKeys.map((key) => [key, pathCache[key]])
  const removed = new Map()
  for (let e = 0; e < entries.keys.length; e++) removed.set(entries.keys[e], entries.values[e])
  const loaded = new Map() // module -> the key it loaded under
  const grown = new Map() // requirer -> its children's length before its first require
  const pathKeysAdded = new Set() // Module._pathCache keys the attempt makes
  const stops = [
    on('load', (m, key) => {
      loaded.set(m, key)
      // A Module made without Module._load (rewire) was appended to its parent's `children`
      // with no require() seen.
      const parent = parentOf(m)
      if (isModuleLike(parent) && !grown.has(parent) && !children.has(parent)) {
        const at = childrenOf(parent).lastIndexOf(m)
        grown.set(parent, at >= 0 ? at : childrenOf(parent).length)
      }
    }),
    on('require', (parent) => {
      if (grown.has(parent) || children.has(parent)) return
      grown.set(parent, childrenOf(parent).length)
    }),
    on('resolve', (key) => pathKeysAdded.add(key)),
  ]
  const rankList = keyOrder.ranksOf(entries.keys, entries.values)
  const ranks = rankList === undefined ? undefined : new Map(entries.keys.map((key, e) => [key, rankList[e]]))
  const keys = ranks === undefined ? keyOrder.rankAll(cache) : undefined
  // Without the whole key list, which modules were cached before the attempt is known for the
  // ones the cuts touch: a rollback puts back an entry the attempt emptied only for one of these
  // (not a copy other code had deleted from the cache before the reload).
  let cachedBefore
  if (ranks !== undefined) {
    cachedBefore = new WeakSet()
    for (const items of children.values()) for (const m of items) if (isModuleLike(m) && isCachedInstance(m)) cachedBefore.add(m)
    for (const m of parents.values()) if (isModuleLike(m) && isCachedInstance(m)) cachedBefore.add(m)
  }
  const since = keyOrder.nextRank()
  keyOrder.captureOpen(true)
  let open = true
  const stop = () => {
    if (!open) return
    open = false
    for (const off of stops) off()
    keyOrder.captureOpen(false)
  }
  return { keys, ranks, since, cachedBefore, removed, children, parents, pathEntries, loaded, grown, pathKeysAdded, stop }
}

/**
 * The modules that held the keys a failed attempt emptied or filled anew (`lost`: code that
 * deleted a shared module's entry and required it again), key -> module. The capture does not
 * read every value (that costs as much again as the key order, on every reload): a module that
 * lost its entry is found where it is still referenced, in the captured `children` and parents,
 * and in the `children` of the cached modules and the requirers outside the cache. Only a
 * rollback that meets such a key pays it.
 */
function replacedEntries(cache, capture, currentKeys, lost) {
  const found = new Map()
  for (const items of capture.children.values()) for (const m of items) considerReplaced(m, lost, capture, found)
  for (const m of capture.parents.values()) considerReplaced(m, lost, capture, found)
  for (const key of currentKeys) {
    const holder = cache[key]
    if (isModuleLike(holder)) for (const m of childrenOf(holder)) considerReplaced(m, lost, capture, found)
  }
  for (const holder of outsideRequirers()) for (const m of childrenOf(holder)) considerReplaced(m, lost, capture, found)
  return found
}

/** Keeps `m` in `found` when it is a module of before the attempt that lost its key. */
function considerReplaced(m, lost, capture, found) {
  if (!isModuleLike(m) || capture.loaded.has(m) || state.abandoned.has(m)) return
  if (capture.cachedBefore !== undefined && !capture.cachedBefore.has(m)) return
  const filename = filenameOf(m)
  if (filename !== undefined && lost.has(filename) && !found.has(filename)) found.set(filename, m)
}

/**
 * Before a rollback unloads what the failed attempt loaded (reload.js): the keys the attempt put
 * into require.cache, to be gone after the rollback. With ranks (see captureCuts): the keys of the
 * modules it loaded, and the keys with no rank after the first of them (made by hand meanwhile:
 * keys are appended, so a key made before the attempt sits before every key it inserted). Reads
 * every key: a rollback costs the cache size, a reload that succeeds does not.
 */
function noteAttemptKeys(cache, capture) {
  if (capture.keys !== undefined) return
  const made = new Set()
  let started = false
  for (const key of Object.keys(cache)) {
    const value = cache[key]
    const rank = keyOrder.rankOf(key, value)
    const loadedNow = capture.loaded.has(value) || (rank !== undefined && rank >= capture.since)
    if (loadedNow) started = true
    if (loadedNow || (started && rank === undefined && !capture.removed.has(key))) made.add(key)
  }
  capture.made = made
}

/**
 * The key order and values require.cache had before the attempt, from the whole order the capture
 * read (`capture.keys`): `[keys, values]`, values[k] undefined for an entry that stays deleted.
 */
function capturedOrder(cache, capture, current) {
  const { keys, removed } = capture
  const values = new Array(keys.length)
  let lost // key -> its index in `keys`, for the entries the attempt emptied or filled anew
  for (let k = 0; k < keys.length; k++) {
    const key = keys[k]
    if (removed.has(key)) values[k] = removed.get(key)
    else {
      const value = cache[key]
      if (value === undefined || capture.loaded.has(value)) (lost ??= new Map()).set(key, k)
      else values[k] = value
    }
  }
  if (lost !== undefined) for (const [key, m] of replacedEntries(cache, capture, current, lost)) values[lost.get(key)] = m
  return [keys, values]
}

/**
 * The same from the ranks the capture took (key-order.js): the keys that stay, in their order now,
 * with the removed keys, and the keys the attempt emptied or filled anew (a shared module its code
 * deleted and required again), placed back by rank. Keys the attempt made are left out
 * (noteAttemptKeys).
 */
function rankedOrder(cache, capture, current) {
  const { removed, ranks } = capture
  const made = capture.made ?? new Set()
  const kept = []
  const keptValues = []
  let lost
  for (const key of current) {
    if (removed.has(key)) continue
    const value = cache[key]
    if (made.has(key) || capture.loaded.has(value)) (lost ??= new Map()).set(key, true)
    else kept.push(key), keptValues.push(value)
  }
  for (const key of made) if (!removed.has(key) && cache[key] === undefined) (lost ??= new Map()).set(key, true)
  const byKey = new Map(removed)
  const placed = []
  for (const [key] of removed) placed.push([key, ranks.get(key)])
  if (lost !== undefined) {
    for (const [key, m] of replacedEntries(cache, capture, current, lost)) {
      byKey.set(key, m)
      placed.push([key, keyOrder.rankOf(key, m)])
    }
  }
  const keys = keyOrder.placeRemoved(kept, keptValues, placed)
  return [keys, keys.map((key) => (byKey.has(key) ? byKey.get(key) : cache[key]))]
}

/**
 * Puts back what `captureCuts` recorded, after the modules loaded since have been unloaded:
 * require.cache gets the keys, values and key order it had (`Object.keys` compares equal element
 * by element; with ranks, see key-order.js for keys made by hand), every `children` array its
 * elements, every reset parent its value, Module._pathCache its dropped entries. A module that
 * required something while the cuts were in place (a survivor's lazy require) loses what that
 * appended. Reads every key of the cache: only a failed reload pays that.
 */
function restoreCuts(cache, capture) {
  const { removed } = capture
  const current = Object.keys(cache)
  const [keys, values] = capture.keys !== undefined ? capturedOrder(cache, capture, current) : rankedOrder(cache, capture, current)
  let same = 0
  while (same < current.length && same < keys.length && current[same] === keys[same] && cache[keys[same]] === values[same]) same++
  // Keys keep insertion order: re-adding the tail from the first difference restores it, each
  // with the value it had (a shared module that the failed code replaced is put back too).
  for (let k = same; k < current.length; k++) delete cache[current[k]]
  for (let k = same; k < keys.length; k++) if (values[k] !== undefined) cache[keys[k]] = values[k]
  // The last key inserted is now the last restored one (snapshot marks rely on it).
  if (same < current.length || same < keys.length) noteInserted(keys.at(-1), true)

  for (const [m, items] of capture.children) replaceContents(childrenOf(m), items)
  for (const [m, length] of capture.grown) {
    if (capture.children.has(m) || capture.loaded.has(m) || !isModuleLike(m)) continue
    const now = childrenOf(m)
    if (now.length > length && isRewritable(now, length)) now.length = length
  }
  for (const [m, parent] of capture.parents) if (parentOf(m) !== parent) setParent(m, parent)
  // The modules put back, and those whose children changed, are known to the live graph index
  // again, with their edges.
  const keyOf = new Map()
  for (const [key, value] of removed) if (!keyOf.has(value)) keyOf.set(value, key)
  const gi = state.graphIndex
  const changed = new Set([...capture.children.keys(), ...capture.parents.keys(), ...capture.grown.keys()])
  for (const m of capture.loaded.keys()) changed.delete(m)
  const known = [...changed].filter((m) => isModuleLike(m))
  // (A module compiled by hand and put into the cache later was recorded without its key.)
  const keyFor = (m) =>
    keyOf.get(m) ?? graphIndex.cachedModule(gi, cache, gi.ids.get(m))?.[0] ?? (isCachedInstance(m) ? filenameOf(m) : '')
  graphIndex.reread(gi, known, keyFor, readRefs)
  // A module put back under several keys keeps them all (aliases).
  for (const [key, value] of removed) {
    const id = gi.ids.get(value)
    if (id !== undefined && gi.keys.has(id) && gi.keys.get(id) !== key) graphIndex.addAlias(gi, id, key)
  }
  const pathCache = Module._pathCache
  // The entries the attempt made go (a failed attempt resolved new requests), then the ones the
  // cuts and the rollback's unload dropped come back.
  const forgottenFiles = []
  const forgottenKeys = []
  for (const key of capture.pathKeysAdded) {
    const filename = pathCache[key]
    try {
      if (delete pathCache[key]) forgottenFiles.push(filename), forgottenKeys.push(key)
    } catch {
      // A locked _pathCache keeps it: it names a file, never a module.
    }
  }
  forgetPaths(forgottenFiles, forgottenKeys)
  for (const [key, value] of capture.pathEntries) {
    try {
      pathCache[key] = value
      indexPath(value, key)
    } catch {
      // A locked _pathCache: the entry was not deleted either (applyCuts), nothing to put back.
    }
  }
}

/**
 * Replaces the contents of `array` by `items`, keeping the array object. An array that already
 * holds them is not written (a locked one was never cut, so it is unchanged).
 */
function replaceContents(array, items) {
  if (array.length === items.length && items.every((item, k) => array[k] === item)) return
  if (!isRewritable(array, 0) || !Object.isExtensible(array)) return
  array.length = items.length
  for (let k = 0; k < items.length; k++) array[k] = items[k]
}

module.exports = { captureCuts, noteAttemptKeys, restoreCuts }
