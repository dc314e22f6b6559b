'use strict'
// What `uncache-tree dev` watches, as one ignore(file, root) test shared by the supervisor and the
// child's runtime: node_modules (below a --watch root, so naming a folder inside node_modules
// watches it), the --ignore globs, and, for files found inside a --watch directory, the --ext
// list. A file named on its own with --watch (`.env`) is watched whatever its extension.
const fs = require('node:fs')
const path = require('node:path')
const { globMatcher } = require('./glob.js')

const DEFAULT_EXTENSIONS = ['.js', '.cjs', '.mjs', '.json', '.ts', '.cts', '.mts', '.jsx', '.tsx']

/** `js,.json, ts` → ['.js', '.json', '.ts']. */
function parseExtensions(text) {
  return text
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '')
    .map((e) => (e.startsWith('.') ? e : `.${e}`))
}

function isDirectory(file) {
  try {
    return fs.statSync(file).isDirectory()
  } catch {
    return false
  }
}

/**
 * @param {{ cwd: string, ignore: string[], ext: string[] }} config
 * @param {RegExp} nodeModules
 * @returns {(file: string, root?: string) => boolean}
 */
function makeIgnore(config, nodeModules) {
  const globs = config.ignore.map((glob) => globMatcher(glob, config.cwd))
  const extensions = new Set(config.ext)
  return (file, root) => {
    const below = root === undefined ? file : path.sep + path.relative(root, file)
    if (nodeModules.test(below)) return true
    if (globs.some((match) => match(file))) return true
    if (root === undefined || file === root || file.endsWith(path.sep)) return false
    const ext = path.extname(file)
    return !extensions.has(ext) && !isDirectory(file)
  }
}

module.exports = { makeIgnore, parseExtensions, DEFAULT_EXTENSIONS }
