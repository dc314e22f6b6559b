'use strict'
// Requirers outside require.cache: createRequire proxies, the `internal/preload` parent of
// --require modules, the REPL, vm loaders. They hold modules through their `children`, yet no walk
// of require.cache finds them, so the `Module._load` wrapper (lib/loader/patches.js) records each
// one here, held weakly (docs/node-internals.md §1a row 7, §5 step 0: without it 600 of 800
// generations survived). An unload cuts their `children` like any holder's.
//
// Stand-in parents are outside requirers too. On Node >= 22 a new Module records its first
// requirer in a private slot (`kLastModuleParent`) that nothing can clear: when code of an
// unloaded module, or of one being unloaded (a dispose handler's lazy require), requires
// something, the new module would pin the old one, and every generation the one before
// (docs/node-internals.md, Addendum). The `_load` wrapper hands such requires a stand-in instead.
const Module = require('node:module')
const { state } = require('./state.js')

/** Records `parent` as a requirer outside the cache (once: deduplicated by identity). */
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
  recordRequirer,
  standInFor,
  outsideRequirers,
  isStandIn: (m) => state.standInSet.has(m),
}
