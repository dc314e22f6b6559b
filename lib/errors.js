'use strict'
// Every error this package throws. Bad argument types and values are Node-style TypeError /
// RangeError with Node's codes (as `fs` throws them); everything else is an UncacheError with a
// stable code and a message that names the module and says what to do instead.
const { inspect } = require('node:util')

// Two copies of this package in one process (two versions in node_modules, or one loaded from
// two paths) each define their own class, so plain `instanceof` would fail for the other copy's
// errors. Every instance carries this registered symbol through its prototype, and
// `instanceof UncacheError` accepts any object that has it.
const BRAND = Symbol.for('uncache-tree.UncacheError')

class UncacheError extends Error {
  /**
   * @param {string} code stable, documented error code (`ERR_UNCACHE_*`)
   * @param {string} message names the offending module and says what to do instead
   * @param {{ cause?: unknown, id?: string, report?: object }} [details]
   */
  constructor(code, message, details = {}) {
    super(message, 'cause' in details ? { cause: details.cause } : undefined)
    this.code = code
    if (details.id !== undefined) this.id = details.id
    if (details.report !== undefined) this.report = details.report
  }

  get name() {
    return 'UncacheError'
  }

  // Node prints `UncacheError [ERR_X]: message`, like its own errors.
  toString() {
    return `${this.name} [${this.code}]: ${this.message}`
  }

  /** `error instanceof UncacheError` for the errors of every copy of this package. */
  static [Symbol.hasInstance](value) {
    // A subclass keeps the ordinary prototype-chain test.
    if (this !== UncacheError) return Function.prototype[Symbol.hasInstance].call(this, value)
    if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return false
    return Function.prototype[Symbol.hasInstance].call(this, value) || value[BRAND] === true
  }
}
Object.defineProperty(UncacheError.prototype, BRAND, { value: true })

function describe(value) {
  if (value === null) return 'null'
  if (typeof value === 'function') return `function ${value.name || '(anonymous)'}`
  if (typeof value === 'object') {
    const ctor = value.constructor?.name
    return ctor ? `an instance of ${ctor}` : inspect(value, { depth: 0 })
  }
  return `type ${typeof value} (${inspect(value)})`
}

/** `The "name" argument must be <expected>. Received <actual>` with code ERR_INVALID_ARG_TYPE. */
function invalidArgType(name, expected, actual) {
  const error = new TypeError(`The "${name}" argument must be ${expected}. Received ${describe(actual)}`)
  error.code = 'ERR_INVALID_ARG_TYPE'
  return error
}

/** `The argument 'name' <reason>. Received <value>` with code ERR_INVALID_ARG_VALUE. */
function invalidArgValue(name, value, reason) {
  const error = new RangeError(`The argument '${name}' ${reason}. Received ${inspect(value, { depth: 0 })}`)
  error.code = 'ERR_INVALID_ARG_VALUE'
  return error
}

/** The first line of what was thrown, for a message that says what went wrong. */
function summarize(thrown) {
  if (thrown instanceof Error) return `(${thrown.name}: ${String(thrown.message).split('\n')[0]})`
  return `(${inspect(thrown, { depth: 0, breakLength: Infinity })})`
}

const explain = {
  // `advice` replaces the API's words where a command line asks (no `options.from` there).
  unresolved: (specifier, from, cause, advice) =>
    new UncacheError(
      'ERR_UNCACHE_UNRESOLVED',
      `Cannot find module '${specifier}' from ${from}: it is neither in require.cache nor resolvable. ` +
        (advice ?? 'Pass the path require() would load (absolute, or relative to the calling file), or set options.from.'),
      { cause, id: specifier },
    ),
  nativeAddon: (id) =>
    new UncacheError(
      'ERR_UNCACHE_NATIVE_ADDON',
      `${id} is a native addon: native code cannot be unloaded from a process. ` +
        'Unload the JavaScript modules that use it; the addon stays loaded.',
      { id },
    ),
  builtin: (specifier) =>
    new UncacheError(
      'ERR_UNCACHE_BUILTIN',
      `'${specifier}' is a Node.js built-in module: built-ins are part of the runtime and cannot be unloaded. ` +
        'Unload the modules that use it instead.',
      { id: specifier },
    ),
  main: (id) =>
    new UncacheError(
      'ERR_UNCACHE_MAIN',
      `${id} is the program's main module: it cannot be unloaded while the program runs. ` +
        'Move the code you want to reload into a module that the main module requires, and unload that.',
      { id },
    ),
  loading: (id) =>
    new UncacheError(
      'ERR_UNCACHE_LOADING',
      `${id} is still being loaded (its top-level code is running now, or a circular require is in progress). ` +
        'Unload it after its require() has returned, e.g. from setImmediate().',
      { id },
    ),
  // `thrownAt` (file:line of the code that threw, when the stack tells) may be another file of
  // the reloaded tree than `id`.
  reloadFailed: (id, cause, report, thrownAt) =>
    new UncacheError(
      'ERR_UNCACHE_RELOAD_FAILED',
      `Reloading ${id} failed: the new code threw ${summarize(cause)}` +
        `${thrownAt === undefined ? '' : ` at ${thrownAt}`}. ` +
        `The previous version was put back and keeps running (${report.removed.length} module(s) restored; ` +
        'their dispose handlers had already run). Fix the error and reload again; error.cause is the original error.',
      { cause, id, report },
    ),
  // `api` is the function asked to re-evaluate it: reload, invalidate or watch.
  esm: (id, api) =>
    new UncacheError(
      'ERR_UNCACHE_ESM',
      `${api}() cannot reload ${id}: it is an ES module (loaded with import, or with require() of ESM), and Node ` +
        'never evaluates an ES module twice in a process: its loader keeps the first instance, so a reload would ' +
        'silently return the old code. Restart the process to run the new code (`npx uncache-tree dev` restarts ' +
        'by itself when an ES module changes), or build this code as CommonJS (.cjs, or a package without ' +
        '"type": "module"; a loader such as tsx/cjs compiles TypeScript to CommonJS) so it can be reloaded in place.',
      { id },
    ),
  // `api` names the function that was called, so the advice names its Jest counterpart; `jest`
  // is whether this runs in a Jest worker (only then is Jest named).
  unsupportedRuntime: (api, jest) =>
    new UncacheError(
      'ERR_UNCACHE_UNSUPPORTED_RUNTIME',
      jest
        ? 'require.cache ignores deletions in this runtime (Jest replaces it with its own module registry), ' +
            'so nothing can be unloaded here. ' +
            (api === 'isolate' || api === 'snapshot'
              ? `Inside Jest, use jest.isolateModules(fn) or jest.isolateModulesAsync(fn) instead of ${api}(), ` +
                'or jest.resetModules() in beforeEach.'
              : 'Use jest.isolateModules() or jest.resetModules() inside Jest.')
        : `require.cache ignores deletions here: something replaced Node's CommonJS module cache ` +
            `(Module._cache) with an object that does not keep them, so ${api ?? 'uncacheTree'}() cannot unload ` +
            'anything. Find what replaced require.cache (a custom loader or test runner) and let it keep ' +
            "Node's own cache.",
    ),
  reentrant: (api) =>
    new UncacheError(
      'ERR_UNCACHE_REENTRANT',
      `${api}() was called while an unload is running its dispose handlers, and was refused: nothing was changed. ` +
        'An unload cannot start inside another one (both would cut the same graph). Schedule it for after the ' +
        'running one returns, e.g. setImmediate(() => ' + api + '(...)).',
    ),
  // `runner` is 'Vitest' or 'Jest': uncache-tree/node-test was loaded by a file another runner runs.
  notNodeTest: (runner) =>
    new UncacheError(
      'ERR_UNCACHE_UNSUPPORTED_RUNTIME',
      `uncache-tree/node-test registers node:test hooks, but this file runs under ${runner}: node:test would ` +
        `start a second, separate test run beside ${runner}'s, and no ${runner} test would be isolated. ` +
        (runner === 'Vitest'
          ? "Inside Vitest, list 'uncache-tree/vitest' in test.setupFiles (fresh modules per file), or call " +
            "isolateTests() from 'uncache-tree/vitest/hooks' in a setup file of your own (vi.resetModules() does not " +
            'touch require.cache).'
          : 'Inside Jest, use jest.isolateModules(fn) or jest.resetModules() in beforeEach.'),
    ),
  // A test setup that would run but isolate nothing: `setup` says which, `instead` what to run.
  testSetup: (setup, instead) =>
    new UncacheError('ERR_UNCACHE_TEST_SETUP', `${setup}, so no test would be isolated. ${instead}`),
  // `platform` is the napi-rs platform name, `tried` one line per place looked at, `fix` what to
  // run. The package loads the native core when it is required, so this is what require() throws.
  nativeBinary: (platform, packageName, tried, fix) => {
    const error = new UncacheError(
      'ERR_UNCACHE_NATIVE_BINARY',
      `No usable native binary of uncache-tree for ${platform} (Node ${process.version}). ` +
        `Looked for:\n  ${tried.join('\n  ')}\n${fix}`,
    )
    error.platform = platform
    error.packageName = packageName
    return error
  },
  // `running` and `starting` say which isolate (or test) is which, with where it was started.
  isolateOverlap: (running, starting) =>
    new UncacheError(
      'ERR_UNCACHE_ISOLATE_OVERLAP',
      `${starting} started while ${running} is still running and is not its parent. ` +
        'Both share one require.cache and require() does not say which of them loaded a module, so neither ' +
        'could be restored correctly. Let the running one finish first (await it; run isolated tests one at ' +
        'a time, without a concurrency option or Promise.all over isolate() calls), or start the new one ' +
        'from inside the running one to nest it.',
    ),
}

module.exports = { UncacheError, invalidArgType, invalidArgValue, explain }
