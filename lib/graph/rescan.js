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

module.exports = { rescan }
