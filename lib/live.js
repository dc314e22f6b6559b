'use strict'
// The only code that reads or mutates live Module objects, require.cache and Module._pathCache.
//
// `flattenGraph` turns the live module graph into plain data for the native core: node i is a
// Module (or a cache value that is not one, or a requirer outside the cache), with its
// `children` as CSR int arrays, its first parent, and flags. Identity lives in a Map, never on
// the objects: adding and removing properties on Module objects turns them into slow
// dictionary-mode objects on Node >= 22 (napi.md §3.4).
//
// `applyCuts` then cuts every reference Node keeps to the removed modules, in the order and
// with the guarantees of node-internals.md §5 (steps 3-7).
const Module = require('node:module')
const registry = require('./registry.js')

const HOLDER = 1 // mirrors src/graph.rs
const BOUNDARY = 2

const NODE_MAJOR = Number(process.versions.node.split('.')[0])
const parentGetter = Object.getOwnPropertyDescriptor(Module.prototype, 'parent')?.get

/** Module.prototype.parent without the property lookup (and undefined for non-modules). */
function parentOf(m) {
  return parentGetter === undefined ? m.parent : parentGetter.call(m)
}

/**
 * @param {object} cache require.cache
 * @returns {{ keys: string[], keyNode: Int32Array, nodes: unknown[], index: Map<unknown, number>,
 *   offsets: Int32Array, targets: Int32Array, parent: Int32Array, flags: Uint8Array }}
 */
function flattenGraph(cache) {
  const keys = Object.keys(cache)
  const nodes = []
  const index = new Map()
  const keyNode = new Int32Array(keys.length)
  for (let i = 0; i < keys.length; i++) {
    const value = cache[keys[i]]
    let idx = index.get(value)
    if (idx === undefined) {
      idx = nodes.length
      index.set(value, idx)
      nodes.push(value)
    }
    keyNode[i] = idx
  }
  const cachedCount = nodes.length
  for (const requirer of registry.outsideRequirers()) {
    if (!index.has(requirer)) {
      index.set(requirer, nodes.length)
      nodes.push(requirer)
    }
  }
  const offsetList = []
  const targetList = []
  const parentList = []
  // `nodes` grows while we walk it: children and parents that are not in the cache are appended
  // and walked in turn, so stale edges through them are seen too.
  for (let i = 0; i < nodes.length; i++) {
    offsetList.push(targetList.length)
    const m = nodes[i]
    if (!registry.isModuleLike(m)) {
      parentList.push(-1)
      continue
    }
    const children = m.children
    for (let j = 0; j < children.length; j++) {
      const child = children[j]
      let idx = index.get(child)
      if (idx === undefined) {
        if (!registry.isModuleLike(child)) continue
        idx = nodes.length
        index.set(child, idx)
        nodes.push(child)
      }
      targetList.push(idx)
    }
    const parent = parentOf(m)
    let p = -1
    if (registry.isModuleLike(parent)) {
      p = index.get(parent)
      if (p === undefined) {
        p = nodes.length
        index.set(parent, p)
        nodes.push(parent)
      }
    }
    parentList.push(p)
  }
  offsetList.push(targetList.length)

  const flags = new Uint8Array(nodes.length)
  for (let i = 0; i < nodes.length; i++) {
    const m = nodes[i]
    if (!registry.isModuleLike(m)) continue
    // A cached module holds its children. Outside the cache only requirers that never were
    // loaded as files hold (createRequire proxies, preload, REPL: loaded === false); a module
    // that other code deleted from the cache, or a stand-in for an unloaded one, does not.
    if (i < cachedCount) flags[i] = HOLDER
    else if (m.loaded === false && !registry.isStandIn(m) && !registry.isUnloaded(m)) flags[i] = HOLDER
  }
  return {
    keys,
    keyNode,
    nodes,
    index,
    cachedCount,
    offsets: Int32Array.from(offsetList),
    targets: Int32Array.from(targetList),
    parent: Int32Array.from(parentList),
    flags,
  }
}

/** The name a report uses for node i: its require.cache key, else its filename or id. */
function nodeIds(graph) {
  const ids = new Array(graph.nodes.length)
  for (let k = graph.keys.length - 1; k >= 0; k--) ids[graph.keyNode[k]] = graph.keys[k]
  for (let i = graph.cachedCount; i < ids.length; i++) {
    const m = graph.nodes[i]
    ids[i] = (m && (m.filename || m.id)) || '<unknown requirer>'
  }
  return ids
}

/** Why Node still holds a removed module's old instance, or undefined. */
function pinnedBy(m) {
  if (!registry.isModuleLike(m)) return undefined
  let esm = false
  for (const symbol of Object.getOwnPropertySymbols(m)) {
    if (symbol.description === 'kRequiredModuleSymbol') return 'require-esm'
    if (symbol.description === 'kIsCachedByESMLoader' && m[symbol] === true) esm = true
  }
  return esm ? 'esm-loader' : undefined
}

/** On Node >= 22 a survivor's private last-parent slot keeps a removed parent alive. */
const lastParentSlotExists = NODE_MAJOR >= 22

/** Filters `array` in place in one pass, dropping the elements in `drop`. */
function filterInPlace(array, drop) {
  let write = 0
  for (let read = 0; read < array.length; read++) {
    const item = array[read]
    if (!drop.has(item)) array[write++] = item
  }
  array.length = write
}

/** Module._pathCache entries whose resolved filename is in `filenames`. */
function stalePathCacheKeys(filenames) {
  const pathCache = Module._pathCache
  const stale = []
  for (const key in pathCache) if (filenames.has(pathCache[key])) stale.push(key)
  return stale
}

/**
 * Cuts every reference Node keeps to the removed nodes. Nothing here throws for well-formed
 * modules; the caller has validated everything before.
 */
function applyCuts(cache, graph, plan, removedKeys, staleKeys) {
  const removedObjects = new Set()
  for (const i of plan.removed) removedObjects.add(graph.nodes[i])
  for (const key of removedKeys) delete cache[key]
  for (const i of plan.cutChildrenOf) {
    const m = graph.nodes[i]
    if (registry.isModuleLike(m)) filterInPlace(m.children, removedObjects)
  }
  for (const i of plan.resetParentOf) graph.nodes[i].parent = undefined
  for (const i of plan.removed) {
    const m = graph.nodes[i]
    if (!registry.isModuleLike(m)) continue
    m.children.length = 0
    m.parent = undefined
    registry.markUnloaded(m)
  }
  const pathCache = Module._pathCache
  for (const key of staleKeys) delete pathCache[key]
}

module.exports = {
  HOLDER,
  BOUNDARY,
  flattenGraph,
  nodeIds,
  pinnedBy,
  lastParentSlotExists,
  stalePathCacheKeys,
  applyCuts,
  filterInPlace,
}
