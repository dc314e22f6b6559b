'use strict'
// Turns what the user passed (paths, file: URLs, specifiers, Module objects, arrays of them)
// into require.cache keys, exactly as require() would resolve them from the calling file.
// Everything is validated here, before any module is touched: one bad element of an array
// throws and nothing is unloaded.
const fs = require('node:fs')
const Module = require('node:module')
const path = require('node:path')
const { fileURLToPath, URL } = require('node:url')
const { isProxy } = require('node:util').types
const { invalidArgType, invalidArgValue, explain } = require('./errors.js')
const { state, isModuleLike, isLoading, ownValue, mainModule } = require('./graph/state.js')
const { knownOutsideCache } = require('./graph/graph-index.js')

const PACKAGE_ROOT = path.join(__dirname, '..')
const OWN_FILES = new Set(
  ['index.js', 'index.mjs', 'register.js', 'register.mjs', 'node-test.js', 'mocha.js', 'vitest.mjs'].map((f) => path.join(PACKAGE_ROOT, f)),
)
const LIB_DIR = __dirname + path.sep

function isOwnFile(file) {
  return file.startsWith(LIB_DIR) || OWN_FILES.has(file)
}

/**
 * The file of the first stack frame outside this package: relative specifiers resolve from
 * there, as if that file had called require(). Falls back to the working directory (REPL, -e).
 */
function callerFile() {
  const savedPrepare = Error.prepareStackTrace
  const savedLimit = Error.stackTraceLimit
  let frames
  try {
    Error.prepareStackTrace = (_, callSites) => callSites
    Error.stackTraceLimit = 50
    const holder = {}
    Error.captureStackTrace(holder, callerFile)
    frames = holder.stack
  } finally {
    Error.prepareStackTrace = savedPrepare
    Error.stackTraceLimit = savedLimit
  }
  for (const frame of Array.isArray(frames) ? frames : []) {
    let file = frame.getFileName()
    if (!file) continue
    if (file.startsWith('file:')) file = fileURLToPath(file)
    if (!path.isAbsolute(file) || isOwnFile(file)) continue
    return file
  }
  return path.join(process.cwd(), '[caller]')
}

/**
 * A URL scheme at the start of `value` (`http`, `file`, `data`...), or undefined. Two letters at
 * least, so a Windows drive (`C:\\app.js`) is a path, not a scheme.
 */
function urlScheme(value) {
  const match = /^([a-zA-Z][a-zA-Z\d+.-]+):/.exec(value)
  return match === null ? undefined : match[1].toLowerCase()
}

/**
 * The file path a URL names, for every place that takes one (targets, `options.from`, watch()'s
 * `entry` and `paths`): `value` is a URL object or a string with a URL scheme. Anything but a
 * `file:` URL of this host (`http://…`, `data:…`, `file://otherhost/…` on POSIX, a malformed one)
 * is a RangeError with code ERR_INVALID_ARG_VALUE, the same for a URL object and a string:
 * fileURLToPath would throw TypeErrors of several codes, depending on the shape.
 * @param {URL | string} value
 * @param {string} name the argument, for the message (`target`, `options.from`...)
 * @returns {string} an absolute path
 */
function filePathOfUrl(value, name) {
  const href = value instanceof URL ? value.href : String(value)
  let url = value
  if (!(value instanceof URL)) {
    try {
      url = new URL(href)
    } catch (cause) {
      throw withCause(invalidArgValue(name, href, 'is not a valid URL: pass a file: URL (file:///path/to/file.js) or a path'), cause)
    }
  }
  if (url.protocol !== 'file:') {
    throw invalidArgValue(
      name,
      href,
      `must be a file: URL of this host (file:///path/to/file.js) or a path: '${url.protocol}' URLs cannot be required`,
    )
  }
  try {
    return fileURLToPath(url)
  } catch (cause) {
    const reason =
      cause?.code === 'ERR_INVALID_FILE_URL_HOST'
        ? `names a file on another host ('${url.hostname}'): only file:///… (or file://localhost/…) names a file of this machine`
        : `is not a file: URL of this host (${cause?.message ?? cause})`
    throw withCause(invalidArgValue(name, href, reason), cause)
  }
}

function withCause(error, cause) {
  Object.defineProperty(error, 'cause', { value: cause, writable: true, configurable: true })
  return error
}

/** Whether `value` is a URL: a URL object, or a string that starts with a scheme other than `node:` (a built-in). */
function isUrlLike(value) {
  if (value instanceof URL) return true
  if (typeof value !== 'string') return false
  const scheme = urlScheme(value)
  return scheme !== undefined && scheme !== 'node'
}

/** `options.from` as an absolute file path, validated like createRequire validates it. */
function parseFrom(from) {
  if (from === undefined) return undefined
  if (from instanceof URL) return filePathOfUrl(from, 'options.from')
  if (typeof from !== 'string') throw invalidArgType('options.from', 'a file path or a file: URL', from)
  if (isUrlLike(from)) return filePathOfUrl(from, 'options.from')
  if (!path.isAbsolute(from)) {
    throw invalidArgValue('options.from', from, 'must be an absolute file path or a file: URL')
  }
  return from
}

/** A cache key for `file` as require() would name it, trying extensions and index files. */
function cachedKeyFor(cache, file) {
  if (cache[file] !== undefined) return file
  const extensions = Object.keys(Module._extensions)
  for (const ext of extensions) if (cache[file + ext] !== undefined) return file + ext
  for (const ext of extensions) {
    const index = path.join(file, `index${ext}`)
    if (cache[index] !== undefined) return index
  }
  return undefined
}

function isPathLike(specifier) {
  return specifier === '.' || specifier === '..' || /^\.\.?[\\/]/.test(specifier)
}

/**
 * The key for one string target, or undefined when it resolves to a module not loaded.
 * `fromFile` is the file to resolve from, or a function that returns it (asked only when the
 * target is not a cached absolute path).
 */
function keyForSpecifier(cache, specifier, fromFileOrGetter, name = 'target') {
  // Every URL but a file: URL of this host is refused here, before require() could be asked to
  // resolve it (it would report a missing module); `node:` specifiers are built-ins.
  const file = isUrlLike(specifier) ? filePathOfUrl(specifier, name) : specifier
  if (path.isAbsolute(file)) {
    if (cache[file] !== undefined) return file
  } else if (Module.isBuiltin(file)) {
    throw explain.builtin(specifier)
  }
  const fromFile = typeof fromFileOrGetter === 'function' ? fromFileOrGetter() : fromFileOrGetter
  let resolved
  try {
    resolved = Module.createRequire(fromFile).resolve(file)
  } catch (cause) {
    // A file deleted from disk must stay unloadable: look it up in the cache as require would.
    const pathLike = path.isAbsolute(file) || isPathLike(file)
    const candidate = pathLike ? path.resolve(path.dirname(fromFile), file) : undefined
    const key = candidate === undefined ? undefined : cachedKeyFor(cache, candidate)
    if (key !== undefined) return key
    // Not "not found" (e.g. Node could not record the resolution in a frozen Module._pathCache):
    // an existing file that is not cached is simply not loaded.
    if (cause?.code !== 'MODULE_NOT_FOUND' && candidate !== undefined && fs.existsSync(candidate)) return undefined
    throw explain.unresolved(specifier, fromFile, cause)
  }
  if (Module.isBuiltin(resolved)) throw explain.builtin(specifier)
  if (resolved.endsWith('.node')) throw explain.nativeAddon(resolved)
  return cache[resolved] !== undefined ? resolved : undefined
}

function keyOfValue(cache, value) {
  for (const key in cache) if (cache[key] === value) return key
  return undefined
}

function keyForModule(cache, m) {
  const filename = ownValue(m, 'filename')
  const id = ownValue(m, 'id')
  if (typeof filename === 'string' && cache[filename] === m) return filename
  if (typeof id === 'string' && cache[id] === m) return id
  // A module compiled outside the cache (require-from-string): known as such, no key to look for.
  if (knownOutsideCache(state.graphIndex, cache, m, state.loaderEpoch)) return undefined
  return keyOfValue(cache, m)
}

/**
 * Resolves `target` (one target or an array) to distinct require.cache keys, throwing the
 * documented error for the first bad element. Targets that are not loaded are left out.
 * @param {object} cache require.cache
 * @param {unknown} target
 * @param {string | (() => string)} fromFile absolute path that relative and bare specifiers
 *   resolve from, or a function that returns it (called once, and only when one is needed: the
 *   caller's file costs a stack trace)
 * @param {{ allowMain?: boolean, name?: string }} [rules] `allowMain`: invalidate() reports the main
 *   module instead of throwing; `name`: the argument in messages (default 'target')
 * @returns {string[]}
 */
function resolveTargets(cache, target, fromFile, rules = {}) {
  if (typeof fromFile === 'function') {
    const get = fromFile
    let file
    fromFile = () => (file ??= get())
  }
  const list = Array.isArray(target) ? target : [target]
  const name = rules.name ?? 'target'
  const keys = new Set()
  for (const item of list) {
    let key
    if (typeof item === 'string') {
      if (item === '') throw invalidArgValue(name, item, 'must not be empty')
      key = keyForSpecifier(cache, item, fromFile, name)
    } else if (isProxy(item)) {
      // A Proxy is never looked into (its traps are user code, `instanceof` included): found by
      // identity among the cache values, as a non-Module entry.
      key = keyOfValue(cache, item)
    } else if (item instanceof URL) {
      key = keyForSpecifier(cache, filePathOfUrl(item, name), fromFile, name)
    } else if (isModuleLike(item)) {
      key = keyForModule(cache, item)
      const filename = ownValue(item, 'filename')
      if (key === undefined && typeof filename === 'string' && filename.endsWith('.node')) {
        throw explain.nativeAddon(filename)
      }
    } else {
      const expected = 'a path, a file: URL, a specifier, a Module object, or an array of these'
      throw invalidArgType(name, expected, item)
    }
    if (key === undefined) continue
    const value = cache[key]
    if (key.endsWith('.node') || (isModuleLike(value) && String(ownValue(value, 'filename')).endsWith('.node'))) {
      throw explain.nativeAddon(key)
    }
    const main = mainModule()
    if (value === main && !rules.allowMain) throw explain.main(key)
    if (isModuleLike(value) && value !== main && isLoading(value)) throw explain.loading(key)
    keys.add(key)
  }
  return [...keys]
}

module.exports = { callerFile, parseFrom, resolveTargets, isOwnFile, filePathOfUrl, isUrlLike }
