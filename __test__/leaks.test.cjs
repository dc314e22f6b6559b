'use strict'
// The bundled leaky examples (examples/leaks/*/leaky.js) and their fixed versions. For each
// leaky plugin, the old generations survive an unload and explainRetainers() names the culprit
// (the timer, the process listener, the global) in the chain; for each fixed plugin, the
// hot(module).dispose() handler frees everything and every generation is collected.
const test = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const { uncacheTree, verifyCollected, explainRetainers } = require('../index.js')
const { writeTree } = require('./helpers/fixtures.cjs')

const LEAKS = path.join(__dirname, '..', 'examples', 'leaks')
const GENERATIONS = 3

/**
 * What the chain must show for each example. A step's `node` holds the next step's node
 * through its `edge` (the last step is the module itself).
 */
const EXAMPLES = [
  {
    name: 'interval',
    culprit: 'the Timeout of setInterval() and its callback',
    matches: (steps) => steps.some((s) => s.node === 'Timeout' && s.edge === '_onTimeout'),
  },
  {
    name: 'process-listener',
    culprit: "process's 'exit' listeners",
    matches: (steps) => {
      const at = steps.findIndex((s) => s.node === 'process' && s.edge === '_events')
      return at !== -1 && steps.slice(at + 1).some((s) => s.edge === 'exit')
    },
  },
  {
    name: 'global-array',
    culprit: 'globalThis.pluginRegistry',
    matches: (steps) => steps.some((s) => s.edge === 'pluginRegistry'),
  },
]

const describeChain = (steps) => steps.map((s) => `${s.node} --${s.edge}-->`).join('\n')

/** Loads `file`, unloads it, `count` times; returns the reports (one per old generation). */
function cycle(file, count) {
  const reports = []
  for (let i = 0; i < count; i++) {
    const exports = require(file)
    assert.equal(typeof exports.name, 'string', 'the plugin loaded')
    reports.push(uncacheTree(file))
  }
  return reports
}

for (const example of EXAMPLES) {
  const leaky = path.join(LEAKS, example.name, 'leaky.js')
  const fixed = path.join(LEAKS, example.name, 'fixed.js')

  test(`${example.name}/leaky.js: old generations stay alive, held by ${example.culprit}`, async () => {
    const reports = cycle(leaky, GENERATIONS)
    for (const report of reports) {
      assert.deepEqual(report.removed, [leaky])
      assert.deepEqual(await verifyCollected(report, { timeoutMs: 300 }), { collected: [], alive: [leaky] })
    }
    const retainers = await explainRetainers([leaky])
    assert.equal(retainers.length, GENERATIONS, 'one chain per old generation')
    for (const { id, path: steps } of retainers) {
      assert.equal(id, leaky)
      assert.equal(steps.at(-1).node, `Module ${leaky}`, 'the chain ends at the old module')
      assert.ok(example.matches(steps), `the chain names ${example.culprit}:\n${describeChain(steps)}`)
    }
  })

  test(`${example.name}/fixed.js: the dispose handler frees every generation`, async () => {
    const listenersBefore = process.listenerCount('exit')
    const registryBefore = globalThis.pluginRegistry?.length ?? 0
    const reports = cycle(fixed, GENERATIONS)
    for (const report of reports) {
      assert.deepEqual(report.removed, [fixed])
      assert.deepEqual(report.errors, [], 'the dispose handler did not throw')
      assert.deepEqual(await verifyCollected(report), { collected: [fixed], alive: [] })
    }
    assert.deepEqual(await explainRetainers([fixed]), [], 'nothing left to explain')
    assert.equal(process.listenerCount('exit'), listenersBefore, 'no listener left on process')
    assert.equal(globalThis.pluginRegistry?.length ?? 0, registryBefore, 'no entry left in the registry')
  })
}

test('control: a plugin with no timer, listener or global is collected and has nothing to explain', async () => {
  const t = writeTree({
    'clean.js': "const table = new Map([['a', 1]])\nmodule.exports = { name: 'clean', get: (k) => table.get(k) }\n",
  })
  const reports = cycle(t.file('clean.js'), GENERATIONS)
  for (const report of reports) {
    assert.deepEqual(await verifyCollected(report), { collected: [t.file('clean.js')], alive: [] })
  }
  assert.deepEqual(await explainRetainers([t.file('clean.js')]), [])
})
