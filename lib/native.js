'use strict'
// Loads the native core: the binary built next to package.json (a clone, `npm run build`), else
// the per-platform package (`uncache-tree-linux-x64-gnu`, ...) that npm installed as an optional
// dependency. UNCACHE_TREE_NATIVE_PATH points at a binary explicitly (tests of other builds).
const path = require('node:path')
const { platformTriple, binaryName } = require('./platform.js')

function load() {
  const tried = []
  const candidates = process.env.UNCACHE_TREE_NATIVE_PATH
    ? [process.env.UNCACHE_TREE_NATIVE_PATH]
    : [path.join(__dirname, '..', binaryName()), `uncache-tree-${platformTriple()}`]
  for (const candidate of candidates) {
    try {
      return require(candidate)
    } catch (error) {
      tried.push(`${candidate}: ${error.message.split('\n')[0]}`)
    }
  }
  const error = new Error(
    `uncache-tree: no native binary for ${platformTriple()}. Tried:\n  ${tried.join('\n  ')}\n` +
      'Reinstall with optional dependencies enabled, or build it from a clone with `npm run build` (needs Rust).',
  )
  error.code = 'ERR_UNCACHE_NATIVE_BINARY'
  throw error
}

module.exports = load()
