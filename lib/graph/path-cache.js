'use strict'
// The index of Module._pathCache by file: filename -> the _pathCache keys that resolved to it.
// The `Module._findPath` wrapper (lib/loader/patches.js) indexes each entry Node makes, so an
// unload drops the entries of the files it removed without reading the whole _pathCache (40k
// entries in a large app). Entries can be stale (deleted or overwritten by other code): every use
// checks the current value, and the index is rebuilt with one scan when it does not describe the
// current _pathCache (`state.indexedPathCache`: first use, the object was replaced, or the
// _findPath wrapper was replaced for a while and missed entries).
const Module = require('node:module')
const path = require('node:path')
const { isProxy } = require('node:util').types
const { state } = require('./state.js')

/** Adds `key` to the _pathCache keys indexed for `filename` (the _findPath wrapper, a reload's rollback). */
function indexPath(filename, key) {
  const keys = state.pathIndex.get(filename)
  if (keys === undefined) state.pathIndex.set(filename, key)
  else if (typeof keys === 'string') {
    if (keys !== key) state.pathIndex.set(filename, [keys, key])
  } else if (!keys.includes(key)) keys.push(key)
}

/** The Module._pathCache key Node's _findPath uses for `request` and its lookup `paths`. */
function pathCacheKey(request, paths) {
  const lookup = path.isAbsolute(request) || !Array.isArray(paths) ? '' : paths.length === 1 ? paths[0] : paths.join('\0')
  return `${request}\0${lookup}`
}

/** Whether Module._pathCache has an own entry `key` (never looks into a Proxy). */
function hasPathCacheEntry(key) {
  const pathCache = Module._pathCache
  return pathCache !== null && typeof pathCache === 'object' && !isProxy(pathCache) && Object.hasOwn(pathCache, key)
}

/**
 * The Module._pathCache keys whose value is one of `filenames`, through the index. Rebuilds the
 * index with one scan when it does not describe the current _pathCache (first use, the object
 * was replaced, or the _findPath wrapper was replaced for a while and missed entries).
 */
function pathCacheKeysOf(filenames) {
  const pathCache = Module._pathCache
  if (pathCache === null || typeof pathCache !== 'object' || isProxy(pathCache)) return []
  if (state.indexedPathCache !== pathCache) reindexPathCache(pathCache)
  const out = []
  for (const filename of filenames) {
    const keys = state.pathIndex.get(filename)
    if (keys === undefined) continue
    // Keys that other code deleted or pointed elsewhere are dropped from the index here.
    if (typeof keys === 'string') {
      // Most files have one entry: no array made for it.
      if (pathCache[keys] === filename) out.push(keys)
      else state.pathIndex.delete(filename)
      continue
    }
    const current = []
    for (const key of keys) if (pathCache[key] === filename) current.push(key), out.push(key)
    if (current.length === 0) state.pathIndex.delete(filename)
    else if (current.length !== keys.length) state.pathIndex.set(filename, current)
  }
  return out
}

/**
 * Forgets the index entries of the deleted _pathCache entries: `keys[i]` held `filenames[i]`.
 */
function forgetPaths(filenames, keys) {
  for (let i = 0; i < keys.length; i++) {
    const filename = filenames[i]
    const key = keys[i]
    const indexed = state.pathIndex.get(filename)
    if (indexed === key) state.pathIndex.delete(filename)
    else if (Array.isArray(indexed)) {
      const rest = indexed.filter((k) => k !== key)
      if (rest.length === 0) state.pathIndex.delete(filename)
      else state.pathIndex.set(filename, rest.length === 1 ? rest[0] : rest)
    }
  }
}

function reindexPathCache(pathCache) {
  state.pathIndex = new Map()
  state.indexedPathCache = pathCache
  for (const key of Object.keys(pathCache)) {
    const d = Object.getOwnPropertyDescriptor(pathCache, key)
    if (d !== undefined && typeof d.value === 'string') indexPath(d.value, key)
  }
}

/** Reads the whole Module._pathCache into its index again (rescan(): entries made by hand). */
function reindexPaths() {
  const pathCache = Module._pathCache
  if (pathCache !== null && typeof pathCache === 'object' && !isProxy(pathCache)) reindexPathCache(pathCache)
}

module.exports = {
  indexPath,
  pathCacheKey,
  hasPathCacheEntry,
  pathCacheKeysOf,
  forgetPaths,
  reindexPaths,
}
