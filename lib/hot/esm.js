'use strict'
// Which files Node runs as ES modules. Node evaluates an ES module once per process: its loader
// keeps the instance (loadCache), and require(esm) of the same file after `delete require.cache`
// hands back a new wrapper around the same, old namespace. So reload, invalidate and watch refuse
// ES modules (ERR_UNCACHE_ESM) instead of returning the old code as if it were new, and the dev
// runner restarts the process for them.
//
// A cached entry tells by Node's own marks: require(esm) wrappers carry the regular symbol
// `kRequiredModuleSymbol`, and on Node >= 22 `kFormat` says 'module'. A file that is not cached
// (imported with `import`, which puts nothing in require.cache) tells by its name and its
// package's "type", as Node decides its format.
const fs = require('node:fs')
const Module = require('node:module')
const path = require('node:path')
const { URL, fileURLToPath } = require('node:url')
const { isProxy } = require('node:util').types
const { isModuleLike, ownValue } = require('../graph/state.js')
const { explain } = require('../errors.js')

/** Whether a require.cache entry is an ES module Node loaded (require(esm) or the ESM loader). */
function isEsmEntry(m) {
  if (isProxy(m) || !(m instanceof Module)) return false // a Proxy's traps are user code
  for (const symbol of Object.getOwnPropertySymbols(m)) {
    const d = symbol.description
    if (d === 'kRequiredModuleSymbol') return true
    if (d === 'kFormat') {
      const format = Object.getOwnPropertyDescriptor(m, symbol)?.value
      if (format === 'module' || format === 'module-typescript') return true
    }
  }
  return false
}

/** The "type" of the package.json nearest to `file` ('commonjs' when there is none). */
function packageType(file) {
  for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
    let text
    try {
      text = fs.readFileSync(path.join(dir, 'package.json'), 'utf8')
    } catch {
      if (dir === path.dirname(dir)) return 'commonjs'
      continue
    }
    try {
      return JSON.parse(text).type === 'module' ? 'module' : 'commonjs'
    } catch {
      return 'commonjs' // Node itself would refuse to load it; not ours to report
    }
  }
}

/**
 * Whether Node runs `file` as an ES module when it is not in require.cache: `.mjs`/`.mts`, or
 * `.js`/`.ts` in a package with "type": "module". A cached CommonJS instance of the file (a loader
 * such as tsx/cjs compiled it) wins: see isEsmFile.
 */
function isEsmByFormat(file) {
  if (/\.m[jt]s$/.test(file)) return true
  if (!/\.[jt]sx?$/.test(file)) return false
  return packageType(file) === 'module'
}

/** Whether `file` is, or would be, an ES module in this process. */
function isEsmFile(cache, file) {
  const entry = cache[file]
  if (isModuleLike(entry)) return isEsmEntry(entry)
  return isEsmByFormat(file)
}

/**
 * Throws ERR_UNCACHE_ESM for the first target that is an ES module. `keys` are the cached targets
 * resolveTargets found; `target` is what the user passed, looked at again for the files that are
 * not cached (an `.mjs` that was imported).
 */
function assertNoEsm(cache, target, keys, fromFile, api) {
  for (const key of keys) if (isEsmEntry(cache[key])) throw explain.esm(key, api)
  const list = Array.isArray(target) ? target : [target]
  for (const item of list) {
    const file = uncachedFileOf(cache, item, fromFile)
    if (file !== undefined && isEsmByFormat(file)) throw explain.esm(file, api)
  }
}

/** The file an already validated target names when it is not cached, or undefined. */
function uncachedFileOf(cache, item, fromFile) {
  let specifier
  if (item instanceof URL) specifier = fileURLToPath(item)
  else if (typeof item === 'string') specifier = item.startsWith('file:') ? fileURLToPath(item) : item
  else if (isModuleLike(item)) {
    const filename = ownValue(item, 'filename')
    return typeof filename === 'string' && cache[filename] === undefined ? filename : undefined
  } else return undefined
  if (path.isAbsolute(specifier) && cache[specifier] !== undefined) return undefined
  try {
    const from = typeof fromFile === 'function' ? fromFile() : fromFile
    const file = Module.createRequire(from).resolve(specifier)
    return cache[file] === undefined ? file : undefined
  } catch {
    return undefined
  }
}

module.exports = { isEsmEntry, isEsmByFormat, isEsmFile, assertNoEsm }
