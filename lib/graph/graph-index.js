'use strict'
// The live module graph index: who refers to which module, recorded as Node loads modules, so
// that an unload finds the holders of a tree by asking the index instead of reading every
// cached module (docs/node-internals.md §5 step 1 needs every holder; a scan of 30k modules cost
// 25-40 ms per unload, ISSUES #9).
//
// The graph itself lives in the native core (`ModuleGraph`, src/live_graph.rs) as integer ids.
// This file maps ids to modules without holding any module:
// - `ids` is a WeakMap (module -> id); `keys` maps an id to the require.cache key the module was
//   loaded under. From an id back to its module is `cache[key]`, checked against `ids`; for a
//   module that other code deleted from the cache, a `WeakRef` (`refs`, `liveObject`).
// - Unloads forget what they removed. Modules that other code removes leave their ids behind
//   (harmless: every answer is checked against the cache); so that they cannot pile up, the
//   index counts the cache each time it has doubled since its last full read or count: when
//   fewer than half the ids it holds can be cached modules, it is dropped and read anew at the
//   next plan (amortized: one read per doubling), else it goes on recording (the program loaded
//   more code; ids stay below about four times the cached modules). A FinalizationRegistry entry per module
//   would forget them promptly, but cost 1 µs per load (benchmark/require-overhead.js). Until the
//   index is read (at start, or after a drop) nothing is recorded: the first plan that finds it
//   unread scans the cache instead, and the next one reads everything (`shouldRead`), so a
//   program that loads its code and unloads later pays for the index only from then on.
// Edges are recorded by the loader wrappers (registry.js): the elements a `require()` appended to
// the requirer's `children`, and each new module's parent. They are buffered and handed to the
// native graph in one call when a plan needs them.
//
// The index is a superset of the references the loader made: an edge that other code removed
// stays until one end is forgotten, and whoever uses `referrersOf` reads the live `children` and
// `parent` of each answer. What it cannot see are references made by hand (a `push` into a known
// module's `children`, a module moved to another cache key): `rescan()` reads them all. A gap in
// the loader wrappers (another library put back `Module._load`) is noticed by the registry
// (`loaderEpoch`) and leads to the same scan, then full read, as an index never read.
const { isProxy } = require('node:util').types
const native = require('../native.js')

/** Whether `value` can be a node of the graph: an object that is not a Proxy (never looked into). */
const isRef = (value) => value !== null && typeof value === 'object' && !isProxy(value)

/** Attaches the index to the process-wide registry state (shared by every copy of the package). */
function attach(state) {
  const index = (state.graphIndex ??= {
    graph: new native.ModuleGraph(),
    ids: new WeakMap(),
    keys: new Map(), // id -> require.cache key ('' when it was never cached)
    refs: new Map(), // id -> WeakRef of its module: a module other code deleted from the cache

    // Modules seen only as requirers since they were last read: their key is known (a lookup
    // works) but references they held before are not recorded.
    partial: new WeakSet(),
    nextId: 1,
    from: [],
    to: [],
    readAtEpoch: -1, // state.loaderEpoch at the last full read; -1: never read (or dropped)
    readSize: 0, // keys.size after the last full read, or the last count that kept it (mostlyCached)
    scannedAt: undefined, // the loaderEpoch at which a plan scanned instead of reading (shouldRead)
  })
  index.partial ??= new WeakSet()
  index.readSize ??= 0
  index.refs ??= new Map()
  return index
}

/** Forgets everything; the next plan reads the whole graph anew (see the file comment). */
function drop(index) {
  index.graph.clear()
  // New ids from now on: every id in `ids` has its WeakRef in `refs` (idFor need not ask).
  index.ids = new WeakMap()
  index.keys.clear()
  index.refs.clear()
  index.partial = new WeakSet()
  index.from = []
  index.to = []
  index.readAtEpoch = -1
  index.scannedAt = undefined
}

/**
 * Whether a plan that finds the index unread (never read, dropped, or read before a loader gap
 * at `epoch`) should read the whole graph now: the first such plan does not (it plans on one
 * scan of the cache, about a third of the cost of a read, and a program that unloads once never
 * needs the index); the next one does.
 */
function shouldRead(index, epoch) {
  if (index.scannedAt === epoch) return true
  index.scannedAt = epoch
  return false
}

/** The id of `m`, made on first sight; `key` (when given) is where require.cache holds it. */
function idFor(index, m, key) {
  let id = index.ids.get(m)
  if (id === undefined) {
    id = index.nextId++
    index.ids.set(m, id)
    index.refs.set(id, new WeakRef(m))
  }
  if (key !== undefined) index.keys.set(id, key)
  return id
}

/** Whether every reference `m` holds was recorded: it loaded, or was read, since it was last forgotten. */
function isKnown(index, m) {
  const id = index.ids.get(m)
  return id !== undefined && index.keys.has(id) && !index.partial.has(m)
}

/**
 * A module starts loading under `key` (in `cache`, require.cache): its own `children` are empty,
 * it is fully known.
 */
function noteLoad(index, m, key, parent, cache) {
  // Not read yet, or dropped: the next plan reads everything, nothing to record until then.
  if (index.readAtEpoch < 0) return
  if (index.keys.size > 2 * index.readSize + 4096 && !mostlyCached(index, cache)) return drop(index)
  const id = idFor(index, m, key)
  if (isRef(parent)) {
    index.from.push(id)
    index.to.push(idFor(index, parent))
  }
}

/**
 * Whether at least about half the ids the index holds can be modules `cache` still holds (one
 * count of its keys): then the index grew because the program loaded more code, and it goes on
 * recording until it doubles again. Otherwise other code removed many modules, and the index is
 * dropped (see the file comment).
 */
function mostlyCached(index, cache) {
  if (cache === null || typeof cache !== 'object' || isProxy(cache)) return false
  if (2 * Object.keys(cache).length + 4096 < index.keys.size) return false
  index.readSize = index.keys.size
  return true
}

/**
 * `parent.children[start..]` were appended by one require(); `key` is where require.cache holds
 * `parent` ('' when it does not).
 */
function noteChildren(index, parent, children, start, key) {
  if (index.readAtEpoch < 0) return
  let from
  for (let k = start; k < children.length; k++) {
    const child = children[k]
    if (!isRef(child)) continue
    if (from === undefined) {
      from = idFor(index, parent)
      // A requirer never seen loading (compiled by hand, a createRequire proxy): found by its
      // key from now on, but what it referred to before is not recorded.
      if (!index.keys.has(from)) {
        index.keys.set(from, key)
        index.partial.add(parent)
      }
    }
    index.from.push(from)
    index.to.push(idFor(index, child))
  }
  if (index.from.length > 1 << 16) flush(index)
}

/** Hands the buffered edges to the native graph. */
function flush(index) {
  if (index.from.length > 0) {
    const from = Uint32Array.from(index.from)
    const to = Uint32Array.from(index.to)
    index.from = []
    index.to = []
    index.graph.addEdges(from, to)
  }
}

/**
 * Reads the whole live graph anew: every cached module's `children` and `parent`, those of the
 * requirers outside the cache, and those of every object they lead to that no cache holds
 * (a module other code deleted from require.cache, an instance whose load threw). Run once at
 * first use, after a loader gap, and by `rescan()`. `read(m)` returns `[children, parent]`
 * without running user code (live.js).
 */
function rebuild(index, cache, outside, read, epoch) {
  drop(index)
  // Everything the modules read refer to, with its id: what no cache key holds is read after.
  const met = { objects: [], ids: [] }
  for (const key of Object.keys(cache)) {
    const m = cache[key]
    if (isRef(m)) readModule(index, m, key, read, met)
  }
  for (const m of outside) met.objects.push(m), met.ids.push(idFor(index, m))
  while (met.objects.length > 0) {
    const m = met.objects.pop()
    // (Nothing is partial during a read: `keys` alone tells what was read.)
    if (!index.keys.has(met.ids.pop())) readModule(index, m, '', read, met)
  }
  index.readAtEpoch = epoch
  index.readSize = index.keys.size
  flush(index)
}

/**
 * Records every reference `m` holds now (its `children` and `parent`); `m` is known from now on.
 * The objects it refers to, and their ids, are pushed to `met` when given.
 */
function readModule(index, m, key, read, met) {
  const [children, parent] = read(m)
  const id = idFor(index, m, key)
  index.partial.delete(m)
  for (let k = 0; k < children.length; k++) {
    const child = children[k]
    if (!isRef(child)) continue
    const to = idFor(index, child)
    index.from.push(id)
    index.to.push(to)
    if (met !== undefined) met.objects.push(child), met.ids.push(to)
  }
  if (isRef(parent)) {
    const to = idFor(index, parent)
    index.from.push(id)
    index.to.push(to)
    if (met !== undefined) met.objects.push(parent), met.ids.push(to)
  }
}

/** Re-reads `modules` (a reload rollback put them back): they are known again, with their edges. */
function reread(index, modules, keyOf, read) {
  for (const m of modules) readModule(index, m, keyOf(m), read)
}

/** Forgets `modules` (they were unloaded): their ids and every edge that touches them. */
function forget(index, modules) {
  if (index.readAtEpoch < 0) return // nothing recorded
  // Most of the graph went (a whole-graph unload): reading what is left at the next plan costs
  // less than forgetting each id now.
  if (modules.length * 4 > index.keys.size) return drop(index)
  const ids = []
  for (const m of modules) {
    const id = index.ids.get(m)
    if (id === undefined) continue
    if (index.keys.delete(id)) ids.push(id)
    // Forgotten whole: seen again (a rollback puts it back), it gets a new id with its WeakRef.
    index.refs.delete(id)
    index.ids.delete(m)
  }
  if (ids.length === 0) return
  flush(index)
  index.graph.forget(Uint32Array.from(ids))
}

/**
 * The ids of the modules that may refer to one of `modules` (not themselves), to be checked by
 * the caller against the live objects (`cachedModule`).
 */
function referrersOf(index, modules) {
  flush(index)
  const ids = []
  for (const m of modules) {
    const id = index.ids.get(m)
    if (id !== undefined) ids.push(id)
  }
  return index.graph.referrersOf(Uint32Array.from(ids))
}

let scratch = new Uint32Array(256)

/**
 * The ids that may refer to `m`, in a buffer valid until the next call (`[buffer, count]`): one
 * native call that allocates nothing, for searches that ask about one module at a time.
 */
function referrersOfOne(index, m) {
  flush(index)
  const id = index.ids.get(m)
  if (id === undefined) return [scratch, 0]
  let count = index.graph.referrersInto(id, scratch)
  if (count > scratch.length) {
    scratch = new Uint32Array(count * 2)
    count = index.graph.referrersInto(id, scratch)
  }
  return [scratch, count]
}

/** The module of `id` if require.cache still holds it under the key it was recorded with. */
function cachedModule(index, cache, id) {
  const key = index.keys.get(id)
  if (key === undefined || key === '') return undefined
  const m = cache[key]
  return m !== undefined && index.ids.get(m) === id ? [key, m] : undefined
}

/** `objects` (requirers outside the cache) by their id, for liveObject. */
function byId(index, objects) {
  const map = new Map()
  for (const m of objects) {
    const id = index.ids.get(m)
    if (id !== undefined) map.set(id, m)
  }
  return map
}

/**
 * The live object behind a referrer `id`: `[key, module]` when require.cache holds it under its
 * recorded key, `[undefined, requirer]` for one of `outside` (byId), `[null, module]` for a
 * module that other code deleted from the cache and that is still in memory (it may be garbage
 * not yet collected, or still listed by a live module: the caller decides), `GONE` when it was
 * collected, and undefined when the index cannot tell (an id made by an older copy).
 */
function liveObject(index, cache, id, outside) {
  const hit = cachedModule(index, cache, id)
  if (hit !== undefined) return hit
  const m = outside.get(id)
  if (m !== undefined) return [undefined, m]
  const ref = index.refs.get(id)
  if (ref === undefined) return undefined
  const stale = ref.deref()
  return stale === undefined ? GONE : index.ids.get(stale) === id ? [null, stale] : undefined
}

/** liveObject's answer for a module that was garbage collected: it refers to nothing. */
const GONE = Object.freeze([undefined, undefined])

function stats(index) {
  flush(index)
  const { nodes, edges, heapBytes } = index.graph.stats()
  return { modules: index.keys.size, nodes, edges, nativeBytes: heapBytes }
}

module.exports = { GONE, attach, drop, shouldRead, idFor, isKnown, noteLoad, noteChildren, flush, rebuild, reread, forget, referrersOf, referrersOfOne, cachedModule, byId, liveObject, stats }
