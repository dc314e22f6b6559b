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
const { runCli } = require('./helpers/cli.cjs')

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

// The same examples through the doctor, as a user runs it: each leaky plugin exits 1 and the
// report names the chain that holds what grows; each fixed one exits 0 with nothing growing.
// The first four leak without keeping their module alive, so only the growth verdict catches them.

async function doctor(args) {
  const { code, stdout, stderr } = await runCli(['doctor', ...args, '--json', '--quiet', '--timeout', '300'])
  return { code, stderr, result: stdout === '' ? undefined : JSON.parse(stdout) }
}

const GROWING = [
  {
    name: 'timer-buffer',
    summary: /^ArrayBuffer ← big \(closure at .*timer-buffer\/leaky\.js:6:\d+\) ← _onTimeout ← Timeout ← /,
    fix: /clear it \(clearInterval\/clearTimeout\) in a hot\(module\)\.dispose\(\) handler/,
  },
  {
    name: 'emitter-listener',
    args: ['--keep', 'bus\\.js$'],
    summary: /^ArrayBuffer ← buffer ← Float64Array ← prices \(closure onTick at .*emitter-listener\/leaky\.js:8:16\) ← EventEmitter\._events\.tick\[\d+\]$/,
    fix: /^A listener for 'tick' is added to a long-lived EventEmitter on each load and never removed/,
    // The bus is reached through require.cache, not through the package's own state.
    root: 'require.cache',
  },
  {
    name: 'timeout-chain',
    summary: /^ArrayBuffer ← buffer ← Float64Array ← window \(closure poll at .*timeout-chain\/leaky\.js:8:14\) ← .*_onTimeout/,
    fix: /must also check a "disposed" flag before scheduling again/,
  },
  {
    name: 'registry',
    summary: /^ArrayBuffer ← buffer ← Float64Array ← cache \(closure handle at .*registry\/leaky\.js:6:\d+\) ← handle ← Object ← global\.handlerRegistry\[\d+\]$/,
    fix: /^Each load adds to globalThis\.handlerRegistry and nothing takes it out/,
    root: 'global',
  },
]

for (const example of GROWING) {
  test(`doctor ${example.name}/leaky.js: exit 1, memory grows, named by its chain; fixed.js: exit 0`, async () => {
    const dir = path.join('examples', 'leaks', example.name)
    const [leaky, fixed] = await Promise.all([
      doctor([path.join(dir, 'leaky.js'), '--cycles', '9', ...(example.args ?? [])]),
      doctor([path.join(dir, 'fixed.js'), '--cycles', '6', ...(example.args ?? [])]),
    ])
    assert.equal(leaky.code, 1, leaky.stderr)
    // No generation held by the program: only the growth verdict sees this leak. (On Node >= 22
    // a kept module's last-parent slot holds the generation that first required it: Node's, bounded.)
    const held = (result) => result.survivors.filter((s) => s.heldBy === 'program')
    assert.deepEqual(held(leaky.result), [], 'no generation held by the program')
    assert.equal(leaky.result.growth.growing, true)
    assert.ok(leaky.result.growth.perCycle > 400_000, `about 0.5 MB or more per cycle: ${leaky.result.growth.perCycle}`)
    const [top] = leaky.result.growing
    assert.ok(top !== undefined, 'what grows is named')
    assert.match(top.summary, example.summary)
    assert.match(top.fix, example.fix)
    assert.ok(top.perCycle > 400_000, `the group accounts for the growth: ${top.perCycle}`)
    if (example.root !== undefined) assert.equal(top.path[0].node, example.root)
    assert.equal(fixed.code, 0, fixed.stderr)
    assert.equal(fixed.result.growth.growing, false)
    assert.deepEqual(fixed.result.growing, [], 'nothing grows once the dispose handler frees it')
    assert.deepEqual(held(fixed.result), [])
  })
}

// Their leaky twins exit 1 with the named chain in doctor.test.cjs (interval: the JSON verdict,
// global-array: the text report, process-listener: the HTML page).
test('doctor on the fixed twins of the module-retaining examples: exit 0, nothing survives, nothing grows', async () => {
  for (const name of ['interval', 'process-listener', 'global-array']) {
    const { code, stderr, result } = await doctor([path.join('examples', 'leaks', name, 'fixed.js'), '--cycles', '6'])
    assert.equal(code, 0, `${name}: ${stderr}`)
    assert.deepEqual(result.survivors, [])
    assert.equal(result.growth.growing, false)
    assert.deepEqual(result.growing, [])
  }
})
