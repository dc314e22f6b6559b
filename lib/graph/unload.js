'use strict'
// uncacheTree(): the public entry of the engine.
const Module = require('node:module')
const { explain } = require('../errors.js')
const { parseUnloadOptions } = require('../options.js')
const { callerFile, resolveTargets } = require('../targets.js')
const { unloadTrees } = require('./engine.js')
const graphRead = require('./rescan.js')
const { isDisposing } = require('./dispose.js')
const { install } = require('../loader/patches.js')

const PROBE_KEY = '\0uncache-tree:probe'

/**
 * This module's require.cache, after checking that deleting from it works. Jest hands modules
 * a require.cache whose deletions do nothing (its own registry decides what is loaded); every
 * unload there would "succeed" and change nothing, so we refuse instead. `api` names the
 * public function that asks, for the advice in the error.
 *
 * When a loader hook hands Node the source of a CommonJS file (a `module.register` load hook,
 * Yarn PnP's ESM loader), Node compiles this file with the ESM loader's own `require`, which has
 * no `cache` property: the process's CommonJS cache is then Module._cache, the object
 * `require.cache` is everywhere else.
 */
function liveCache(api) {
  // Other code may have replaced or restored a loader wrapper since the last call: put it back
  // before anything relies on what it records (registry.install).
  install()
  const cache = require.cache ?? Module._cache
  const probe = {}
  let works = false
  try {
    cache[PROBE_KEY] = probe
    const stored = cache[PROBE_KEY] === probe
    delete cache[PROBE_KEY]
    works = stored && !(PROBE_KEY in cache)
  } catch {
    works = false
  }
  if (!works) throw explain.unsupportedRuntime(api, underJest())
  return cache
}

/** Whether this is a Jest worker (its environment variable, and Jest's own module registry). */
function underJest() {
  return process.env.JEST_WORKER_ID !== undefined && require.cache !== Module._cache
}

/**
 * Refuses an unloading call made while dispose handlers run (ERR_UNCACHE_REENTRANT): the running
 * unload planned on the graph as it was and is about to cut it; a nested one would cut it under
 * the outer's feet (the outer would then delete fresh modules or report gone ones).
 */
function assertNotReentrant(api) {
  if (isDisposing()) throw explain.reentrant(api)
}

/**
 * See index.d.ts. `rootKeysOf` lets other public functions reuse the whole path with their
 * own way of choosing roots.
 */
function uncacheTree(target, options) {
  assertNotReentrant('uncacheTree')
  const opts = parseUnloadOptions(options)
  const cache = liveCache()
  const keys = resolveTargets(cache, target, () => opts.from ?? callerFile())
  return unloadTrees(cache, keys, opts)
}

/**
 * See index.d.ts. Reads every cached module's `children` and `parent` into the live graph index
 * that finds the holders of a tree (graph-index.js).
 */
function rescan() {
  const cache = liveCache('rescan')
  const { modules, edges } = graphRead.rescan(cache, { paths: true })
  return { modules, edges }
}

module.exports = { uncacheTree, rescan, liveCache, assertNotReentrant }
