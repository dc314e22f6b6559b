'use strict'
// Loads the native core, in this order:
//   1. UNCACHE_TREE_NATIVE_PATH, when set (a binary of another build; nothing else is tried);
//   2. `uncache-tree.<platform>.node` next to package.json: a clone (`npm run build`), or a
//      build from source on a platform without a prebuilt package;
//   3. the prebuilt package `uncache-tree-<platform>` that npm installs from optionalDependencies.
// A binary is used only when its coreVersion() equals package.json's version. When none is
// usable, require('uncache-tree') throws one ERR_UNCACHE_NATIVE_BINARY that lists what was
// looked at and why each was refused, and says what to run, in the words of the package manager
// that installed it (lib/install-advice.js).
//
// UNCACHE_TREE_COUNT_NATIVE_CALLS=1 at load (tests and benchmarks only): the exports are wrapped
// so that every call into the native core is counted by name, read with callCounts() and reset
// with resetCallCounts(). The issue's "native calls per verb" is counted this way
// (__test__/native-calls.test.cjs, benchmark/verbs.js). Wrapping happens here, before anything
// is exported, because other files destructure the exports when they load. Unset, the binding
// is exported as it is: nothing wrapped, nothing added.
const fs = require('node:fs')
const path = require('node:path')
const { explain } = require('./errors.js')
const { TARGETS, platformTriple, binaryName, packageName, hasPrebuilt, glibcVersion } = require('./platform.js')
const { installedBy, missingPackageFix, wrongVersionFix, noPrebuiltFix } = require('./install-advice.js')
const { version } = require('../package.json')

const root = path.join(__dirname, '..')

const firstLine = (error) => String(error?.message ?? error).split('\n')[0]

/** The binding at `specifier`, or null with the reason pushed onto `tried`. */
function attempt(label, specifier, tried) {
  let binding
  try {
    binding = require(specifier)
  } catch (error) {
    const missing = error?.code === 'MODULE_NOT_FOUND' && firstLine(error).includes(`'${specifier}'`)
    const absent = path.isAbsolute(specifier) ? 'not found' : 'not installed'
    tried.push(`${label}: ${missing ? absent : `cannot be loaded (${firstLine(error)})`}`)
    return null
  }
  const built = typeof binding.coreVersion === 'function' ? binding.coreVersion() : 'unknown'
  if (built !== version) {
    tried.push(`${label}: is version ${built}, but this uncache-tree is ${version}`)
    return null
  }
  // A binary of the same version built before the JS it sits beside (a package manager's cache
  // of an unreleased version, a stale build in a clone): refused by name, not a TypeError later.
  const missing = MODULE_GRAPH_METHODS.find((name) => typeof binding.ModuleGraph?.prototype?.[name] !== 'function')
  if (missing !== undefined) {
    tried.push(`${label}: is version ${built}, but from an older build of it (no ModuleGraph.${missing})`)
    return null
  }
  return binding
}

/** What this JS calls on the native module graph: a binary without one of these is stale. */
const MODULE_GRAPH_METHODS = ['planTree', 'importers', 'applyEdits', 'forget']

function fixFor(platform, pkg, tried) {
  const clone = fs.existsSync(path.join(root, '.git'))
  if (process.env.UNCACHE_TREE_NATIVE_PATH) {
    return 'Fix: point UNCACHE_TREE_NATIVE_PATH at a binary built from this version, or unset it.'
  }
  if (clone) {
    return (
      'Fix: this is a clone of the repository, which builds the binary from source: install Rust ' +
      '(https://rustup.rs), then run `npm run build`.'
    )
  }
  if (!hasPrebuilt(platform)) return noPrebuiltFix(platform)
  const manager = installedBy(root)
  const wrongVersion = tried.some((line) => line.startsWith(pkg) && line.includes('is version'))
  if (wrongVersion) return wrongVersionFix(manager, pkg)
  return missingPackageFix(manager, pkg, Object.values(TARGETS).find((t) => t.platform === platform))
}

function load() {
  const platform = platformTriple()
  const pkg = packageName(platform)
  const tried = []
  const explicit = process.env.UNCACHE_TREE_NATIVE_PATH
  if (explicit) {
    const binding = attempt(`UNCACHE_TREE_NATIVE_PATH=${explicit}`, path.resolve(explicit), tried)
    if (binding) return binding
  } else {
    const local = path.join(root, binaryName(platform))
    if (fs.existsSync(local)) {
      const binding = attempt(local, local, tried)
      if (binding) return binding
    } else {
      tried.push(`${local}: not built`)
    }
    if (hasPrebuilt(platform)) {
      const binding = attempt(pkg, pkg, tried)
      if (binding) return binding
    } else {
      tried.push(`${pkg}: no such package (no prebuilt binary is published for ${platform})`)
    }
  }
  if (tried.some((line) => line.includes('GLIBC_'))) {
    tried.push(`(this system has glibc ${glibcVersion()}; the prebuilt linux-*-gnu binaries need glibc 2.17 or later)`)
  }
  throw explain.nativeBinary(platform, pkg, tried, fixFor(platform, pkg, tried))
}

/**
 * The binding's exports with every function, and every method of every class, counting its
 * calls in `counts` under its name (`planUnload`, `ModuleGraph.referrersInto`; a constructor
 * call counts under the class name). A class is wrapped by a subclass, so its instances stay
 * native objects (methods run with the real `this`) and `instanceof` still holds.
 */
function countingExports(binding) {
  const counts = new Map()
  const count = (name) => counts.set(name, (counts.get(name) ?? 0) + 1)
  const methodNames = (proto) => Object.getOwnPropertyNames(proto).filter((k) => k !== 'constructor' && typeof Object.getOwnPropertyDescriptor(proto, k).value === 'function')
  const countCalls = (name, fn) => {
    const counted = function (...args) {
      count(name)
      return fn.apply(this, args)
    }
    return Object.defineProperty(counted, 'name', { value: name }) // what stack traces show
  }
  const countClass = (name, Native) => {
    const Counted = class extends Native {
      constructor(...args) {
        count(name)
        super(...args)
      }
    }
    Object.defineProperty(Counted, 'name', { value: name })
    for (const key of methodNames(Native.prototype)) Counted.prototype[key] = countCalls(`${name}.${key}`, Native.prototype[key])
    for (const key of Object.getOwnPropertyNames(Native)) {
      if (typeof Object.getOwnPropertyDescriptor(Native, key).value === 'function') Counted[key] = countCalls(`${name}.${key}`, Native[key])
    }
    return Counted
  }
  const wrapped = {}
  for (const [name, value] of Object.entries(binding)) {
    if (typeof value !== 'function') wrapped[name] = value
    else wrapped[name] = methodNames(value.prototype ?? {}).length > 0 ? countClass(name, value) : countCalls(name, value)
  }
  /** `{ name: calls }` since the load or the last reset, names sorted. */
  wrapped.callCounts = () => Object.fromEntries([...counts].sort(([a], [b]) => (a < b ? -1 : 1)))
  wrapped.resetCallCounts = () => counts.clear()
  return wrapped
}

const binding = load()
module.exports = process.env.UNCACHE_TREE_COUNT_NATIVE_CALLS === '1' ? countingExports(binding) : binding
