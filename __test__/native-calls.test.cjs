'use strict'
// Native calls per verb (issue 16: "≤ 4, counted by a test that wraps the binding"). Each verb is
// one plan into the native core; what it costs is observable as the number of calls that cross
// N-API, whatever route the planner takes. A child process started with
// UNCACHE_TREE_COUNT_NATIVE_CALLS=1 (lib/native.js then counts every call into the binding, by
// name) requires a generated app of 2,000 modules with a 50-module plugin that uses some of the
// main graph (benchmark/generate-graph.js), warms it with one unload (a process's first unload may
// read the whole graph), then runs each verb twice and reports the calls each run made
// (benchmark/count-native-calls.js). The same app is also run with its entry requiring a
// barrel file. Timings are not asserted here: benchmark/verbs.js measures them.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawnSync } = require('node:child_process')

/** The most native calls one call of each verb may make (the issue's target: 4 for every verb). */
const LIMITS = {
  uncacheTree: 4, // of the plugin's entry, the 2nd and 3rd unload of the process
  invalidate: 4, // of the plugin leaf most plugin files require: it and its importers, up to the entry
  'snapshot/restore': 4, // snapshot(), a module loaded that uses the plugin, restore()
  watch: 4, // watch({ entry }): the watched tree is computed
  'watch save': 4, // a save of that leaf, until onReload: invalidate + require(entry)
  reload: 4, // of that leaf: its tree and its importers
}
/** What each verb must have done, so that a count of 0 cannot come from a verb that did nothing. */
const MIN_REMOVED = { uncacheTree: 50, invalidate: 2, 'snapshot/restore': 1, 'watch save': 2, reload: 2 }

const MODULES = 2000
const CHILD = path.join(__dirname, '..', 'benchmark', 'count-native-calls.js')

function runChild(dir, flags) {
  const run = spawnSync(process.execPath, [CHILD, String(MODULES), '--dir', dir, ...flags], {
    encoding: 'utf8',
    env: { ...process.env, UNCACHE_TREE_COUNT_NATIVE_CALLS: '1' },
    timeout: 120_000,
    maxBuffer: 1 << 24,
  })
  if (run.status !== 0) throw new Error(`the counting child (${flags.join(' ') || 'plain app'}) exited ${run.status}${run.signal ? ` (${run.signal})` : ''}:\n${run.stderr}`)
  return JSON.parse(run.stdout)
}

const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'uncache-tree-native-calls-')))
test.after(() => fs.rmSync(dir, { recursive: true, force: true }))
const apps = {
  'the generated app': () => runChild(path.join(dir, 'graph'), []),
  'the app whose entry requires a barrel': () => runChild(path.join(dir, 'graph'), ['--barrel']),
}

const describeCalls = (runs) => runs.map((r, k) => `  call ${k + 1}: ${r.total} native calls ${JSON.stringify(r.calls)}; did ${JSON.stringify(r.did)}`).join('\n')

for (const [app, run] of Object.entries(apps)) {
  let counted
  const results = () => (counted ??= run()).results
  for (const [verb, limit] of Object.entries(LIMITS)) {
    test(`${verb} on ${app} (${MODULES} modules) makes at most ${limit} native calls`, () => {
      const runs = results()[verb]
      assert.ok(runs?.length >= 1, `the child ran ${verb}`)
      for (const r of runs) {
        if (verb in MIN_REMOVED) {
          assert.ok(r.did.removed >= MIN_REMOVED[verb], `${verb} removed ${r.did.removed} modules, expected at least ${MIN_REMOVED[verb]}:\n${describeCalls(runs)}`)
          assert.ok(r.total >= 1, `${verb} unloaded modules without a call into the native core: the counter is not wrapping the binding`)
        }
        if (verb === 'reload') assert.equal(r.did.fresh, true, 'reload returned the exports now cached')
        if (verb === 'watch') assert.ok(r.did.watchedFiles >= MODULES, `watch() watches the loaded tree (${r.did.watchedFiles} files)`)
      }
      const worst = Math.max(...runs.map((r) => r.total))
      assert.ok(worst <= limit, `${verb} made ${worst} native calls (limit ${limit}); by name:\n${describeCalls(runs)}`)
    })
  }
}

test('the counter: every binding function and class method is counted by name, constants pass through', () => {
  const code = `
    const native = require(${JSON.stringify(path.join(__dirname, '..', 'lib', 'native.js'))})
    const { FLAG_KEEPS } = native
    const graph = new native.ModuleGraph()
    graph.addEdges(Uint32Array.of(1, 1), Uint32Array.of(2, 3))
    const referrers = Array.from(graph.referrersOf(Uint32Array.of(3)))
    const stats = graph.stats()
    const before = native.callCounts()
    native.resetCallCounts()
    native.coreVersion()
    const nativeClass = Object.getPrototypeOf(native.ModuleGraph)
    console.log(JSON.stringify({ before, after: native.callCounts(), referrers, edges: stats.edges, flag: FLAG_KEEPS,
      instance: graph instanceof nativeClass, name: native.ModuleGraph.name }))`
  const run = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8', env: { ...process.env, UNCACHE_TREE_COUNT_NATIVE_CALLS: '1' } })
  assert.equal(run.status, 0, run.stderr)
  const out = JSON.parse(run.stdout)
  assert.deepEqual(out.before, { ModuleGraph: 1, 'ModuleGraph.addEdges': 1, 'ModuleGraph.referrersOf': 1, 'ModuleGraph.stats': 1 })
  assert.deepEqual(out.after, { coreVersion: 1 })
  assert.deepEqual(out.referrers, [1])
  assert.equal(out.edges, 2)
  assert.equal(typeof out.flag, 'number')
  assert.equal(out.instance, true, 'an instance of the counting class is an instance of the native class')
  assert.equal(out.name, 'ModuleGraph')
})

test('without UNCACHE_TREE_COUNT_NATIVE_CALLS the binding is exported as it is: nothing wrapped', () => {
  assert.equal(process.env.UNCACHE_TREE_COUNT_NATIVE_CALLS, undefined, 'run the suite without the variable')
  const native = require('../lib/native.js')
  const addon = Object.entries(require.cache).find(([key]) => key.endsWith('.node'))
  assert.ok(addon, 'the binary is in require.cache')
  assert.equal(native, addon[1].exports, 'lib/native.js exports the binary’s own exports object')
  assert.equal(native.callCounts, undefined)
})
