'use strict'
// The dispose phase of an unload, and what counts as unloaded. While the `beforeCut` hooks run
// (hot(module).dispose handlers), the modules being unloaded are "dying": a require() one of them
// makes gets a stand-in parent (outside-requirers.js), and an unloading call made then is
// refused as re-entrant. After the unload, a module is unloaded when require.cache no longer
// holds it, or when it was abandoned (its load threw, or it was unloaded while still loading).
const Module = require('node:module')
const { state, ownValue } = require('./state.js')

/**
 * Whether `m` was unloaded (by this package or by other code) or is being unloaded: it finished
 * loading, yet require.cache no longer has it under its filename. Asked of the parent on every
 * require(), so it is a structural test instead of a WeakSet add per unloaded module (which was
 * 1/6 of a whole-graph unload at 30k modules).
 */
function isUnloaded(m) {
  return (
    (ownValue(m, 'loaded') === true && Module._cache[ownValue(m, 'filename')] !== m) ||
    state.abandoned.has(m) ||
    (state.dying !== null && state.dying.has(m))
  )
}

/** Whether dispose handlers are running now (an unloading call made now is re-entrant). */
function isDisposing() {
  return state.disposeDepth > 0
}

/**
 * The modules of the dispose phases running now (`state.dying`), as a Set made on the first
 * question: only a require() made by a handler asks, and a whole-graph unload would otherwise
 * add every module to a Set for nothing.
 */
class DyingModules {
  constructor(modules, previous) {
    this.modules = modules
    this.previous = previous
    this.set = undefined
  }

  has(m) {
    this.set ??= new Set(this.modules)
    return this.set.has(m) || (this.previous !== null && this.previous.has(m))
  }
}

/**
 * Runs `fn(modules, ...args)` as the dispose phase of an unload of `modules`: requires made
 * meanwhile by these modules get stand-in parents, and unloading calls are refused as
 * re-entrant.
 */
function duringDispose(modules, fn, ...args) {
  const previous = state.dying
  state.dying = new DyingModules(modules, previous)
  state.disposeDepth++
  try {
    return fn(modules, ...args)
  } finally {
    state.disposeDepth--
    state.dying = previous
  }
}

module.exports = {
  isUnloaded,
  isDisposing,
  duringDispose,
  markAbandoned: (m) => state.abandoned.add(m),
}
