'use strict'
// Where each require.cache key sits in the cache's key order, known without reading every key.
//
// A failed reload puts the removed modules back under their keys, in the key order the cache had
// (reload.js). Reading that order (`Object.keys(require.cache)`) costs 18-22 ms at 30,000 keys
// (a dictionary-mode object: the keys are sorted by their insertion index), more than the rest of
// a reload, and a reload that succeeds never needs it. So the order is kept as ranks instead: a
// key's rank grows with the time it was inserted, and a JS object enumerates its string keys in
// insertion order, so the ranks of the keys, compared, give their order.
// - Node inserts a module's key just before it loads it: the `load` hook ranks it then.
// - A full read (`rankAll`) ranks every key it finds, in order: the first capture of a process,
//   a capture that meets a removed key with no rank, and rescan() (where keys made by hand, moved
//   or aliased, are read).
// A key put into require.cache by hand since the last full read (a mock, a module compiled from a
// string, a key moved to another one) has no rank, or a rank older than its place: a capture that
// removes such a key reads the whole order instead; one that only sits next to a removed key is
// placed by its neighbours (`placeRemoved`), which assumes it was inserted before the removed
// modules last loaded. docs/module-graph.md says so.
//
// Ranks are kept in a WeakMap by cache value (never holding a module); a value cached under its
// own filename has a number, a value cached under other keys a Map key -> rank.
const { on } = require('./hooks.js')
const { ownValue } = require('./state.js')


const ranks = new WeakMap()
let next = 0
let listening = false
// Open reload captures: a full read while one is open would renumber the keys its rollback
// compares with the ranks it took, so it waits (the capture's own read comes before it opens).
let openCaptures = 0

const isObject = (value) => value !== null && (typeof value === 'object' || typeof value === 'function')

/** The filename a cache value was loaded from, when it has one (read without running a getter). */
function filenameOfValue(value) {
  const filename = isObject(value) ? ownValue(value, 'filename') : undefined
  return typeof filename === 'string' ? filename : undefined
}

function setRank(value, key, rank) {
  if (!isObject(value)) return
  const known = ranks.get(value)
  if (filenameOfValue(value) === key && !(known instanceof Map)) ranks.set(value, rank)
  else if (known instanceof Map) known.set(key, rank)
  else ranks.set(value, new Map(known === undefined ? [[key, rank]] : [[filenameOfValue(value), known], [key, rank]]))
}

/** The rank of `key`, which holds `value` now, or undefined when its insertion was not seen. */
function rankOf(key, value) {
  if (!isObject(value)) return undefined
  const known = ranks.get(value)
  if (known instanceof Map) return known.get(key)
  return known !== undefined && filenameOfValue(value) === key ? known : undefined
}

/** Starts ranking the keys Node inserts (the first capture of the process calls it). */
function listen() {
  if (listening) return
  listening = true
  on('load', (m, key) => setRank(m, key, next++))
}

/**
 * Ranks every key of `cache` in its order (`keys`, when the caller has read them already).
 * Skipped while a reload capture is open (see openCaptures). Returns the keys.
 */
function rankAll(cache, keys = Object.keys(cache)) {
  if (openCaptures > 0) return keys
  for (let k = 0; k < keys.length; k++) setRank(cache[keys[k]], keys[k], next++)
  return keys
}

/**
 * The ranks of the keys a reload is about to delete (`keys[i]` holds `values[i]`), or undefined
 * when one of them has none: then the caller reads the whole order (and ranks it, for next time).
 * Returns the rank the next inserted key will get too: what the attempt loads ranks from there on.
 */
function ranksOf(keys, values) {
  listen()
  const out = new Array(keys.length)
  for (let k = 0; k < keys.length; k++) {
    const rank = rankOf(keys[k], values[k])
    if (rank === undefined) return undefined
    out[k] = rank
  }
  return out
}

/** A capture opens (true) or closes (false); see openCaptures. */
function captureOpen(open) {
  openCaptures += open ? 1 : -1
}

/** The rank the next key Node inserts will get. */
const nextRank = () => next

/**
 * The key order after putting `placed` (keys with their ranks, `[key, rank]`) back among
 * `kept` (the keys that stay, in their order now, each with the value it holds): each placed key
 * goes just before the first kept key inserted after it. A kept key with no rank (made by hand
 * since the last full read) counts as inserted just before the next kept key that has one: a
 * removed module loaded before that key goes before it (a mock or an alias made after the
 * modules it stands beside loaded). Placed keys with no rank go last, in the order given.
 */
function placeRemoved(kept, keptValues, placed) {
  const sorted = placed.filter(([, rank]) => rank !== undefined).sort((a, b) => a[1] - b[1])
  // Each kept key's rank, an unranked one taking the next ranked one's, never lower than the
  // ranks before it (a key moved to the end by hand keeps its old rank).
  const effective = new Array(kept.length)
  let after = Infinity
  for (let k = kept.length - 1; k >= 0; k--) {
    const rank = rankOf(kept[k], keptValues[k])
    if (rank !== undefined) after = rank
    effective[k] = after
  }
  const out = []
  let p = 0
  let seen = -Infinity
  for (let k = 0; k < kept.length; k++) {
    if (effective[k] > seen) seen = effective[k]
    while (p < sorted.length && sorted[p][1] < seen) out.push(sorted[p++][0])
    out.push(kept[k])
  }
  while (p < sorted.length) out.push(sorted[p++][0])
  for (const [key, rank] of placed) if (rank === undefined) out.push(key)
  return out
}

module.exports = { listen, rankAll, ranksOf, rankOf, captureOpen, nextRank, placeRemoved }
