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
const path = require('node:path')
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
 * Whether a module outside require.cache holds what it lists in `children`: only requirers that
 * never loaded as files do (createRequire proxies, the --require preload parent, the REPL); a
 * module other code deleted from the cache, a stand-in for an unloaded module, or an instance
 * whose load threw does not.
 */
function holdsFromOutside(m) {
  return m.loaded === false && !registry.isStandIn(m) && !registry.isUnloaded(m)
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
    else if (holdsFromOutside(m)) flags[i] = HOLDER
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

/**
 * The graph uncacheTree() plans on, limited to what can matter: the modules reachable from the
 * roots (not walking into boundaries), then every other module that lists one of them in its
 * `children` or names one as its `parent` (the holders and the arrays to cut), with only the
 * edges into the tree. A holder that touches none of the tree cannot change what is kept or
 * cut, so the plan is the one the whole graph gives, for one read of each module outside the tree
 * instead of an identity-map entry for every module (benchmark/unload.js: the whole-graph flatten
 * was 57% of a plugin unload at 30k modules). Edges come out as an edge list (`from`, `to`) in
 * the order they are met; the native core sorts them into CSR.
 * @param {object} cache require.cache
 * @param {unknown[]} roots the target modules (cache values), never boundaries
 * @param {(id: string) => boolean} [keep] options.keep
 */
function flattenTree(cache, roots, keep) {
  const nodes = []
  const index = new Map()
  const reasons = new Map()
  const flags = []
  const parents = [] // parentOf(node), read once, resolved to indices at the end
  const from = []
  const to = []
  const add = (m, flag) => {
    index.set(m, nodes.length)
    nodes.push(m)
    flags.push(flag)
    parents.push(undefined)
    return nodes.length - 1
  }
  for (const r of roots) if (!index.has(r)) add(r, 0)
  // 1. The tree: breadth-first over `children`, recording edges as it goes. Boundaries become
  //    nodes (the plan reports them and counts them as holders) but are not walked here.
  for (let i = 0; i < nodes.length; i++) {
    const m = nodes[i]
    if (flags[i] & BOUNDARY || !registry.isModuleLike(m)) continue
    parents[i] = parentOf(m)
    const children = m.children
    for (let j = 0; j < children.length; j++) {
      const child = children[j]
      let t = index.get(child)
      if (t === undefined) {
        if (!registry.isModuleLike(child)) continue
        const reason = boundaryReason(cache, child, keep)
        t = add(child, reason === undefined ? 0 : BOUNDARY)
        if (reason !== undefined) reasons.set(t, reason)
      }
      from.push(i)
      to.push(t)
    }
  }
  const treeSize = nodes.length
  // Edges from a module that stays (a boundary or a holder) into the tree, and its parent.
  const scanOutside = (i, m) => {
    const children = m.children
    for (let j = 0; j < children.length; j++) {
      const t = index.get(children[j])
      if (t !== undefined && t < treeSize) {
        from.push(i)
        to.push(t)
      }
    }
    parents[i] = parentOf(m)
  }
  const refersToTree = (m) => {
    const children = m.children
    for (let j = 0; j < children.length; j++) {
      const t = index.get(children[j])
      if (t !== undefined && t < treeSize) return true
    }
    const p = index.get(parentOf(m))
    return p !== undefined && p < treeSize
  }
  for (let i = 0; i < treeSize; i++) {
    if (flags[i] & BOUNDARY) scanOutside(i, nodes[i])
  }
  // 2. One pass over the cache: the keys of tree nodes, and the modules outside the tree that
  //    refer to it. Then the outside requirers the registry knows.
  const keys = []
  const keyNodes = []
  const cached = new Uint8Array(treeSize)
  const cacheKeys = Object.keys(cache)
  for (let k = 0; k < cacheKeys.length; k++) {
    const key = cacheKeys[k]
    const value = cache[key]
    let i = index.get(value)
    if (i === undefined) {
      if (!registry.isModuleLike(value) || !refersToTree(value)) continue
      i = add(value, HOLDER)
      scanOutside(i, value)
    } else if (i < treeSize) {
      cached[i] = 1
    }
    keys.push(key)
    keyNodes.push(i)
  }
  for (const requirer of registry.outsideRequirers()) {
    if (index.has(requirer) || !refersToTree(requirer)) continue
    scanOutside(add(requirer, holdsFromOutside(requirer) ? HOLDER : 0), requirer)
  }
  // 3. A cached tree module holds its children; parents become indices.
  const n = nodes.length
  const flagArray = Uint8Array.from(flags)
  for (let i = 0; i < treeSize; i++) {
    if (cached[i] === 1 && registry.isModuleLike(nodes[i])) flagArray[i] |= HOLDER
  }
  const parent = new Int32Array(n)
  for (let i = 0; i < n; i++) {
    const p = parents[i] === undefined ? undefined : index.get(parents[i])
    parent[i] = p === undefined ? -1 : p
  }
  const graph = {
    keys,
    keyNode: Int32Array.from(keyNodes),
    nodes,
    index,
    cachedCount: 0, // nodes are not ordered cached-first here
    from: Int32Array.from(from),
    to: Int32Array.from(to),
    parent,
    flags: flagArray,
    reasons,
  }
  graph.ids = nodeIds(graph)
  // The keep option on modules cached under a key that is not their filename: only known now.
  if (keep !== undefined) {
    const rootNodes = new Set(roots.map((r) => index.get(r)))
    for (let i = 0; i < treeSize; i++) {
      if (rootNodes.has(i) || flagArray[i] & BOUNDARY || cached[i] === 0) continue
      if (graph.ids[i] !== nodes[i].filename && keep(graph.ids[i])) {
        flagArray[i] |= BOUNDARY
        reasons.set(i, 'kept-by-option')
      }
    }
  }
  return graph
}

/**
 * Why `m`, met in a tree, is never unloaded or walked, or undefined. The keep option is tested
 * here on the usual key (the filename); modules cached under other keys are tested later.
 */
function boundaryReason(cache, m, keep) {
  if (m === require.main) return 'main'
  const filename = m.filename
  if (typeof filename === 'string' && filename.endsWith('.node')) return 'native-addon'
  if (m.loaded === false && cache[filename] === m) return 'loading'
  if (keep !== undefined && cache[filename] === m && keep(filename)) return 'kept-by-option'
  return undefined
}

/** The name a report uses for node i: its require.cache key, else its filename or id. */
function nodeIds(graph) {
  const ids = new Array(graph.nodes.length)
  for (let k = graph.keys.length - 1; k >= 0; k--) ids[graph.keyNode[k]] = graph.keys[k]
  for (let i = 0; i < ids.length; i++) {
    if (ids[i] !== undefined) continue
    const m = graph.nodes[i]
    ids[i] = (m && (m.filename || m.id)) || '<unknown requirer>'
  }
  return ids
}

// Node marks every Module with a regular symbol `kIsCachedByESMLoader` (true when the ESM loader
// made the cache entry). Found once by description, it is then one property read per module;
// the symbols of a module are listed only when its exports look like an ES module, to find
// require(esm) wrappers (`kRequiredModuleSymbol`). Listing every module's symbols cost about 0.5 us each.
let esmLoaderSymbol

function findEsmLoaderSymbol(m) {
  for (const symbol of Object.getOwnPropertySymbols(m)) {
    if (symbol.description === 'kIsCachedByESMLoader') return symbol
  }
  return undefined
}

/** Why Node still holds a removed module's old instance, or undefined. */
function pinnedBy(m) {
  if (!registry.isModuleLike(m)) return undefined
  if (esmLoaderSymbol === undefined) {
    esmLoaderSymbol = findEsmLoaderSymbol(m)
    if (esmLoaderSymbol === undefined) return undefined // not a Node Module (a mock)
  }
  const byEsmLoader = m[esmLoaderSymbol] === true
  // A require(esm) wrapper's exports is the module namespace, or a facade with __esModule.
  const exports = m.exports
  const maybeRequiredEsm =
    exports !== null && typeof exports === 'object' &&
    (exports.__esModule === true || Object.prototype.toString.call(exports) === '[object Module]')
  if (maybeRequiredEsm) {
    for (const symbol of Object.getOwnPropertySymbols(m)) {
      if (symbol.description === 'kRequiredModuleSymbol') return 'require-esm'
    }
  }
  return byEsmLoader ? 'esm-loader' : undefined
}

/** On Node >= 22 a survivor's private last-parent slot keeps a removed parent alive. */
const lastParentSlotExists = NODE_MAJOR >= 22

/**
 * Filters `array` in place in one pass, dropping the elements in `drop`. Elements before
 * `start` are not looked at (a snapshot restore knows that only a `children` tail can hold
 * modules loaded since, and a long `children` array must not cost it anything).
 */
function filterInPlace(array, drop, start = 0) {
  let write = start
  for (let read = start; read < array.length; read++) {
    const item = array[read]
    if (!drop.has(item)) array[write++] = item
  }
  array.length = write
}

/** Module._pathCache entries whose resolved filename is in `filenames`. */
function stalePathCacheKeys(filenames) {
  const pathCache = Module._pathCache
  const stale = []
  const keys = Object.keys(pathCache) // measured ~10% faster than for-in on 38k entries
  for (let k = 0; k < keys.length; k++) if (filenames.has(pathCache[keys[k]])) stale.push(keys[k])
  return stale
}

/**
 * Cuts every reference Node keeps to the removed nodes. Nothing here throws for well-formed
 * modules; the caller has validated everything before.
 */
function applyCuts(cache, graph, plan, removedKeys, staleKeys) {
  // "Is this child removed?" through the identity index the graph already has, instead of a
  // Set of every removed object (one allocation per removed module on a whole-graph unload).
  const removedMark = new Uint8Array(graph.nodes.length)
  for (const i of plan.removed) removedMark[i] = 1
  const removedObjects = { has: (item) => removedMark[graph.index.get(item)] === 1 }
  for (const key of removedKeys) delete cache[key]
  // `cutChildrenFrom` (optional, one start index per cutChildrenOf entry) limits a cut to the
  // part of `children` that can hold removed modules.
  const cutFrom = plan.cutChildrenFrom
  for (let k = 0; k < plan.cutChildrenOf.length; k++) {
    const m = graph.nodes[plan.cutChildrenOf[k]]
    if (registry.isModuleLike(m)) filterInPlace(m.children, removedObjects, cutFrom === undefined ? 0 : cutFrom[k])
  }
  for (const i of plan.resetParentOf) graph.nodes[i].parent = undefined
  for (const i of plan.removed) {
    const m = graph.nodes[i]
    if (!registry.isModuleLike(m)) continue
    m.children.length = 0
    m.parent = undefined
  }
  const pathCache = Module._pathCache
  for (const key of staleKeys) delete pathCache[key]
}

// ---- snapshot restore: the same graph and cuts, over only what was loaded since ----

/** How many children `m` has now: the mark after which a snapshot's new edges will sit. */
function childCount(m) {
  return registry.isModuleLike(m) ? m.children.length : 0
}

/**
 * The graph a snapshot restore plans on, in the shape `flattenGraph` returns, but built from
 * what a snapshot recorded instead of from the whole cache, so its cost follows what was loaded
 * since:
 * - nodes [0, cachedCount): the modules loaded since that are still cached under the key they
 *   were loaded with (`loaded`, [key, module] in load order); their edges are the children
 *   among these nodes.
 * - nodes [cachedCount, n): the other modules that required something since (`requirers`,
 *   [module, start]): modules loaded before, createRequire proxies, stand-ins. Node appends
 *   to `children` only, so their edges to new modules sit at or after `start`
 *   (`cutFrom[node]`); only that tail is read and later cut.
 * Every edge to a new module was added by a require() made since, which went through
 * `Module._load` with its requirer, so these requirers are all the modules that can hold a new
 * one (a module loaded before cannot have a new module as its recorded parent either).
 */
function flattenSince(cache, loaded, requirers) {
  const keys = []
  const nodes = []
  const index = new Map()
  for (const [key, m] of loaded) {
    if (cache[key] !== m || index.has(m)) continue
    index.set(m, nodes.length)
    nodes.push(m)
    keys.push(key)
  }
  const cachedCount = nodes.length
  const starts = []
  for (const [m, start] of requirers) {
    if (index.has(m) || !registry.isModuleLike(m)) continue
    index.set(m, nodes.length)
    nodes.push(m)
    starts.push(start)
  }
  const n = nodes.length
  const offsets = new Int32Array(n + 1)
  const targetList = []
  const parent = new Int32Array(n).fill(-1)
  const cutFrom = new Int32Array(n)
  for (let i = 0; i < n; i++) {
    offsets[i] = targetList.length
    const m = nodes[i]
    const children = m.children
    const from = i < cachedCount ? 0 : Math.min(starts[i - cachedCount], children.length)
    cutFrom[i] = from
    for (let j = from; j < children.length; j++) {
      const t = index.get(children[j])
      if (t !== undefined && t < cachedCount) targetList.push(t)
    }
    const p = index.get(parentOf(m))
    if (p !== undefined) parent[i] = p
  }
  offsets[n] = targetList.length
  return {
    keys,
    keyNode: Int32Array.from(keys, (_, k) => k),
    nodes,
    index,
    cachedCount,
    offsets,
    targets: Int32Array.from(targetList),
    parent,
    flags: new Uint8Array(n),
    cutFrom,
  }
}

/**
 * The Module._pathCache entries that the resolutions of `requests` ([requirer, Set of
 * request strings]) use, among those whose value is in `filenames`. Node keys an entry by the
 * request and the lookup paths of the requirer (`request + '\0' + paths.join('\0')`, paths
 * `['']` for an absolute request; the same on Node 20-26), so each key can be rebuilt and
 * looked up: O(requests), where `stalePathCacheKeys` reads every entry.
 */
function stalePathCacheKeysFor(requests, filenames) {
  if (typeof Module._resolveLookupPaths !== 'function') return stalePathCacheKeys(filenames)
  const pathCache = Module._pathCache
  const stale = new Set()
  for (const [requirer, list] of requests) {
    for (const request of list) {
      if (Module.isBuiltin(request)) continue
      let key
      if (path.isAbsolute(request)) key = `${request}\0`
      else {
        const paths = Module._resolveLookupPaths(request, requirer)
        if (!Array.isArray(paths) || paths.length === 0) continue
        key = `${request}\0${paths.join('\0')}`
      }
      const value = pathCache[key]
      if (value !== undefined && filenames.has(value)) stale.add(key)
    }
  }
  return [...stale]
}

// ---- reload rollback: what the cuts change, kept to be put back ----

/**
 * Everything `applyCuts` is about to change for `plan`, taken before dispose handlers run, so
 * that `restoreCuts` can put it back exactly: the `children` arrays it filters or empties (their
 * contents; the arrays keep their identity), the parent pointers it resets, the Module._pathCache
 * entries it drops. The require.cache keys, values and key order, and every other `children`
 * array, are already in `graph` (flattened just before).
 */
function captureCuts(cache, graph, plan, staleKeys) {
  const children = new Map()
  const parents = new Map()
  for (const i of plan.cutChildrenOf) {
    const m = graph.nodes[i]
    if (registry.isModuleLike(m)) children.set(m, m.children.slice())
  }
  for (const i of plan.resetParentOf) parents.set(graph.nodes[i], parentOf(graph.nodes[i]))
  for (const i of plan.removed) {
    const m = graph.nodes[i]
    if (!registry.isModuleLike(m)) continue
    children.set(m, m.children.slice())
    parents.set(m, parentOf(m))
  }
  const pathCache = Module._pathCache
  const pathEntries = staleKeys.map((key) => [key, pathCache[key]])
  return { graph, children, parents, pathEntries }
}

/** Replaces the contents of `array` by `items`, keeping the array object. */
function replaceContents(array, items) {
  array.length = items.length
  for (let k = 0; k < items.length; k++) array[k] = items[k]
}

/** Whether the Module children in `children` are, in order, node `i`'s edges in `graph`. */
function sameAsFlattened(children, graph, i) {
  let t = graph.offsets[i]
  const end = graph.offsets[i + 1]
  for (const child of children) {
    if (!registry.isModuleLike(child)) continue
    if (t >= end || graph.nodes[graph.targets[t]] !== child) return false
    t++
  }
  return t === end
}

/**
 * Puts back what `captureCuts` recorded, after the modules loaded since have been unloaded:
 * require.cache gets exactly the keys, values and key order it had (`Object.keys` compares
 * equal element by element), every `children` array its elements, every reset parent its
 * value, Module._pathCache its dropped entries. A module that required something new while the
 * cuts were in place (a survivor's lazy require) gets its flattened `children` back too.
 */
function restoreCuts(cache, capture) {
  const { graph } = capture
  const current = Object.keys(cache)
  let same = 0
  while (
    same < current.length &&
    same < graph.keys.length &&
    current[same] === graph.keys[same] &&
    cache[current[same]] === graph.nodes[graph.keyNode[same]]
  ) {
    same++
  }
  // Keys keep insertion order: re-adding the tail from the first difference restores it.
  for (let k = same; k < current.length; k++) delete cache[current[k]]
  for (let k = same; k < graph.keys.length; k++) cache[graph.keys[k]] = graph.nodes[graph.keyNode[k]]

  for (const [m, items] of capture.children) replaceContents(m.children, items)
  for (let i = 0; i < graph.nodes.length; i++) {
    const m = graph.nodes[i]
    if (!registry.isModuleLike(m) || capture.children.has(m) || sameAsFlattened(m.children, graph, i)) continue
    replaceContents(
      m.children,
      Array.from(graph.targets.subarray(graph.offsets[i], graph.offsets[i + 1]), (t) => graph.nodes[t]),
    )
  }
  for (const [m, parent] of capture.parents) if (parentOf(m) !== parent) m.parent = parent
  const pathCache = Module._pathCache
  for (const [key, value] of capture.pathEntries) pathCache[key] = value
}

/**
 * require(id) made by `parent` (a Module, cached or not): `parent` becomes the new module's
 * parent and gets it in its `children`, as if its own code had called require().
 */
function requireVia(parent, id) {
  return typeof parent.require === 'function' ? parent.require(id) : Module._load(id, parent, false)
}

/** Whether `m` is the instance require.cache holds for its file (not a stale copy). */
function isCachedInstance(m) {
  return typeof m.filename === 'string' && Module._cache[m.filename] === m
}

/** require(id) as the file `fromFile` would call it: its cached module, else a createRequire. */
function requireFrom(cache, fromFile, id) {
  const m = cache[fromFile]
  return registry.isModuleLike(m) ? requireVia(m, id) : Module.createRequire(fromFile)(id)
}

module.exports = {
  HOLDER,
  BOUNDARY,
  flattenGraph,
  flattenTree,
  nodeIds,
  pinnedBy,
  lastParentSlotExists,
  stalePathCacheKeys,
  applyCuts,
  filterInPlace,
  captureCuts,
  restoreCuts,
  requireVia,
  requireFrom,
  isCachedInstance,
  childCount,
  flattenSince,
  stalePathCacheKeysFor,
}
