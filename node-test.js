'use strict'
// `require('uncache-tree/node-test')`: every test of a node:test file gets fresh copies of the
// modules it requires. See index.d.ts (isolateEach) and lib/isolation/each.js.
const { explain } = require('./lib/errors.js')

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
const { eachScope } = require('./lib/isolation/each.js')

const isTestContext = (t) => t !== null && typeof t === 'object' && typeof t.beforeEach === 'function'

/**
 * Registers a beforeEach/afterEach pair: on the test context `t` (its subtests), else on the
 * current describe() suite, else on every test of the file.
 */
function isolateEach(t, options) {
  if (options === undefined && !isTestContext(t)) {
    options = t
    t = undefined
  }
  const scope = eachScope(options)
  const hooks = t === undefined ? nodeTest : t
  // node:test passes the context of the test the hook runs for; `fullName` ("outer > inner")
  // tells a subtest from a concurrent sibling. Where it is missing, only the order in which
  // tests end can reveal an overlap.
  hooks.beforeEach((ctx) => scope.begin(ctx, ctx?.fullName))
  hooks.afterEach((ctx) => {
    scope.end(ctx, ctx?.fullName)
  })
}

module.exports = { isolateEach }
