'use strict'
// The package's hooks: `on(event, fn) -> off`, by which the other parts of the package (and every
// other copy of it in the process) hear of requires, loads, loader gaps, resolutions, rollbacks
// and the dispose phase of every unload. Their functions are kept in the shared state
// (state.js), so a hook added by one copy is called by the wrappers another copy installed; adding
// one installs the loader patches first (lib/loader/patches.js), which call them.
const { state } = require('./state.js')
const { install } = require('../loader/patches.js')

/**
 * Every hook of the package, in one place: the event, the state collection that holds its
 * functions (shared by every copy of the package in the process), and when they are called.
 * - `beforeCut(modules, report)`: the dispose phase of every unload, removed modules importers
 *   first, before any cut (hot(module).dispose handlers, snapshot bookkeeping).
 * - `require(parent, request)`: every require() through Module._load, before it runs (snapshot
 *   recording, watch's file list, the dispose phase's late requirers).
 * - `load(module, filename)`: a Module's code is about to load (`Module.prototype.load`, which
 *   runs once per Module that require() creates and for CommonJS files that `import` brings in):
 *   every new cache entry, with its key, as it is made.
 * - `loadGap(gap)`: after every install(): with no argument when the load wrapper had been
 *   replaced (loads went unseen: recorders catch up now, while their marks hold), with `false`
 *   otherwise (a mark that was unloaded may be renewed).
 * - `resolve(key, filename)`: Module._findPath made a new Module._pathCache entry (a reload's
 *   capture: a rollback drops the entries its attempt made).
 * - `rollback(reinstated, dropped)`: a failed reload put the modules it had removed back into
 *   require.cache (`reinstated`: key -> module, after their beforeCut), and took out again the
 *   ones its attempt loaded (`dropped`, unloaded or only deleted from the cache).
 */
const HOOKS = {
  beforeCut: 'beforeCut',
  require: 'requireObservers',
  load: 'loadObservers',
  loadGap: 'loadGapListeners',
  rollback: 'rollbackObservers',
  resolve: 'resolveObservers',
}

/** Calls `fn` on `event` (see HOOKS) until the returned function is called. */
function on(event, fn) {
  const field = HOOKS[event]
  if (field === undefined) throw new TypeError(`uncache-tree internal: unknown hook '${event}'`)
  install()
  const hooks = state[field]
  // beforeCut hooks are in an array (a Set when a copy of 8b81ed5..b4c61c2 made the state).
  if (Array.isArray(hooks)) hooks.push(fn)
  else hooks.add(fn)
  return () => {
    if (Array.isArray(hooks)) {
      const k = hooks.indexOf(fn)
      if (k >= 0) hooks.splice(k, 1)
    } else {
      hooks.delete(fn)
    }
  }
}

/** Whether a function is registered for `event`. */
function hasHooks(event) {
  const hooks = state[HOOKS[event]]
  return (Array.isArray(hooks) ? hooks.length : hooks.size) > 0
}

module.exports = { on, hasHooks }
