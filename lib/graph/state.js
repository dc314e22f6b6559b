'use strict'
// The process-wide state that every copy of this package in the process shares, and the small
// predicates that read it or read a module without running its code.
//
// The state lives on globalThis under a registered symbol, so a second copy of this package
// (two versions in node_modules, or this package unloaded and loaded again) shares one state
// and one set of loader wrappers (lib/loader/patches.js). Fields are added lazily, so a state
// made by an older copy works. Its layout only grows (ARCHITECTURE.md, "Invariants"): a field
// keeps the type and meaning the first copy that made it gave it, because copies of any older
// version read it as they knew it; a change of layout is a field (or state) of a new name. So the
// whole layout is written here, in one place, in the order the first copy made it; the files that
// use a field say why it exists (loader patches, path-cache.js, hooks.js, dispose.js,
// outside-requirers.js). Fields that one feature adds for itself (`snapshots`, `hotStore`,
// `testRunnerRestoreHooks`) are made by that feature, under the same rule.
const Module = require('node:module')
const { isProxy } = require('node:util').types

const graphIndex = require('./graph-index.js')

const STATE = Symbol.for('uncache-tree.state.v1')

const state = globalThis[STATE] || (globalThis[STATE] = {})
// Who refers to which module, recorded by the loader wrappers (graph-index.js).
const index = graphIndex.attach(state)
// Read by copies whose index forgot collected modules through a FinalizationRegistry (0.1.0
// builds before 66a56fd): they push and drain it themselves; no newer copy uses it.
index.collected ??= []
// Requirers outside require.cache, deduplicated by identity, held weakly.
state.requirerSet ??= new WeakSet()
state.requirerRefs ??= new Set()
// Instances that must never count as live: their load threw (reload rollback), or they were
// unloaded while `loaded === false` (compiled by hand), which the structural test cannot see.
state.abandoned ??= new WeakSet()
// Stand-in parents for requires made by unloaded (or dying) modules.
state.standIns ??= new WeakMap()
state.standInSet ??= new WeakSet()
// The hooks (see HOOKS in hooks.js; added and removed with `on`). `beforeCut` is an array, as the
// first layout made it: older copies push onto it and read its `length` (a Set made them skip
// every dispose handler and throw from snapshot()). A state that a copy of 8b81ed5..b4c61c2 made
// holds a Set there; `on` and `hasHooks` take both.
state.beforeCut ??= []
state.requireObservers ??= new Set()
state.loadObservers ??= new Set()
state.rollbackObservers ??= new Set()
state.resolveObservers ??= new Set()
// Modules whose Module.prototype.load is running now.
state.loading ??= new Set()
// Modules that were loading when the wrappers were first installed (their files were on the
// stack then): they count as loading until their `loaded` flag turns true.
state.loadingAtInstall ??= new WeakSet()
// While dispose handlers run: the modules being unloaded (requires they make get stand-ins),
// and how deep we are (unloading functions called then are re-entrant and refused).
state.dying ??= null
state.disposeDepth ??= 0
// The wrappers this state installed, and a counter bumped whenever other code was found to have
// replaced one of them (requires or loads made meanwhile were not seen).
state.originalLoad ??= null
state.loadWrapper ??= null
state.originalModuleLoad ??= null
state.moduleLoadWrapper ??= null
state.originalFindPath ??= null
state.findPathWrapper ??= null
state.originalRequire ??= null
state.requireWrapper ??= null
// The require wrapper's view of the _load wrapper (see wrapRequire in lib/loader/patches.js): how many _load calls ran,
// and which `children` array the last one recorded, up to which length (set only while a
// require() is on the stack, and cleared when it returns).
state.loadCalls ??= 0
state.requireDepth ??= 0
state.notedChildren ??= null
state.notedLength ??= 0
state.loaderEpoch ??= 0
state.loadGapListeners ??= new Set()
// The require.cache key of the module whose load started last: Node inserts each new module's
// key just before its load, so the keys after it in require.cache order were inserted later (a
// snapshot's fallback when the load wrapper was replaced and loads went unseen).
state.lastLoadedKey ??= undefined
// The last few such keys, newest last: a snapshot marks all of them, so that one deleted by hand
// while a loader gap lasts still leaves a mark to count from.
state.recentKeys ??= []
// filename -> the Module._pathCache keys that resolved to it (a string, or an array when there
// are several), for the _pathCache object `indexedPathCache`. Entries can be stale (deleted or
// overwritten by other code): every use checks the current value.
state.pathIndex ??= new Map()
state.indexedPathCache ??= null
// (`state.mainModule`, the module Node loaded as main, is set by the load wrapper when it sees
// it: see mainModule below.)

/**
 * Whether `value` is a module-shaped object this package walks: a Module, or an object with an
 * own `children` array (a mock). Proxies never are: looking at one would run its traps.
 */
function isModuleLike(value) {
  if (value === null || typeof value !== 'object' || isProxy(value)) return false
  if (value instanceof Module) return true
  const d = Object.getOwnPropertyDescriptor(value, 'children')
  return d !== undefined && Array.isArray(d.value)
}

/** `value[key]` when it is an own data property, else undefined: never runs a getter. */
function ownValue(value, key) {
  const d = Object.getOwnPropertyDescriptor(value, key)
  return d === undefined ? undefined : d.value
}

/** Whether `m`'s code is running now (a Module.prototype.load in progress). */
function isLoading(m) {
  return state.loading.has(m) || (state.loadingAtInstall.has(m) && ownValue(m, 'loaded') === false)
}

/**
 * The program's main module. `require.main` is fixed when a require function is made, so a copy
 * of this package loaded by a preload (`node -r uncache-tree/register`, `uncache-tree dev`) sees
 * undefined there: the load wrapper records the module Node loads as main ('.') instead.
 */
function mainModule() {
  return require.main ?? state.mainModule
}

module.exports = {
  state,
  // The live graph index the loader wrappers record into: the one attached when this copy loaded.
  index,
  isModuleLike,
  ownValue,
  isLoading,
  mainModule,
}
