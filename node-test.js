'use strict'
// `require('uncache-tree/node-test')`: fresh copies of the modules node:test tests load, per test
// or per file. See node-test.d.ts, lib/isolation/each.js, and docs/test-runners.md for where each
// setup applies (`uncache-tree test` is the one-process runner for whole suites).
const Module = require('node:module')
const path = require('node:path')
const { explain, invalidArgType } = require('./lib/errors.js')

/**
 * The other test runner this file runs under, if any. Requiring node:test there would not fail:
 * it would quietly start node:test's own run beside the other runner's. The checks look at this
 * process only (a Vitest worker's global, a runner's own script in argv), so a program that a
 * Vitest or Jest test spawns, inheriting their environment variables, is not mistaken for one.
 */
function foreignRunner() {
  if (process.env.NODE_TEST_CONTEXT !== undefined) return null // a `node --test` child
  const script = process.argv[1] ?? ''
  if (globalThis.__vitest_worker__ !== undefined || (process.env.VITEST !== undefined && /vitest/.test(script))) {
    return 'Vitest'
  }
  if (process.env.JEST_WORKER_ID !== undefined && /jest/.test(script)) return 'Jest'
  return null
}

const runner = foreignRunner()
if (runner !== null) throw explain.notNodeTest(runner)

const nodeTest = require('node:test')
const { eachScope, fileScope, parseRunnerOptions } = require('./lib/isolation/each.js')
const { callerFile } = require('./lib/targets.js')

const isTestContext = (t) => t !== null && typeof t === 'object' && typeof t.beforeEach === 'function'

/**
 * `node --test` with isolation off (`--test-isolation=none`, Node 22's
 * `--experimental-test-isolation=none`): every test file is imported into this process and all
 * their tests hang off one root, so a hook registered at a file's top level sees every file's tests.
 */
function isolationOff() {
  if (process.env.NODE_TEST_CONTEXT !== undefined) return false
  const args = process.execArgv
  const at = args.findIndex((a) => a === '--test-isolation' || a === '--experimental-test-isolation')
  const none = args.includes('--test-isolation=none') || args.includes('--experimental-test-isolation=none') || args[at + 1] === 'none'
  return args.includes('--test') && none
}

/** Whether `file` is being loaded by a `--require` preload (or is one), from its Module's parents. */
function loadedByPreload(file) {
  const preloads = process.execArgv.flatMap((a, i, all) => (a === '--import' ? [all[i + 1]] : a.startsWith('--import=') ? [a.slice(9)] : []))
  if (preloads.some((p) => p !== undefined && path.resolve(p) === file)) return true
  const seen = new Set()
  for (let m = Module._cache[file]; m != null && !seen.has(m); m = m.parent) {
    seen.add(m)
    if (m.id === 'internal/preload') return true
  }
  return false
}

// One run-wide per-file scope per process: a second `isolateEach({ per: 'file' })` (every file
// of an isolation-off run calling it) adds nothing.
let runWideFiles = false

/**
 * Registers the hooks: on the test context `t` (its subtests), else on the current describe()
 * suite, else on every test of the file (with isolation off: of that file only, as documented).
 */
function isolateEach(t, options) {
  if (options === undefined && !isTestContext(t)) {
    options = t
    t = undefined
  }
  const o = parseRunnerOptions(options)
  const caller = t === undefined ? callerFile() : undefined
  const preload = caller !== undefined && loadedByPreload(caller)
  if (preload && isolationOff() && Number(process.versions.node.split('.')[0]) < 24) {
    throw explain.testSetup(
      `isolateEach() was called from a preload (${path.basename(caller)}) of \`node --test --experimental-test-isolation=none\` on Node ${process.versions.node}: ` +
        "there, the hooks a preload registers go to a test root that never runs, and the tests' own root has none",
      'Run the suite with `npx uncache-tree test <files or folders>` (one process, fresh app modules per file, ' +
        'packages loaded once; `--per test` for each test), or call isolateEach() at the top of each test file, ' +
        'or use Node 24 or later (`--test-isolation=none`), where the hooks of a preload run.',
    )
  }
  const hooks = t === undefined ? nodeTest : t
  if (o.per === 'file') {
    if (runWideFiles) return
    runWideFiles = true
    const scope = fileScope(options)
    // node:test >= 20.16 names each test's file (`filePath`); without it the process runs one file.
    hooks.beforeEach((ctx) => {
      scope.enter(ctx?.filePath ?? '(this file)')
    })
    hooks.after(() => {
      scope.finish()
    })
    return
  }
  const scope = eachScope(options)
  // With isolation off, a top-level hook lands on the root that every file's tests share: keep it
  // to the tests of the file that asked (node:test gives each test's `filePath`).
  const onlyFile = t === undefined && !preload && isolationOff() ? caller : undefined
  const mine = (ctx) => onlyFile === undefined || ctx?.filePath === undefined || ctx.filePath === onlyFile
  // node:test passes the context of the test the hook runs for; `fullName` ("outer > inner")
  // tells a subtest from a concurrent sibling. Where it is missing, only the order in which
  // tests end can reveal an overlap.
  hooks.beforeEach((ctx) => {
    if (mine(ctx)) scope.begin(ctx, ctx?.fullName)
  })
  hooks.afterEach((ctx) => {
    if (mine(ctx)) scope.end(ctx, ctx?.fullName)
  })
}

const CHILD = path.join(__dirname, 'lib', 'test-runner', 'child.js')
const { state } = require('./lib/graph/state.js')

/**
 * Runs `fn(report, fileOrTest)` after every restore that `uncache-tree test` makes (after each
 * file, and after each test with `--per test`): where a package kept loaded gets its own state
 * reset. Call it from a `--require` preload of that command, or from a test file.
 */
function onRestore(fn) {
  if (typeof fn !== 'function') throw invalidArgType('fn', 'a function (report, fileOrTest) => void', fn)
  if (process.argv[1] !== CHILD) {
    throw explain.testSetup(
      'onRestore() from uncache-tree/node-test registers a reset for the restores of `uncache-tree test`, and this process is not one',
      'Under `node --test`, pass it to isolateEach({ onRestore }); with Mocha, createMochaHooks({ onRestore }); with Vitest, ' +
        "isolateFiles({ onRestore }) from 'uncache-tree/vitest/hooks'; with snapshot(), snapshot({ onRestore }).",
    )
  }
  // On the process-wide state: the runner reads it from its own copy of this package.
  ;(state.testRunnerRestoreHooks ??= []).push(fn)
}

module.exports = { isolateEach, onRestore }
