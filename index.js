'use strict'
// uncache-tree: unload CommonJS module trees from a running Node.js process without leaking
// memory. The public API; each function lives in its own file under lib/. See index.d.ts for
// the documentation and ARCHITECTURE.md for how it fits together.
const { install } = require('./lib/loader/patches.js')

// Requirers outside require.cache can only be seen from the moment this runs (README: use
// `node --require uncache-tree/register` when they are created before the package is loaded).
install()
// The live module graph records from now on, when the cache is still small (lib/graph/rescan.js).
require('./lib/graph/rescan.js').startRecording(require.cache)

const { UncacheError } = require('./lib/errors.js')
const { uncacheTree, rescan } = require('./lib/graph/unload.js')
const { verifyCollected } = require('./lib/proof/verify.js')
const { hot } = require('./lib/hot/hot.js')
const { invalidate } = require('./lib/hot/invalidate.js')
const { reload } = require('./lib/hot/reload.js')
const { watch } = require('./lib/hot/watch.js')
const { snapshot, isolate } = require('./lib/isolation/snapshot.js')
const { explainRetainers } = require('./lib/proof/retainers.js')

module.exports = {
  uncacheTree,
  invalidate,
  reload,
  hot,
  watch,
  verifyCollected,
  explainRetainers,
  snapshot,
  isolate,
  rescan,
  UncacheError,
}
