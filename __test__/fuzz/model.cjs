'use strict'
// The reference model of the property-based suite: what the contract says an unload must do,
// computed from a capture of the live module graph, in plain JS and independent of lib/.
//
// Design
// - No abstract state is carried from step to step. Before every API call the harness takes a
//   `capture()` of the live objects: require.cache (keys in order, values), every module-like
//   object reachable from it and from the test's own createRequire requirers (its `children`
//   array and contents, whether that array can be written, its recorded parent and any own
//   `parent` accessor, `loaded`, `filename`), Module._pathCache (entries, frozen or not), and
//   what the test knows that the graph does not show: which requirers are the test's live
//   `createRequire` proxies, which modules registered which dispose handlers and whether they
//   ran. Hand edits, requires and reloads therefore never need a model of their own: whatever
//   they did is in the next capture.
// - `expectedPlan(state, op)` says what the call must do, from the contract as the README and
//   index.d.ts state it: the removed set (reference counting over every live holder, roots always
//   removed, boundaries not walked), `kept` with its direct holders, `skipped` with reasons
//   (boundaries that a removed module requires, and roots kept by `keep`), the ids that must be
//   `pinned` (removed modules that an unwritable `children` or `parent` still reaches) and those
//   that may be (`last-parent` on Node >= 22), the `_pathCache` entries dropped, the dispose
//   handlers that must run and the errors they must leave in `report.errors`, or the error code
//   the call must throw. ops: uncacheTree, invalidate, reload (tree or not), restore.
// - `checkReport` compares the report with the plan (exact sets for removed, kept with heldBy,
//   skipped; importers before their dependencies in `removed` outside cycles; every pin
//   justified), `checkErrors` the dispose errors, and `checkLive` scans the live objects after
//   the call: no removed module is reachable from require.cache values, the `children` or
//   `parent` of a survivor, or Module._pathCache, unless the report lists it as pinned; every
//   survivor's dependencies that were cached are still cached under the same key with the same
//   identity; no key outside the plan changed.
// - `diffStates(a, b)` is the "a call that threw changed nothing" check: cache keys and their
//   order and values, every `children` array's contents, parents, `_pathCache`.
// Readings where the contract leaves room (each as lib/ implements and documents it):
// - reload's tree: an importer of the target inside the tree (a require cycle) is a root of the
//   tree plan; one outside the tree still holds what it requires (a singleton keeps identity).
// - a stale module (other code deleted its cache key) met in a tree is cut but has no id to be
//   listed under: it is neither in `removed` nor in `pinned`, and its file's `_pathCache`
//   entries are not the unload's business. A snapshot restore is the exception (API.md, "The
//   module graph"): a module that finished loading since the snapshot and that other code then
//   dropped from the cache is unloaded whether or not anything reaches it, listed (and pinned)
//   under the key it loaded with, and its file's entries go when no module that stays is cached
//   under that file. The harness says which modules those are (`op.dropped`): it saw the
//   deletes, and an API call that unloaded one since took it out of the snapshot's recording.
// - an entry of a frozen `_pathCache` names a file, not a module: nothing to pin.
// - a dispose handler that puts a fresh instance under a key being unloaded: the key keeps it
//   and is not listed (the harness adjusts the plan after the call, `acceptReplaced`).
// The full scans make this slow on purpose (a few hundred objects per step): it is an oracle,
// usable as the differential check of a faster engine.
const Module = require('node:module')
const fs = require('node:fs')

const NODE_MAJOR = Number(process.versions.node.split('.')[0])
const protoParent = Object.getOwnPropertyDescriptor(Module.prototype, 'parent')

/** The recorded parent (the value Node keeps), read without any own accessor a user added. */
function slotParent(m) {
  if (protoParent && protoParent.get && m instanceof Module) return protoParent.get.call(m)
  const d = Object.getOwnPropertyDescriptor(m, 'parent')
  return d && 'value' in d ? d.value : undefined
}

/** The parent user code sees (`m.parent`), calling only accessors the test itself defined. */
function visibleParent(m) {
  const d = Object.getOwnPropertyDescriptor(m, 'parent')
  if (d === undefined) return slotParent(m)
  return d.get ? d.get.call(m) : d.value
}

function isObject(v) {
  return v !== null && (typeof v === 'object' || typeof v === 'function')
}

/**
 * A value that a graph walk treats as a module: a Module, or an object with a children array.
 * (The test never puts Proxies into the cache or into `children`; exports may be Proxies, and
 * nothing here reads exports.)
 */
function isModuleish(v) {
  return v instanceof Module || (isObject(v) && Array.isArray(safeOwn(v, 'children')))
}

/** An own data property's value (Module fields are own data properties); never calls a getter. */
function safeOwn(v, name) {
  const d = Object.getOwnPropertyDescriptor(v, name)
  return d !== undefined && 'value' in d ? d.value : undefined
}

/** Whether the `children` reference of `m` cannot be changed (a frozen array, or a non-writable property). */
function childrenUnwritable(m) {
  const d = Object.getOwnPropertyDescriptor(m, 'children')
  if (d === undefined || !Array.isArray(d.value)) return false
  return Object.isFrozen(d.value) || (!d.writable && !Object.isExtensible(d.value))
}

/** Whether `m.parent` cannot be changed (an own getter without setter, or non-writable and non-configurable). */
function parentUnwritable(m) {
  const d = Object.getOwnPropertyDescriptor(m, 'parent')
  if (d === undefined) return false
  if (d.get !== undefined) return d.set === undefined
  return d.writable === false
}

/**
 * @param {{ proxies: object[], behaviours: WeakMap<object, { list: string[], ran: boolean }>, dropped?: Iterable<object> }} ctx
 */
function capture(ctx) {
  const cache = require.cache
  const keys = Object.keys(cache)
  const values = keys.map((k) => cache[k])
  const keyOf = new Map()
  for (let i = 0; i < keys.length; i++) if (!keyOf.has(values[i])) keyOf.set(values[i], keys[i])
  const nodes = new Map()
  const queue = []
  const visit = (v) => {
    if (!isObject(v) || nodes.has(v)) return
    nodes.set(v, null)
    queue.push(v)
  }
  for (const v of values) visit(v)
  for (const p of ctx.proxies) visit(p)
  const describe = (m, unreached) => {
    const childrenArray = isModuleish(m) ? safeOwn(m, 'children') : undefined
    const children = Array.isArray(childrenArray) ? childrenArray.slice() : null
    const parent = isModuleish(m) ? slotParent(m) : undefined
    const shown = isModuleish(m) ? visibleParent(m) : undefined
    const b = ctx.behaviours.get(m)
    nodes.set(m, {
      childrenArray,
      children,
      childrenUnwritable: children !== null && childrenUnwritable(m),
      parent,
      shownParent: shown,
      parentUnwritable: parentUnwritable(m),
      loaded: isModuleish(m) ? safeOwn(m, 'loaded') : undefined,
      filename: isModuleish(m) ? safeOwn(m, 'filename') : undefined,
      moduleInstance: m instanceof Module,
      handlers: b !== undefined && !b.ran ? b.list.slice() : [],
      unreached,
    })
    return { children, parent, shown }
  }
  for (let q = 0; q < queue.length; q++) {
    const { children, parent, shown } = describe(queue[q], false)
    if (children !== null) for (const c of children) if (isModuleish(c)) visit(c)
    if (isModuleish(parent)) visit(parent)
    if (isModuleish(shown)) visit(shown)
  }
  // Modules other code dropped from the cache while a snapshot recorded (the harness keeps them):
  // a restore unloads them even when nothing live reaches them any more, so the plan needs what
  // they are. Described, not walked: nothing else learns of them through these.
  for (const m of ctx.dropped ?? []) if (isObject(m) && !nodes.has(m)) describe(m, true)
  const pathCache = Module._pathCache
  return {
    keys,
    values,
    keyOf,
    nodes,
    proxies: ctx.proxies.slice(),
    main: require.main,
    pathCache: Object.entries(pathCache),
    pathCacheFrozen: Object.isFrozen(pathCache),
    pathCacheObject: pathCache,
  }
}

function idOf(state, m) {
  const key = state.keyOf.get(m)
  if (key !== undefined) return key
  const n = state.nodes.get(m)
  return (n && n.filename) || (m && m.id) || '<unknown requirer>'
}

function walkable(state, m) {
  const n = state.nodes.get(m)
  return n !== undefined && n !== null && n.children !== null && isModuleish(m)
}

function childrenOf(state, m) {
  const n = state.nodes.get(m)
  return n && n.children ? n.children.filter(isObject) : []
}

/** Why `m` is never unloaded or walked (met in a tree or on the way up), or undefined. */
function boundaryReason(state, m, keep) {
  if (m === state.main) return 'main'
  const n = state.nodes.get(m)
  const filename = n && n.filename
  if (typeof filename === 'string' && filename.endsWith('.node')) return 'native-addon'
  // Loading = a Module.prototype.load in progress: the harness never calls the API while a
  // fixture's code runs, so nothing is loading here (a hand-compiled module is not).
  const key = state.keyOf.get(m)
  if (key !== undefined && keep !== undefined && keep(key)) return 'kept-by-option'
  return undefined
}

/**
 * Roots of a call: require.cache values of the targets, in order, deduplicated; or the error the
 * call must throw (validated whole before anything changes).
 */
function resolveRoots(state, targets, { keep, allowMain }) {
  const roots = []
  const skippedRoots = []
  const rootKeys = []
  for (const t of targets) {
    if (t === 'node:fs') return { throws: 'ERR_UNCACHE_BUILTIN' }
    const idx = state.keys.indexOf(t)
    if (idx < 0) {
      if (!fs.existsSync(t)) return { throws: 'ERR_UNCACHE_UNRESOLVED' }
      if (t.endsWith('.node')) return { throws: 'ERR_UNCACHE_NATIVE_ADDON' }
      continue // not cached: nothing to do for it
    }
    const v = state.values[idx]
    const n = state.nodes.get(v)
    if (n && typeof n.filename === 'string' && n.filename.endsWith('.node')) return { throws: 'ERR_UNCACHE_NATIVE_ADDON' }
    if (v === state.main && !allowMain) return { throws: 'ERR_UNCACHE_MAIN' }
  }
  for (const t of targets) {
    const idx = state.keys.indexOf(t)
    if (idx < 0) continue
    const v = state.values[idx]
    if (keep !== undefined && keep(t)) {
      if (!skippedRoots.some((s) => s.id === t)) skippedRoots.push({ id: t, reason: 'kept-by-option' })
      continue
    }
    if (v === state.main) {
      if (!skippedRoots.some((s) => s.id === t)) skippedRoots.push({ id: t, reason: 'main' })
      continue
    }
    if (!roots.includes(v)) {
      roots.push(v)
      rootKeys.push(t)
    }
  }
  return { roots, skippedRoots, rootKeys }
}

/** The live holders outside `unloaded`: cached module-like values, and the test's live requirers. */
function liveHolders(state, unloaded) {
  const holders = []
  const seen = new Set()
  for (const v of state.values) {
    if (seen.has(v) || unloaded.has(v) || !walkable(state, v)) continue
    seen.add(v)
    holders.push(v)
  }
  for (const p of state.proxies) {
    if (seen.has(p) || unloaded.has(p) || !walkable(state, p)) continue
    seen.add(p)
    holders.push(p)
  }
  return holders
}

/**
 * The tree of `roots` with reference counting (uncacheTree, and reload's tree part).
 * `importers` (reload): modules unloaded anyway. One that is in the tree (a require cycle) goes
 * whoever holds it: a root of the tree, keeping nothing. One outside the tree still counts as a
 * holder of what it requires (main's reading of "a live module outside the tree": a singleton
 * that both an importer and the tree use keeps its identity).
 */
function treePlan(state, targets, { shared, keep, importers = new Set() }) {
  const closure = new Set(targets)
  const boundaries = new Map()
  const order = [...targets]
  for (let i = 0; i < order.length; i++) {
    const m = order[i]
    if (!walkable(state, m)) continue
    for (const c of childrenOf(state, m)) {
      if (closure.has(c) || boundaries.has(c)) continue
      const reason = importers.has(c) ? undefined : boundaryReason(state, c, keep)
      if (reason !== undefined) boundaries.set(c, reason)
      else {
        closure.add(c)
        order.push(c)
      }
    }
  }
  const rootSet = new Set([...targets, ...[...importers].filter((m) => closure.has(m))])
  const holders = shared === 'remove' ? [...boundaries.keys()].filter((b) => walkable(state, b)) : liveHolders(state, closure)
  const direct = new Map()
  for (const h of holders) {
    for (const c of childrenOf(state, h)) {
      if (!closure.has(c) || rootSet.has(c)) continue
      if (!direct.has(c)) direct.set(c, new Set())
      direct.get(c).add(h)
    }
  }
  const kept = new Set(direct.keys())
  const queue = [...kept]
  for (let i = 0; i < queue.length; i++) {
    for (const c of childrenOf(state, queue[i])) {
      if (closure.has(c) && !rootSet.has(c) && !kept.has(c)) {
        kept.add(c)
        queue.push(c)
      }
    }
  }
  const removed = new Set([...closure].filter((m) => !kept.has(m)))
  // What the report lists as kept is the frontier: each tree module a removed module requires
  // directly that stays, with every module outside the removed set that requires it directly and
  // counts as a holder (a live one; with shared: 'remove', a boundary met or a kept tree module).
  // What a kept module requires stays with it and is not listed.
  const counts =
    shared === 'remove'
      ? (h) => boundaries.has(h) || closure.has(h)
      : (() => {
          const live = new Set(liveHolders(state, new Set()))
          return (h) => live.has(h)
        })()
  const frontier = new Map()
  for (const m of removed) {
    for (const c of childrenOf(state, m)) if (closure.has(c) && !removed.has(c) && !frontier.has(c)) frontier.set(c, new Set())
  }
  if (frontier.size > 0) {
    const candidates = new Set([...liveHolders(state, new Set()), ...closure, ...boundaries.keys()])
    for (const h of candidates) {
      if (removed.has(h) || !counts(h) || !walkable(state, h)) continue
      for (const c of childrenOf(state, h)) frontier.get(c)?.add(h)
    }
  }
  return { closure, boundaries, removed, kept, direct: frontier }
}

/** invalidate's importers: the changed modules and every cached module that requires one, up to boundaries. */
function importersPlan(state, roots, { keep }) {
  const importersOf = new Map()
  // Importers are cached modules, and modules that other code deleted from the cache after they
  // loaded (still reached from a live one: they are in the capture): they hold the old exports
  // for the live importers above them, so invalidate climbs through them (API.md, "The module
  // graph"). Requirers that never loaded as files (createRequire proxies) are only cut.
  // (Reached from a holder through holders and such modules only: what only a stand-in for a
  // dying module lists is not.)
  const cached = new Set(state.values)
  const importers = [...cached]
  const deleted = (m) => {
    const n = state.nodes.get(m)
    return !cached.has(m) && n !== undefined && n !== null && !n.unreached && n.loaded === true && isModuleish(m) && !state.proxies.includes(m)
  }
  const queue = [...cached, ...state.proxies]
  const seen = new Set(queue)
  for (let q = 0; q < queue.length; q++) {
    const n = state.nodes.get(queue[q])
    if (!n) continue
    for (const next of [...(n.children ?? []), n.parent]) {
      if (!isObject(next) || seen.has(next) || !deleted(next)) continue
      seen.add(next)
      queue.push(next)
      importers.push(next)
    }
  }
  for (const v of importers) {
    if (!walkable(state, v)) continue
    for (const c of childrenOf(state, v)) {
      if (!importersOf.has(c)) importersOf.set(c, [])
      if (!importersOf.get(c).includes(v)) importersOf.get(c).push(v)
    }
  }
  const set = new Set(roots)
  const order = [...roots]
  const boundaries = new Map()
  for (let i = 0; i < order.length; i++) {
    for (const imp of importersOf.get(order[i]) ?? []) {
      if (set.has(imp) || boundaries.has(imp)) continue
      const reason = boundaryReason(state, imp, keep)
      if (reason !== undefined) boundaries.set(imp, reason)
      else {
        set.add(imp)
        order.push(imp)
      }
    }
  }
  return { removed: set, boundaries }
}

/**
 * What the report's pinned must contain, and may contain, for a plan removing `removed` (of which
 * `detached`, module -> key, are out of the cache and listed under the key they loaded with).
 */
function pinnedExpectations(state, removed, detached) {
  const survivors = new Set()
  for (const v of state.values) if (!removed.has(v)) survivors.add(v)
  for (const p of state.proxies) if (!removed.has(p)) survivors.add(p)
  const reached = new Set()
  const queue = []
  const reach = (m) => {
    if (removed.has(m) && !reached.has(m)) {
      reached.add(m)
      queue.push(m)
    }
  }
  const follow = (m) => {
    const n = state.nodes.get(m)
    if (!n) return
    if (n.childrenUnwritable) for (const c of n.children) reach(c)
    if (n.parentUnwritable) reach(n.shownParent)
  }
  for (const s of survivors) follow(s)
  for (let i = 0; i < queue.length; i++) follow(queue[i])
  // (Every key of a module cached under several: each is a key of the removed module.)
  const must = new Set()
  for (let i = 0; i < state.keys.length; i++) if (reached.has(state.values[i])) must.add(state.keys[i])
  for (const [m, key] of detached) if (reached.has(m)) must.add(key)
  // A _pathCache entry that cannot be deleted (a frozen _pathCache) is a reference Node keeps
  // that could not be cut: the removed module of that file is pinned (unwritable).
  if (state.pathCacheFrozen) {
    const files = new Set(state.pathCache.map(([, v]) => v))
    for (let i = 0; i < state.keys.length; i++) {
      const m = state.values[i]
      if (!removed.has(m)) continue
      const n = state.nodes.get(m)
      if (files.has((n && typeof n.filename === 'string' && n.filename) || state.keys[i])) must.add(state.keys[i])
    }
    for (const [m, key] of detached) {
      const n = state.nodes.get(m)
      if (files.has((n && typeof n.filename === 'string' && n.filename) || key)) must.add(key)
    }
  }
  const lastParent = new Set()
  if (NODE_MAJOR >= 22) {
    for (const [, n] of state.nodes) {
      if (n && removed.has(n.parent) && state.keyOf.has(n.parent)) lastParent.add(state.keyOf.get(n.parent))
      else if (n && detached.has(n.parent)) lastParent.add(detached.get(n.parent))
    }
  }
  return { must, lastParent }
}

/** Every require.cache key whose value is removed (a removed module listed under each of its keys). */
function removedKeys(state, removed) {
  const keys = []
  for (let i = 0; i < state.keys.length; i++) if (removed.has(state.values[i])) keys.push(state.keys[i])
  return keys
}

function pathCacheCount(state, removed, detached) {
  // Files of the removed cache entries (a stale module that other code deleted from the cache
  // is cut, but its file's resolutions are not the unload's business), and those of the dropped
  // modules a restore unloads when no module that stays is cached under that file.
  const files = new Set()
  for (const m of removed) {
    const key = state.keyOf.get(m)
    if (key === undefined) continue
    files.add(key)
    const n = state.nodes.get(m)
    if (n && typeof n.filename === 'string') files.add(n.filename)
  }
  const cachedAfter = (f) => {
    const i = state.keys.indexOf(f)
    return i >= 0 && !removed.has(state.values[i])
  }
  for (const [m, key] of detached) {
    const n = state.nodes.get(m)
    for (const f of new Set([key, n && typeof n.filename === 'string' ? n.filename : key])) if (!cachedAfter(f)) files.add(f)
  }
  return state.pathCache.filter(([, v]) => files.has(v)).length
}

/** The dispose handlers the call runs (modules in the removed set that registered some and have not run them). */
function disposeExpectations(state, removed) {
  const runs = []
  const errorKinds = []
  const asyncKinds = []
  // A lazy require() in a dispose handler fails like any require of a new request while
  // Module._pathCache is frozen (Node's resolver cannot cache it): the user's error, recorded.
  const lazyMayFail = state.pathCacheFrozen
  for (const m of removed) {
    const n = state.nodes.get(m)
    if (!n || !n.moduleInstance || n.handlers.length === 0) continue
    runs.push(m)
    for (const h of n.handlers) {
      if (h === 'throw') errorKinds.push(`throw:${n.filename}`)
      else if (h.startsWith('reenter')) errorKinds.push('ERR_UNCACHE_REENTRANT')
      else if (h === 'async') asyncKinds.push(`async:${n.filename}`)
    }
  }
  return { runs, errorKinds: errorKinds.sort(), asyncKinds: asyncKinds.sort(), lazyMayFail }
}

/**
 * What the contract says `op` must do on `state`.
 * op: { api: 'uncacheTree', targets, shared, keep, dryRun }
 *   | { api: 'invalidate', targets, keep, dryRun }
 *   | { api: 'reload', target, tree, shared, keep }
 *   | { api: 'restore', baseline: Map<key, value>, dropped?: Iterable<[module, key]> }
 * `keep` is a predicate over ids (the harness turns RegExp/function options into one).
 */
function expectedPlan(state, op) {
  let removed
  let kept = []
  let skipped = []
  let boundariesOfTree = new Map()
  const detached = new Map() // restore: dropped module -> the key it loaded with
  // Options are validated before targets: an unknown name is a RangeError, nothing changes.
  if (op.unknownOption !== undefined) return { throws: 'ERR_INVALID_ARG_VALUE' }
  if (op.api === 'uncacheTree' || op.api === 'invalidate' || op.api === 'reload') {
    const targets = op.api === 'reload' ? [op.target] : op.targets
    const r = resolveRoots(state, targets, { keep: op.keep, allowMain: op.api === 'invalidate' })
    if (r.throws) return { throws: r.throws }
    skipped.push(...r.skippedRoots)
    if (op.api === 'uncacheTree' || (op.api === 'reload' && op.tree !== false)) {
      let importers = { removed: new Set(), boundaries: new Map() }
      if (op.api === 'reload') importers = importersPlan(state, r.roots, { keep: op.keep })
      const t = treePlan(state, r.roots, { shared: op.shared ?? 'keep', keep: op.keep, importers: importers.removed })
      removed = new Set([...importers.removed, ...t.removed])
      for (const [c, holders] of t.direct) kept.push({ id: idOf(state, c), heldBy: [...holders].map((h) => idOf(state, h)).sort() })
      boundariesOfTree = t.boundaries
      // Skipped modules are the tree's boundaries: those a removed module *of the tree* requires
      // (reload's importers outside the tree are not walked down).
      for (const [b, reason] of t.boundaries) {
        if ([...t.removed].some((m) => childrenOf(state, m).includes(b))) skipped.push({ id: idOf(state, b), reason })
      }
      for (const [b, reason] of importers.boundaries) {
        if (!skipped.some((s) => s.id === idOf(state, b))) skipped.push({ id: idOf(state, b), reason })
      }
    } else {
      const p = importersPlan(state, r.roots, { keep: op.keep })
      removed = p.removed
      for (const [b, reason] of p.boundaries) skipped.push({ id: idOf(state, b), reason })
    }
  } else if (op.api === 'restore') {
    removed = new Set()
    for (let i = 0; i < state.keys.length; i++) {
      const v = state.values[i]
      if (op.baseline.get(state.keys[i]) === v) continue
      const reason = boundaryReason(state, v, undefined)
      if (reason !== undefined) skipped.push({ id: state.keys[i], reason })
      else removed.add(v)
    }
    // API.md, "The module graph": a module that finished loading since the snapshot and that
    // other code then dropped from the cache (`op.dropped`: the harness's hand deletes, minus
    // what an API call unloaded since) is unloaded too when it is under no key now, and listed
    // under the key it loaded with.
    for (const [m, key] of op.dropped ?? []) {
      const n = state.nodes.get(m)
      if (state.keyOf.has(m) || removed.has(m) || !n || n.loaded !== true) continue
      const reason = boundaryReason(state, m, undefined)
      if (reason !== undefined) skipped.push({ id: key, reason })
      else {
        removed.add(m)
        detached.set(m, key)
      }
    }
  } else {
    throw new Error(`model: unknown op ${op.api}`)
  }
  const pins = pinnedExpectations(state, removed, detached)
  return {
    dryRun: op.dryRun === true,
    removed,
    removedKeys: removedKeys(state, removed),
    // Keys of the dropped modules a restore unloads: listed besides removedKeys, even when
    // another removed module is cached under the same key (then the key is listed once for each).
    detached,
    detachedKeys: [...detached.values()],
    kept: kept.sort(byIdThenHolders),
    skipped: dedupeSkipped(skipped),
    boundaries: boundariesOfTree,
    pinnedMust: pins.must,
    pinnedLastParent: pins.lastParent,
    pathCacheEntries:
      state.pathCacheFrozen
        ? 0 // nothing can be dropped; the entries name files, not modules
        : /(^|,)pathCache(,|$)/.test(process.env.UNCACHE_FUZZ_SKIP ?? '')
          ? undefined
          : pathCacheCount(state, removed, detached),
    dispose: disposeExpectations(state, removed),
  }
}

function dedupeSkipped(list) {
  const out = []
  for (const s of list) if (!out.some((o) => o.id === s.id)) out.push(s)
  return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
}

// ---------------------------------------------------------------- checks

class Violation extends Error {
  constructor(message) {
    super(message)
    this.name = 'Violation'
  }
}

function fail(message) {
  throw new Violation(message)
}

function sameSet(a, b) {
  const x = [...a].sort()
  const y = [...b].sort()
  return x.length === y.length && x.every((v, i) => v === y[i])
}

function show(v) {
  return JSON.stringify(v, null, 0)
}

/**
 * Order of `kept` entries for comparison. The contract gives `kept` no order, and one id can be
 * listed twice: two instances of a module other code deleted from the cache, each held by its own
 * requirer. Ordering by id alone left those two in whatever order each side found them (fuzz, seed
 * 529638933), so ties are broken by the holders.
 */
function byIdThenHolders(a, b) {
  if (a.id !== b.id) return a.id < b.id ? -1 : 1
  const x = a.heldBy.join('\n')
  const y = b.heldBy.join('\n')
  return x < y ? -1 : x > y ? 1 : 0
}

/**
 * The report against the plan: exact removed set, kept with heldBy, skipped; importers first;
 * pinned justified; pathCacheEntries.
 */
function checkReport(state, plan, report, label) {
  const keysOfRemoved = [...plan.removedKeys, ...(plan.detachedKeys ?? [])]
  // Every key once, also when a restore unloads a module other code dropped from the cache and the
  // one loaded under its key since (two removed modules, one key).
  const expectedKeys = [...new Set(keysOfRemoved)]
  if (report.removed.some((k, i) => report.removed.indexOf(k) !== i)) fail(`${label}: report.removed lists a key twice: ${show(report.removed)}`)
  if (!sameSet(report.removed, expectedKeys)) {
    fail(`${label}: report.removed ${show([...report.removed].sort())} but the contract says ${show([...expectedKeys].sort())}`)
  }
  const sharedKeys = new Set(keysOfRemoved.filter((k, i) => keysOfRemoved.indexOf(k) !== i))
  const kept = report.kept.map((k) => ({ id: k.id, heldBy: [...k.heldBy].sort() })).sort(byIdThenHolders)
  if (show(kept) !== show(plan.kept)) fail(`${label}: report.kept ${show(kept)} but the contract says ${show(plan.kept)}`)
  const skipped = dedupeSkipped(report.skipped.map((s) => ({ id: s.id, reason: s.reason })))
  if (skipped.length !== report.skipped.length) fail(`${label}: report.skipped lists a module twice: ${show(report.skipped)}`)
  if (show(skipped) !== show(plan.skipped)) fail(`${label}: report.skipped ${show(skipped)} but the contract says ${show(plan.skipped)}`)
  // Importers before the modules they import, except inside a cycle.
  const index = new Map(report.removed.map((k, i) => [k, i]))
  const removedObjs = plan.removed
  const reach = (from, to) => {
    const seen = new Set([from])
    const q = [from]
    for (let i = 0; i < q.length; i++) {
      for (const c of childrenOf(state, q[i])) {
        if (c === to) return true
        if (removedObjs.has(c) && !seen.has(c)) {
          seen.add(c)
          q.push(c)
        }
      }
    }
    return false
  }
  // A key that two removed modules share names neither of them in particular: left out.
  const keyOf = (m) => {
    const k = state.keyOf.get(m) ?? plan.detached?.get(m)
    return k === undefined || sharedKeys.has(k) ? undefined : k
  }
  for (const a of removedObjs) {
    const ka = keyOf(a)
    if (ka === undefined) continue
    for (const b of childrenOf(state, a)) {
      const kb = keyOf(b)
      if (b === a || kb === undefined || !removedObjs.has(b)) continue
      if (index.get(ka) > index.get(kb) && !reach(b, a)) {
        fail(`${label}: report.removed lists ${kb} before its importer ${ka}: ${show(report.removed)}`)
      }
    }
  }
  const removedKeySet = new Set(report.removed)
  for (const p of report.pinned) {
    if (!removedKeySet.has(p.id)) fail(`${label}: pinned ${show(p)} is not in removed`)
    if (p.by === 'unwritable') {
      // UNCACHE_FUZZ_SKIP=falsePins: F18 of the findings (a search for other bugs only).
      if (!plan.pinnedMust.has(p.id) && !/(^|,)falsePins(,|$)/.test(process.env.UNCACHE_FUZZ_SKIP ?? '')) fail(`${label}: pinned ${show(p)} but no unwritable reference reaches it`)
    } else if (p.by === 'last-parent') {
      if (!plan.pinnedLastParent.has(p.id) && !/(^|,)falsePins(,|$)/.test(process.env.UNCACHE_FUZZ_SKIP ?? '')) fail(`${label}: pinned ${show(p)} but it is no survivor's recorded parent (Node ${process.version})`)
    } else {
      fail(`${label}: pinned ${show(p)}: this suite never loads ES modules`)
    }
  }
  const pinnedIds = new Set(report.pinned.map((p) => p.id))
  // UNCACHE_FUZZ_SKIP=dryRunPinned: F17 of the findings (a search for other bugs only).
  const skipDry = plan.dryRun && /(^|,)dryRunPinned(,|$)/.test(process.env.UNCACHE_FUZZ_SKIP ?? '')
  for (const id of skipDry ? [] : plan.pinnedMust) {
    if (!pinnedIds.has(id)) fail(`${label}: ${id} is still reached by an unwritable reference but not in pinned ${show(report.pinned)}`)
  }
  const countOk = plan.pathCacheAtLeast
    ? report.pathCacheEntries >= plan.pathCacheEntries
    : report.pathCacheEntries === plan.pathCacheEntries
  if (plan.pathCacheEntries !== undefined && !countOk) {
    fail(`${label}: report.pathCacheEntries ${report.pathCacheEntries} but ${plan.pathCacheEntries} Module._pathCache entries named removed files`)
  }
}

/** Sync errors in report.errors as kinds comparable with the plan. */
function errorKind(e) {
  if (e && typeof e === 'object' && typeof e.fuzzKind === 'string') return e.fuzzKind
  if (e && typeof e === 'object' && typeof e.code === 'string') return e.code
  return `unexpected: ${e && e.stack ? e.stack.split('\n').slice(0, 3).join(' | ') : String(e)}`
}

function checkErrors(plan, report, label) {
  // Rejections of async handlers are appended when they settle: checked once the sequence ends.
  const resolverError = (e) => plan.dispose.lazyMayFail && e instanceof TypeError && /not extensible/.test(e.message)
  const kinds = report.errors.filter((e) => !resolverError(e)).map(errorKind).filter((k) => !k.startsWith('async:')).sort()
  if (show(kinds) !== show(plan.dispose.errorKinds)) {
    fail(`${label}: report.errors ${show(kinds)} but the dispose handlers that had to run throw ${show(plan.dispose.errorKinds)}`)
  }
}

/**
 * The live graph after a call that completed: nothing removed reachable (except pinned), every
 * survivor's dependency still loaded with its identity, nothing outside the plan changed.
 * `loads` is true for reload (new modules may appear, removed keys may come back fresh).
 */
function checkLive(before, after, plan, report, label, { loads = false, restore = false, replaced = new Set(), allowedNewKeys = () => false } = {}) {
  const pinned = new Set((report.pinned ?? []).map((p) => p.id))
  const removed = plan.removed
  // A dropped module a restore unloads (plan.detached) has the key it loaded with as its id.
  const detached = plan.detached ?? new Map()
  const keyOfRemoved = (m) => before.keyOf.get(m) ?? detached.get(m)
  const removedId = (m) => keyOfRemoved(m) ?? before.nodes.get(m)?.filename
  const survivors = new Set()
  for (const v of after.values) if (!removed.has(v)) survivors.add(v)
  for (const p of after.proxies) if (!removed.has(p)) survivors.add(p)
  const isPinned = (m) => pinned.has(keyOfRemoved(m))
  // A stale module (other code deleted its cache key) that the unload cut has no id to be listed
  // under: an unwritable reference to it is all that can be, and it cannot be reported.
  const excused = (m, unwritable) => isPinned(m) || (unwritable && (keyOfRemoved(m) === undefined || replaced.has(before.keyOf.get(m))))
  for (const s of survivors) {
    const n = after.nodes.get(s)
    if (!n) continue
    if (n.children) {
      for (const c of n.children) {
        if (removed.has(c) && !excused(c, n.childrenUnwritable)) fail(`${label}: removed ${removedId(c)} is still in the children of ${idOf(after, s)}`)
      }
    }
    if (removed.has(n.parent) && !isPinned(n.parent)) fail(`${label}: removed ${removedId(n.parent)} is still the recorded parent of ${idOf(after, s)}`)
    if (removed.has(n.shownParent) && !excused(n.shownParent, n.parentUnwritable)) fail(`${label}: removed ${removedId(n.shownParent)} is still ${idOf(after, s)}.parent`)
  }
  for (let i = 0; i < after.keys.length; i++) {
    if (removed.has(after.values[i]) && !isPinned(after.values[i])) fail(`${label}: removed ${removedId(after.values[i])} is still in require.cache under ${after.keys[i]}`)
  }
  const removedFiles = new Map()
  for (const m of removed) {
    const k = keyOfRemoved(m)
    if (k === undefined) continue
    removedFiles.set(k, m)
    const f = before.nodes.get(m)?.filename
    if (typeof f === 'string') removedFiles.set(f, m)
  }
  const cachedAfter = new Set(after.keys)
  // UNCACHE_FUZZ_SKIP=pathCache: leaves out the _pathCache checks (F14, F19 of the findings; a
  // search for other bugs only).
  const skipPathCache = /(^|,)pathCache(,|$)/.test(process.env.UNCACHE_FUZZ_SKIP ?? '')
  for (const [k, v] of skipPathCache || after.pathCacheFrozen ? [] : after.pathCache) {
    const m = removedFiles.get(v)
    if (m !== undefined && !cachedAfter.has(v) && !isPinned(m)) fail(`${label}: Module._pathCache[${show(k)}] still names removed ${v}`)
  }
  // Dependencies of survivors that were cached stay cached with the same identity.
  const afterCache = new Map(after.keys.map((k, i) => [k, after.values[i]]))
  for (const s of survivors) {
    const n = after.nodes.get(s)
    if (!n || !n.children) continue
    for (const c of n.children) {
      const k = before.keyOf.get(c)
      if (k === undefined || removed.has(c)) continue // a removed one still listed: checked above (pinned)
      if (afterCache.get(k) !== c) fail(`${label}: ${k}, still required by ${idOf(after, s)}, is no longer the cached module for its key`)
    }
  }
  // Keys: exactly the removed ones went; the others kept their value; new ones only where allowed.
  const beforeCache = new Map(before.keys.map((k, i) => [k, before.values[i]]))
  const removedKeySet = new Set(plan.removedKeys)
  for (const [k, v] of beforeCache) {
    if (replaced.has(k)) continue // a dispose handler put a fresh instance there: it stays
    if (removedKeySet.has(k)) {
      if (afterCache.has(k) && afterCache.get(k) === v) fail(`${label}: ${k} was to be removed but is still cached`)
      if (afterCache.has(k) && !loads) fail(`${label}: ${k} was removed and something cached it again`)
    } else if (afterCache.get(k) !== v && !(loads && !afterCache.has(k))) {
      fail(`${label}: ${k} was not to be unloaded, but require.cache ${afterCache.has(k) ? 'holds another object' : 'lost it'}`)
    }
  }
  for (const k of afterCache.keys()) {
    if (!beforeCache.has(k) && !loads && !allowedNewKeys(k)) fail(`${label}: a new require.cache key appeared: ${k}`)
  }
}

/** The differences between two captures (empty when nothing changed): the "threw, changed nothing" check. */
function diffStates(a, b, rollback = undefined) {
  const out = []
  if (show(a.keys) !== show(b.keys) && !(rollback !== undefined && sameRollbackOrder(a, b, rollback))) {
    out.push(`require.cache keys differ: before ${show(a.keys.slice(-12))} after ${show(b.keys.slice(-12))}`)
  } else {
    const after = new Map(b.keys.map((k, i) => [k, b.values[i]]))
    for (let i = 0; i < a.keys.length; i++) if (a.values[i] !== after.get(a.keys[i])) out.push(`require.cache[${a.keys[i]}] is another object`)
  }
  for (const [m, na] of a.nodes) {
    const nb = b.nodes.get(m)
    if (!na) continue
    if (!nb) {
      // Not reachable any more: only a problem if it held something.
      continue
    }
    if ((na.children === null) !== (nb.children === null)) out.push(`${idOf(a, m)}.children changed kind`)
    else if (na.children) {
      if (na.childrenArray !== nb.childrenArray) out.push(`${idOf(a, m)}.children is another array`)
      if (na.children.length !== nb.children.length || na.children.some((c, i) => c !== nb.children[i])) {
        out.push(`${idOf(a, m)}.children changed: ${na.children.map((c) => idOf(a, c)).join(',')} → ${nb.children.map((c) => idOf(b, c)).join(',')}`)
      }
    }
    if (na.parent !== nb.parent) out.push(`${idOf(a, m)}.parent changed`)
  }
  if (/(^|,)pathCache(,|$)/.test(process.env.UNCACHE_FUZZ_SKIP ?? '')) return out
  const pa = new Map(a.pathCache)
  const pb = new Map(b.pathCache)
  const cachedB = new Set(b.keys)
  // Dropping an entry that names a file not loaded only costs a lookup later; changing one, or
  // dropping one of a loaded file, is a change.
  for (const [k, v] of pa) {
    if (pb.has(k) ? pb.get(k) !== v : cachedB.has(v)) out.push(`Module._pathCache[${show(k)}] changed or went`)
  }
  // A resolution adds entries (require.resolve does too); only one naming a file that is neither
  // loaded nor on disk would resolve wrongly later.
  for (const [k, v] of pb) if (!pa.has(k) && !cachedB.has(v) && !fs.existsSync(v)) out.push(`Module._pathCache[${show(k)}] = ${v} was added and names no file`)
  return out
}

/**
 * A failed reload's key order, as docs/module-graph.md states it: the same keys; the keys that
 * stayed in their order; the removed keys (`rollback.removed`) back in their place among every key
 * whose insertion the package saw (`rollback.unseen`: keys made by hand, or loaded while another
 * library had put back the loader, since the last full read). Only their place next to such a key
 * may differ.
 */
function sameRollbackOrder(a, b, { removed, unseen }) {
  if (unseen.size === 0 || a.keys.length !== b.keys.length || !sameSet(a.keys, b.keys)) return false
  const removedSet = new Set(removed)
  const kept = (keys) => keys.filter((k) => !removedSet.has(k))
  const seen = (keys) => keys.filter((k) => !unseen.has(k) || removedSet.has(k))
  return show(kept(a.keys)) === show(kept(b.keys)) && show(seen(a.keys)) === show(seen(b.keys))
}

module.exports = {
  byIdThenHolders,
  capture,
  expectedPlan,
  checkReport,
  checkErrors,
  checkLive,
  diffStates,
  Violation,
  fail,
  idOf,
  slotParent,
  visibleParent,
  isModuleish,
  errorKind,
  show,
}
