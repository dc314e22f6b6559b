'use strict'
// The live module graph index: who refers to which module, recorded as Node loads modules, so
// that an unload finds the holders of a tree by asking the index instead of reading every
// cached module (docs/node-internals.md §5 step 1 needs every holder; a scan of 30k modules cost
// 25-40 ms per unload, ISSUES #9).
//
// The graph itself lives in the native core (`ModuleGraph`, src/live_graph.rs) as integer ids.
// This file maps ids to modules without holding any module, not even weakly:
// - `ids` is a WeakMap (module -> id); `keys` maps an id to the require.cache key the module was
//   loaded or last read under ('' when it was not cached then), `aliases` an id to the other keys
//   a read found it under. From an id back to its module is `cache[key]`, checked against `ids`.
//   A module that no key holds (other code deleted it from the cache) is found down from its live
//   referrers: one of them lists it in `children` or names it as `parent` (`locate`). One that no
//   live module reaches is garbage for every plan, as it is for a full scan. (No `WeakRef`: a
//   WeakRef keeps its target alive until the current job ends, so a synchronous loop of reloads
//   would keep every generation.)
// - A recorded key that no longer holds its module (moved to another key, or deleted by other
//   code since the index last read it) sets `changed`: the plan that met it is made again after
//   one read of the whole graph (`rescan`), in which the module gets its new key, or '' if it is
//   no longer cached.
// - Unloads forget what they removed. Modules that other code removes leave their ids behind
//   (harmless: every answer is checked against the cache); so that they cannot pile up, the
//   index counts the cache each time it has doubled since its last full read or count: when
//   fewer than half the ids it holds can be cached modules, it is dropped and read anew at the
//   next plan (amortized: one read per doubling), else it goes on recording (the program loaded
//   more code; ids stay below about four times the cached modules). A FinalizationRegistry entry per module
//   would forget them promptly, but cost 1 µs per load (benchmark/require-overhead.js). Until the
//   index is read (when the package loads, if the cache is small: rescan.js startRecording; else
//   at the first plan; and after a drop) nothing is recorded, and that first plan reads everything.
// Edges are recorded by the loader wrappers (lib/loader/patches.js): the elements a `require()` appended to
// the requirer's `children`, and each new module's parent. They are buffered and handed to the
// native graph in one call when a plan needs them.
//
// The index is a superset of the references the loader made: an edge that other code removed
// stays until one end is forgotten, and whoever uses `referrersOf` reads the live `children` and
// `parent` of each answer. What it cannot see are references made by hand (a `push` into a known
// module's `children`, a replaced array, a second cache key): `rescan()` reads them all. A module
// moved to another key is seen (`changed`). A gap in
// the loader wrappers (another library put back `Module._load`) is noticed by the patches
// (`loaderEpoch`) and leads to the same scan, then full read, as an index never read.
const { isProxy } = require('node:util').types
const native = require('../native.js')

// How a module's `children` and recorded parent are read without running user code
// (readRefs, handed over by module-fields.js, which requires this file).
let reader = () => [[], undefined]
const useReader = (read) => {
  reader = read
}

/** Whether `value` can be a node of the graph: an object that is not a Proxy (never looked into). */
const isRef = (value) => value !== null && typeof value === 'object' && !isProxy(value)

/** Attaches the index to the process-wide shared state (state.js; shared by every copy of the package). */
function attach(state) {
  const index = (state.graphIndex ??= {
    graph: new native.ModuleGraph(),
    ids: new WeakMap(),
    keys: new Map(), // id -> require.cache key ('' when it was never cached)
    aliases: new Map(), // id -> the other require.cache keys a read found the module under
    laterKeys: new Map(), // id -> filename, for a requirer first seen outside the cache (firstSeen)
    refs: new Map(), // unused since no WeakRef is kept (an older copy may still read it)

    // Modules seen only as requirers since they were last read: their key is known (a lookup
    // works) but references they held before are not recorded.
    partial: new WeakSet(),
    nextId: 1,
    from: [],
    to: [],
    parentFrom: [],
    parentTo: [],
    readAtEpoch: -1, // state.loaderEpoch at the last full read; -1: never read (or dropped)
    readSize: 0, // keys.size after the last full read, or the last count that kept it (mostlyCached)
    scannedAt: undefined, // unused since every plan reads an unread index (older copies set it)
  })
  index.partial ??= new WeakSet()
  index.readSize ??= 0
  index.refs ??= new Map()
  index.aliases ??= new Map()
  index.laterKeys ??= new Map()
  index.changed ??= false
  // Added in 0.1.0's one-graph planner: parent edges are buffered apart from `children` edges (an
  // older copy still puts both in from/to: recorded as `children`, a superset the plans check).
  index.parentFrom ??= []
  index.parentTo ??= []
  // A graph made by an older copy's binary cannot plan: start a new one, read at the next plan.
  if (typeof index.graph.planTree !== 'function') {
    index.graph = new native.ModuleGraph()
    index.readAtEpoch = -1
  }
  return index
}

/** Forgets everything; the next plan reads the whole graph anew (see the file comment). */
function drop(index) {
  index.graph.clear()
  index.recorded = undefined
  index.ids = new WeakMap()
  index.keys.clear()
  index.refs.clear()
  index.aliases.clear()
  index.laterKeys.clear()
  index.partial = new WeakSet()
  index.from = []
  index.to = []
  index.parentFrom = []
  index.parentTo = []
  index.readAtEpoch = -1
  index.scannedAt = undefined
}

/** The id of `m`, made on first sight; `key` (when given) is where require.cache holds it. */
function idFor(index, m, key) {
  let id = index.ids.get(m)
  if (id === undefined) {
    id = index.nextId++
    index.ids.set(m, id)
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
    index.parentFrom.push(id)
    index.parentTo.push(idFor(index, parent))
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
      if (!index.keys.has(from)) firstSeen(index, parent, from, start, key)
    }
    index.from.push(from)
    index.to.push(idFor(index, child))
  }
  if (index.from.length > 1 << 16) flush(index)
}

/**
 * A requirer never seen loading or read (compiled by hand, as require-from-string does; a
 * createRequire proxy) makes its first recorded require(). When its `children` was empty before
 * it, every reference it holds is recorded from now on: its parent (and the `children` entry
 * `new Module(id, parent)` gave that parent) now, the rest as it requires. Then it is fully known,
 * and an unload of it plans through the index instead of reading the whole graph. Else what it
 * referred to before is not recorded (`partial`: the next plan that meets it reads the graph).
 * Not cached yet, it may be put into the cache under its filename later (`laterKeys`).
 */
function firstSeen(index, m, id, start, key) {
  index.keys.set(id, key)
  if (start !== 0) {
    index.partial.add(m)
    return
  }
  const parent = reader(m)[1]
  if (isRef(parent)) {
    const p = idFor(index, parent)
    index.parentFrom.push(id)
    index.parentTo.push(p)
    if (reader(parent)[0].includes(m)) index.from.push(p), index.to.push(id)
  }
  const d = key === '' ? Object.getOwnPropertyDescriptor(m, 'filename') : undefined
  if (d !== undefined && typeof d.value === 'string') index.laterKeys.set(id, d.value)
}

/** Hands the buffered edges to the native graph (in one call). */
function flush(index) {
  if (index.from.length > 0 || index.parentFrom.length > 0) index.graph.applyEdits(takeEdits(index, [], []))
}

const NONE = new Uint32Array(0)
const typed = (list) => (list.length === 0 ? NONE : Uint32Array.from(list))

/**
 * The buffered edges, and `dropFrom[k] -> dropTo[k]` (`children` references a plan found gone),
 * as the edits the native graph applies at the start of its next plan (ModuleGraph.planTree):
 * the plan is one native call.
 */
function takeEdits(index, dropFrom, dropTo) {
  const edits = {
    childFrom: typed(index.from),
    childTo: typed(index.to),
    parentFrom: typed(index.parentFrom),
    parentTo: typed(index.parentTo),
    dropFrom: typed(dropFrom),
    dropTo: typed(dropTo),
  }
  index.from = []
  index.to = []
  index.parentFrom = []
  index.parentTo = []
  index.recorded = undefined
  return edits
}

/**
 * A graph read anew from the cache for one plan, not the process's: the property-based suite and
 * the tests plan on it with the same planner and compare (engine.planTrees' fullScan).
 */
function scanned(cache, outside, read) {
  const index = { graph: new native.ModuleGraph(), refs: new Map(), nextId: 1, readAtEpoch: -1, changed: false }
  rebuild(index, cache, outside, read, -2)
  return index
}

/**
 * Reads the whole live graph anew: every cached module's `children` and `parent`, those of the
 * requirers outside the cache, and those of every object they lead to that no cache holds
 * (a module other code deleted from require.cache, an instance whose load threw). Run once at
 * first use, after a loader gap, and by `rescan()`. `read(m)` returns `[children, parent]`
 * without running user code (module-fields.js).
 */
function rebuild(index, cache, outside, read, epoch) {
  // Read into a fresh index, then take its place: until then `read` may ask the current one (a
  // module whose `children` is an accessor is described by what was recorded for it, module-fields.js).
  const next = { graph: new native.ModuleGraph(), ids: new WeakMap(), keys: new Map(), aliases: new Map(), laterKeys: new Map(), partial: new WeakSet(), nextId: index.nextId, from: [], to: [], parentFrom: [], parentTo: [] }
  // Every object this read gives an id, in id order from `base`: those no cache key holds are
  // read after the cache. Local: once the read is done, the graph holds no module.
  const base = next.nextId
  const seen = []
  for (const key of Object.keys(cache)) {
    const m = cache[key]
    if (!isRef(m)) continue
    let id = next.ids.get(m)
    if (id === undefined) id = newId(next, m, seen)
    else {
      // The same module under a second key (an alias): read once, every key kept.
      const first = next.keys.get(id)
      if (first !== undefined && first !== '') {
        addAlias(next, id, key)
        continue
      }
    }
    next.keys.set(id, key)
    readEdges(next, m, id, read, seen)
  }
  for (const m of outside) if (next.ids.get(m) === undefined) newId(next, m, seen)
  // (Nothing is partial during a read: `keys` alone tells what was read.)
  for (let k = 0; k < seen.length; k++) {
    const id = base + k
    if (next.keys.has(id)) continue
    next.keys.set(id, '')
    readEdges(next, seen[k], id, read, seen)
  }
  flush(next)
  index.graph.clear()
  index.refs.clear()
  Object.assign(index, next)
  index.readAtEpoch = epoch
  index.readSize = index.keys.size
  index.scannedAt = undefined
  index.changed = false
  index.recorded = undefined
}

/**
 * Records every reference `m` holds now (its `children` and `parent`); `m` is known from now on.
 */
function readModule(index, m, key, read) {
  const [children, parent] = read(m)
  const id = idFor(index, m, key)
  index.partial.delete(m)
  for (let k = 0; k < children.length; k++) {
    const child = children[k]
    if (!isRef(child)) continue
    index.from.push(id)
    index.to.push(idFor(index, child))
  }
  if (isRef(parent)) {
    index.parentFrom.push(id)
    index.parentTo.push(idFor(index, parent))
  }
}

/** A new id for `m` in a full read (rebuild), `m` pushed onto `seen` at `id - base`. */
function newId(index, m, seen) {
  const id = index.nextId++
  index.ids.set(m, id)
  seen.push(m)
  return id
}

/**
 * The id of `value` in a full read (rebuild), made on first sight; 0 when it cannot be a node. A
 * read gives an id only to what passed `isRef`, so a value that has one is not a Proxy: the check
 * runs once per object, not once per edge (75k edges against 30k modules in a 30k-module app).
 */
function readId(index, value, seen) {
  const id = index.ids.get(value)
  if (id !== undefined) return id
  return isRef(value) ? newId(index, value, seen) : 0
}

/** Buffers the edges of `m` (id `id`) in a full read (rebuild). */
function readEdges(index, m, id, read, seen) {
  const [children, parent] = read(m)
  for (let k = 0; k < children.length; k++) {
    const to = readId(index, children[k], seen)
    if (to !== 0) index.from.push(id), index.to.push(to)
  }
  const to = readId(index, parent, seen)
  if (to !== 0) index.parentFrom.push(id), index.parentTo.push(to)
}

function addAlias(index, id, key) {
  const list = index.aliases.get(id)
  if (list === undefined) index.aliases.set(id, [key])
  else if (!list.includes(key)) list.push(key)
}

/**
 * An instance whose load threw: Node deleted it from the cache. It keeps its id while a live
 * module may still list it, as a module outside the cache ('' key): not a key that changed.
 */
function noteAbandoned(index, m) {
  const id = index.ids.get(m)
  if (id !== undefined && index.keys.has(id)) index.keys.set(id, '')
}

/**
 * `m`, just unloaded and forgotten, is still listed by `holders` (arrays no cut could change): it
 * is recorded again as a module outside the cache, with what it refers to and those edges.
 */
function keepOutside(index, m, holders) {
  if (index.readAtEpoch < 0 || !isRef(m)) return
  readModule(index, m, '', reader)
  const id = index.ids.get(m)
  for (const h of holders) {
    if (!isRef(h)) continue
    index.from.push(idFor(index, h))
    index.to.push(id)
  }
}

/** Re-reads `modules` (a reload rollback put them back): they are known again, with their edges. */
function reread(index, modules, keyOf, read) {
  for (const m of modules) readModule(index, m, keyOf(m), read)
}

/** Forgets `modules` (they were unloaded): their ids and every edge that touches them. */
function forget(index, modules) {
  if (index.readAtEpoch < 0) return // nothing recorded
  // (Even when most of the graph went: forgetting is linear in what went, and the graph goes on
  // recording, where a drop would make the next plan read everything that is left.)
  const ids = []
  for (const m of modules) {
    const id = index.ids.get(m)
    if (id === undefined) continue
    if (index.keys.delete(id)) ids.push(id)
    // Forgotten whole: seen again (a rollback puts it back), it gets a new id.
    index.aliases.delete(id)
    index.laterKeys.delete(id)
    index.ids.delete(m)
  }
  if (ids.length === 0) return
  flush(index)
  index.graph.forget(Uint32Array.from(ids))
  index.recorded = undefined
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

/**
 * The module of `id` if require.cache still holds it under the key it was recorded with, or one
 * of its aliases: `[key, module]`. A recorded key that holds something else now sets `changed`
 * (see the file comment).
 */
function cachedModule(index, cache, id) {
  const key = index.keys.get(id)
  if (key === '') return laterKey(index, cache, id)
  if (key === undefined) return undefined
  const m = cache[key]
  if (m !== undefined && index.ids.get(m) === id) return [key, m]
  // Its recorded key changed: the plan is made again after a read, whichever key holds it now.
  index.changed = true
  const aliases = index.aliases.get(id)
  if (aliases !== undefined) {
    for (const alias of aliases) {
      const value = cache[alias]
      if (value !== undefined && index.ids.get(value) === id) return [alias, value]
    }
  }
  return undefined
}

/**
 * A module first seen outside the cache that was put into it under its filename since (a
 * require-from-string module cached by hand): that is its key from now on.
 */
function laterKey(index, cache, id) {
  const filename = index.laterKeys.get(id)
  if (filename === undefined) return undefined
  const m = cache[filename]
  if (m === undefined || index.ids.get(m) !== id) return undefined
  index.keys.set(id, filename)
  index.laterKeys.delete(id)
  return [filename, m]
}

/**
 * Whether the index knows `m` as a module first seen outside the cache (compiled by hand, as
 * require-from-string does) that no key it knows holds now: then a target lookup need not read
 * every cache key (a key made by hand for it is seen after `rescan()`, as every hand edit).
 */
function knownOutsideCache(index, cache, m, epoch) {
  if (index.readAtEpoch !== epoch) return false
  const id = index.ids.get(m)
  if (id === undefined || index.keys.get(id) !== '' || index.partial.has(m)) return false
  return laterKey(index, cache, id) === undefined && (index.aliases.get(id) ?? []).every((alias) => cache[alias] !== m)
}

/** Every key of `id` (recorded and aliases) under which require.cache holds `m` now. */
function cachedKeys(index, cache, id, m) {
  const out = []
  if (index.keys.get(id) === '') laterKey(index, cache, id)
  const key = index.keys.get(id)
  if (key !== undefined && key !== '' && cache[key] === m) out.push(key)
  for (const alias of index.aliases.get(id) ?? []) if (cache[alias] === m) out.push(alias)
  // A key it no longer has may mean a key it has now and the index does not know (moved).
  if (out.length !== 1 + (index.aliases.get(id)?.length ?? 0)) index.changed = true
  return out
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
 * module that no cache key holds but that a live module still reaches (found down from its
 * referrers, `locate`), and `GONE` when no live module reaches it (garbage, collected or not:
 * no plan counts it, as no full scan meets it). A recorded key that no longer holds its module
 * sets `changed`: the caller plans again after a read.
 */
function liveObject(index, cache, id, outside) {
  const hit = cachedModule(index, cache, id)
  if (hit !== undefined) return hit
  const m = outside.get(id)
  if (m !== undefined) return [undefined, m]
  const stale = locate(index, cache, id, outside, new Set())
  return stale === undefined ? GONE : [null, stale]
}

/**
 * The module of `id`, which no cache key holds, found down from its referrers: a live one (or one
 * found the same way) that lists it in `children` or names it as `parent`. Found objects are kept
 * in `outside.located` for the rest of the plan (a Map made per plan, never kept after it).
 */
function locate(index, cache, id, outside, visiting) {
  const hit = cachedModule(index, cache, id)
  if (hit !== undefined) return hit[1]
  const requirer = outside.get(id)
  if (requirer !== undefined) return requirer
  const located = (outside.located ??= new Map())
  if (located.has(id)) return located.get(id)
  if (visiting.has(id)) {
    visiting.cut = true
    return undefined
  }
  visiting.add(id)
  // A search that met a module already being searched (a cycle through `parent`) failed only for
  // this search: that answer is not remembered (fuzz, seed 20261326).
  const cutBefore = visiting.cut === true
  visiting.cut = false
  flush(index)
  const referrers = index.graph.referrersOf(Uint32Array.of(id))
  let found
  for (let k = 0; k < referrers.length && found === undefined; k++) {
    const holder = locate(index, cache, referrers[k], outside, visiting)
    if (holder === undefined || !isRef(holder)) continue
    const children = reader(holder)[0]
    for (let j = 0; j < children.length; j++) {
      if (isRef(children[j]) && index.ids.get(children[j]) === id) {
        found = children[j]
        break
      }
    }
    if (found === undefined) {
      const parent = reader(holder)[1]
      if (isRef(parent) && index.ids.get(parent) === id) found = parent
    }
  }
  if (found !== undefined || !visiting.cut) located.set(id, found)
  visiting.cut ||= cutBefore
  return found
}

/**
 * The live objects the index recorded `m` as referring to (its `children` and parent when they
 * were recorded), each found as liveObject finds referrers: for a module whose `children` cannot
 * be read (an accessor, never called).
 */
function recordedTargets(index, cache, m) {
  flush(index)
  // The same answer until the graph changes: a plan asks during planning and again during its
  // cuts, when the removed modules are no longer cached (so no longer found by id).
  index.recorded ??= new WeakMap()
  const known = index.recorded.get(m)
  if (known !== undefined) return known
  const id = index.ids.get(m)
  if (id === undefined || asking.has(id)) return [] // (a cycle of such modules: asked once)
  asking.add(id)
  try {
    const targets = targetsOf(index, cache, id)
    index.recorded.set(m, targets)
    return targets
  } finally {
    asking.delete(id)
  }
}

const asking = new Set()

function targetsOf(index, cache, id) {
  flush(index)
  const targets = index.graph.refersTo(id)
  const out = []
  const outside = new Map()
  for (let k = 0; k < targets.length; k++) {
    const hit = liveObject(index, cache, targets[k], outside)
    if (hit !== GONE && hit[1] !== undefined) out.push(hit[1])
  }
  return out
}

/** liveObject's answer for a module that no live module reaches: it refers to nothing. */
const GONE = Object.freeze([undefined, undefined])

function stats(index) {
  flush(index)
  const { nodes, edges, heapBytes } = index.graph.stats()
  return { modules: index.keys.size, nodes, edges, nativeBytes: heapBytes }
}

module.exports = { GONE, isRef, takeEdits, scanned, keepOutside, knownOutsideCache, attach, drop, idFor, isKnown, noteLoad, noteChildren, noteAbandoned, useReader, addAlias, recordedTargets, flush, rebuild, reread, forget, referrersOf, cachedModule, cachedKeys, byId, liveObject, stats }
