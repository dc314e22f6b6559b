'use strict'
// What the package's files imported from here before the split by concern: each now comes from
// the file that owns it (state.js, outside-requirers.js, dispose.js, path-cache.js, hooks.js,
// lib/loader/patches.js). Kept until every importer requires those files.
const { state, isModuleLike, ownValue, isLoading, mainModule } = require('./state.js')
const { outsideRequirers, isStandIn } = require('./outside-requirers.js')
const { isUnloaded, isDisposing, duringDispose, markAbandoned } = require('./dispose.js')
const { indexPath, pathCacheKeysOf, forgetPaths, reindexPaths } = require('./path-cache.js')
const { install, uninstall, noteInserted, renewMarks } = require('../loader/patches.js')
const { on, hasHooks } = require('./hooks.js')

module.exports = {
  mainModule,
  state,
  install,
  isModuleLike,
  ownValue,
  isLoading,
  outsideRequirers,
  isStandIn,
  on,
  hasHooks,
  uninstall,
  isUnloaded,
  isDisposing,
  duringDispose,
  pathCacheKeysOf,
  forgetPaths,
  reindexPaths,
  noteInserted,
  renewMarks,
  rememberPath: indexPath,
  markAbandoned,
}
