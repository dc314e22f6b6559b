'use strict'
// uncache-tree: unload CommonJS module trees from a running Node.js process without leaking
// memory. The public API; each function lives in its own file under lib/. See index.d.ts for
// the documentation and ARCHITECTURE.md for how it fits together.
const registry = require('./lib/registry.js')

// Requirers outside require.cache can only be seen from the moment this runs (README: use
// `node --require uncache-tree/register` when they are created before the package is loaded).
registry.install()

const { UncacheError } = require('./lib/errors.js')
const { uncacheTree, rescan } = require('./lib/unload.js')
const { verifyCollected } = require('./lib/verify.js')
const { hot } = require('./lib/hot.js')
const { invalidate } = require('./lib/invalidate.js')
const { reload } = require('./lib/reload.js')
const { watch } = require('./lib/watch.js')
const { snapshot, isolate } = require('./lib/snapshot.js')
const { explainRetainers } = require('./lib/retainers.js')

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
