'use strict'
// Putting a loaded graph back between benchmark samples (untimed), so that every sample starts
// from the same state: the same Module objects under the same require.cache keys, the same
// `children`, `parent` and Module._pathCache. Used by unload.js and verbs.js.
const path = require('node:path')
const Module = require('node:module')

const cache = require.cache

/** Removes every module of a previous sample's graph, so the next require loads it afresh. */
function dropGraph(dir) {
  const prefix = dir + path.sep
  for (const key of Object.keys(cache)) if (key.startsWith(prefix)) delete cache[key]
  for (const m of Object.values(cache)) {
    if (m && Array.isArray(m.children)) {
      const kept = m.children.filter((c) => !(typeof c.filename === 'string' && c.filename.startsWith(prefix)))
      if (kept.length !== m.children.length) m.children.splice(0, m.children.length, ...kept)
    }
  }
  const pathCache = Module._pathCache
  for (const key in pathCache) if (pathCache[key].startsWith(prefix)) delete pathCache[key]
}

/** Everything an unload can change: cache entries, each module's children and parent, _pathCache. */
function takeSnapshot() {
  const keys = Object.keys(cache)
  const values = keys.map((k) => cache[k])
  const modules = [...new Set(values)].filter((m) => m && Array.isArray(m.children))
  return {
    keys,
    values,
    modules,
    childArrays: modules.map((m) => m.children),
    children: modules.map((m) => m.children.slice()),
    parents: modules.map((m) => m.parent),
    pathCache: new Map(Object.entries(Module._pathCache)),
  }
}

// Putting Module objects back by hand is an edit the loader does not see: uncache-tree's live
// graph index is told with rescan() (its documented contract), untimed like the rest.
let rescan = () => {}
try {
  rescan = require('..').rescan
} catch {
  // uncache-tree unavailable: loadContenders() reports it.
}

function restoreSnapshot(s) {
  restoreByHand(s)
  rescan()
}

function restoreByHand(s) {
  for (let i = 0; i < s.keys.length; i++) if (cache[s.keys[i]] !== s.values[i]) cache[s.keys[i]] = s.values[i]
  if (Object.keys(cache).length !== s.keys.length) {
    const known = new Set(s.keys)
    for (const key of Object.keys(cache)) if (!known.has(key)) delete cache[key]
  }
  for (let i = 0; i < s.modules.length; i++) {
    const m = s.modules[i]
    if (m.children !== s.childArrays[i]) m.children = s.childArrays[i]
    const now = m.children
    const then = s.children[i]
    let same = now.length === then.length
    for (let j = 0; same && j < then.length; j++) same = now[j] === then[j]
    if (!same) {
      now.length = 0
      for (const c of then) now.push(c)
    }
    if (m.parent !== s.parents[i]) m.parent = s.parents[i]
  }
  const pathCache = Module._pathCache
  for (const key in pathCache) if (!s.pathCache.has(key)) delete pathCache[key]
  for (const [key, value] of s.pathCache) if (pathCache[key] !== value) pathCache[key] = value
}

module.exports = { dropGraph, takeSnapshot, restoreSnapshot, restoreByHand }
