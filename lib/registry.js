'use strict'
// Process-wide state and the `Module._load` wrapper.
//
// Two jobs, both impossible without watching every require():
// 1. Requirers that are not in require.cache (createRequire proxies, the `internal/preload`
//    parent of --require modules, the REPL, vm loaders) hold modules through their `children`,
//    yet no walk of require.cache finds them. The wrapper records each one (node-internals.md
//    §1a row 7, §5 step 0: without it 600 of 800 generations survived the creq2 probe).
// 2. On Node >= 22 a new Module records its first requirer in a private slot
//    (`kLastModuleParent`) that nothing can clear. When code of an already unloaded module
//    requires something (a plugin reloading itself), the new generation would pin the old one,
//    and every generation the one before (node-internals.md, Addendum). The wrapper hands such
//    requires a small stand-in parent instead, so no new module ever points at an unloaded one.
//
// The state lives on globalThis under a registered symbol, so a second copy of this package
// (two versions in node_modules, or this package unloaded and loaded again) shares one wrapper
// and one registry instead of stacking wrappers.
const Module = require('node:module')

const STATE = Symbol.for('uncache-tree.state.v1')

function createState() {
  return {
    // Requirers outside require.cache, deduplicated by identity, held weakly.
    requirerSet: new WeakSet(),
    requirerRefs: new Set(),
    // Stand-in parents for requires made by unloaded modules (see isUnloaded).
    abandoned: new WeakSet(), // instances whose load threw (reload rollback): never loaded, never live
    standIns: new WeakMap(),
    standInSet: new WeakSet(),
    // Functions called with (modules, report) just before the cuts of an unload (dispose hooks).
    beforeCut: [],
    // Functions called with (parent, request) on every require(), before it runs.
    requireObservers: new Set(),
    // Functions called with (module, filename) when a module's code is about to load
    // (observeLoads; the Module.prototype.load wrapper is installed on first use).
    loadObservers: new Set(),
    originalLoad: null,
    originalModuleLoad: null,
  }
}

const state = globalThis[STATE] || (globalThis[STATE] = createState())

function isModuleLike(value) {
  // instanceof first: one prototype check for real Modules, where reading `.children` off every
  // kind of value made this the hottest line of a whole-graph unload.
  return value instanceof Module || (value !== null && typeof value === 'object' && Array.isArray(value.children))
}

/**
 * Whether `m` was unloaded (by this package or by other code): it finished loading, yet
 * require.cache no longer has it under its filename. Asked of the parent on every require(),
 * so it is a structural test instead of a WeakSet add per unloaded module (which was 1/6 of a
 * whole-graph unload at 30k modules).
 */
function isUnloaded(m) {
  return (m.loaded === true && Module._cache[m.filename] !== m) || state.abandoned.has(m)
}

function recordRequirer(parent) {
  if (state.requirerSet.has(parent)) return
  state.requirerSet.add(parent)
  state.requirerRefs.add(new WeakRef(parent))
}

/** A long-lived parent that resolves exactly like `old` but holds nothing of it. */
function standInFor(old) {
  let standIn = state.standIns.get(old)
  if (standIn === undefined) {
    standIn = new Module(old.id, null)
    standIn.filename = old.filename
    standIn.paths = old.paths
    state.standIns.set(old, standIn)
    state.standInSet.add(standIn)
    recordRequirer(standIn)
  }
  return standIn
}

function install() {
  if (state.originalLoad !== null) return
  const originalLoad = Module._load
  state.originalLoad = originalLoad
  Module._load = function uncacheTreeLoad(request, parent, isMain) {
    if (isModuleLike(parent)) {
      if (isUnloaded(parent)) parent = standInFor(parent)
      else if (Module._cache[parent.filename] !== parent) recordRequirer(parent)
      if (state.requireObservers.size > 0) {
        for (const observe of state.requireObservers) observe(parent, request)
      }
    }
    return originalLoad.call(this, request, parent, isMain)
  }
}

/**
 * Calls `observe(module, filename)` each time a Module's code is about to be loaded, until the
 * returned function is called. `Module.prototype.load` runs once per Module object that
 * require() creates, and also for CommonJS files that `import` brings in (Node 20-26 load those
 * through `Module._load` without a parent, so a `Module._load` observer sees no requirer there).
 * It is the one place that sees every new cache entry as it is made, with its key (`filename`),
 * which lets snapshot() know what was loaded since without scanning require.cache. The wrapper
 * is installed on first use, so processes that never take a snapshot pay nothing.
 */
function observeLoads(observe) {
  // A state object made by an older copy of this package may lack these fields.
  if (state.loadObservers === undefined) state.loadObservers = new Set()
  if (state.originalModuleLoad === undefined || state.originalModuleLoad === null) {
    const originalModuleLoad = Module.prototype.load
    state.originalModuleLoad = originalModuleLoad
    const observers = state.loadObservers
    Module.prototype.load = function uncacheTreeModuleLoad(filename) {
      if (observers.size > 0) {
        for (const notify of observers) notify(this, filename)
      }
      return originalModuleLoad.call(this, filename)
    }
  }
  state.loadObservers.add(observe)
  return () => state.loadObservers.delete(observe)
}

/**
 * The live requirers outside the cache. Drops the ones that were garbage collected. Stand-ins
 * are included (their `children` must be cut too) and told apart by `isStandIn`.
 */
function outsideRequirers() {
  const alive = []
  for (const ref of state.requirerRefs) {
    const m = ref.deref()
    if (m === undefined) state.requirerRefs.delete(ref)
    else alive.push(m)
  }
  return alive
}

module.exports = {
  state,
  install,
  isModuleLike,
  outsideRequirers,
  isStandIn: (m) => state.standInSet.has(m),
  observeLoads,
  isUnloaded,
  markAbandoned: (m) => state.abandoned.add(m),
}
