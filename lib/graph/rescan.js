'use strict'
// rescan(): reads the whole live graph into the index (graph-index.js), for the public rescan()
// (references made by hand) and for the plans that find the index unread or changed. Its own file
// so that the graph builders and the public API share it without the cuts or the flatten.
const { outsideRequirers } = require('./outside-requirers.js')
const { reindexPaths } = require('./path-cache.js')
const { state } = require('./state.js')
const graphIndex = require('./graph-index.js')
const keyOrder = require('./key-order.js')
const { readRefs } = require('./module-fields.js')

/**
 * Reads the whole live graph into the index (graph-index.js): every cached module and every
 * requirer outside the cache. Returns its size when `paths` (the public rescan()).
 */
function rescan(cache, { paths = false } = {}) {
  // The _pathCache index only for the public rescan(): the loader patches notice the gaps of their
  // _findPath wrapper itself, and only entries made by hand need a read.
  if (paths) reindexPaths()
  const live = state.graphIndex
  graphIndex.rebuild(live, cache, outsideRequirers(), readRefs, state.loaderEpoch)
  // The public rescan(): keys moved or made by hand get their place in the key order (a reload's
  // rollback uses it; see key-order.js). The index's own reads do not pay for it.
  if (paths) keyOrder.rankAll(cache)
  // Its size only for the public rescan(): counting it walks the whole native graph once more.
  return paths ? graphIndex.stats(live) : undefined
}

// At most this many cached modules when the package loads: then the graph is read right away and
// every later load is recorded, so the first unload plans at once instead of reading the whole
// graph (at 30k modules that read took 115-160 ms, ISSUES #16). A package loaded late, into a large
// cache, leaves the read to the first plan, as before: loading the package stays cheap.
const EAGER_READ_LIMIT = 2000

/**
 * Starts the live graph index (and the Module._pathCache index) when the package loads, if the
 * cache is still small. From then on the loader wrappers record every load.
 */
function startRecording(cache) {
  if (state.graphIndex.readAtEpoch === state.loaderEpoch) return // another copy started it
  if (cache === null || typeof cache !== 'object' || Object.keys(cache).length > EAGER_READ_LIMIT) return
  reindexPaths()
  rescan(cache)
}

module.exports = { rescan, startRecording, EAGER_READ_LIMIT }
