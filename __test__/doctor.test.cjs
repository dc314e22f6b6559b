'use strict'
// `uncache-tree doctor`, run as users run it: a child process per call, exit status and output
// checked. The doctor has to run in the process it measures, so these tests cannot share one.
const test = require('node:test')
const assert = require('node:assert/strict')
const { spawn } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { writeTree } = require('./helpers/fixtures.cjs')

const ROOT = path.join(__dirname, '..')
const BIN = path.join(ROOT, 'bin', 'uncache-tree.js')
const LEAKS = path.join(ROOT, 'examples', 'leaks')
const NODE_MAJOR = Number(process.versions.node.split('.')[0])

/** Runs the CLI with the same Node binary as this test; resolves with status and output. */
function cli(args, { cwd = ROOT } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d))
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

const chainText = (chain) => chain.path.map((s) => `${s.node} ${s.edge}`).join('\n')

test('a leaky plugin: exit 1, the JSON names the survivor and a chain through the timer', async () => {
  const entry = path.join(LEAKS, 'interval', 'leaky.js')
  const { code, stdout, stderr } = await cli(['doctor', 'examples/leaks/interval/leaky.js', '--cycles', '20', '--json', '--timeout', '500'])
  assert.equal(code, 1, stderr)
  const result = JSON.parse(stdout)
  assert.equal(result.entry, entry)
  assert.equal(result.cycles, 20)
  assert.equal(result.samples.length, 21, 'a sample after the first load and after each cycle')
  assert.deepEqual(
    result.samples.map((s) => s.cycle),
    Array.from({ length: 21 }, (_, i) => i),
  )
  assert.equal(result.leaked, true)
  assert.equal(result.survivors.length, 1)
  const [survivor] = result.survivors
  assert.equal(survivor.id, entry)
  assert.equal(survivor.alive, 20, 'every old generation is still ticking')
  assert.equal(survivor.heldBy, 'program')
  assert.ok(survivor.chains.length >= 1, 'the survivor is explained')
  assert.equal(
    survivor.chains.reduce((n, c) => n + c.generations, 0),
    20,
    'one chain per old generation, grouped',
  )
  // Generations differ only in where their Timeout sits in the timer list (reached from its
  // head or its tail): grouped by shape, that is at most two chains, not twenty.
  assert.ok(survivor.chains.length <= 2, `grouped into ${survivor.chains.length} chains`)
  const text = chainText(survivor.chains[0])
  assert.match(text, /^Timeout _onTimeout$/m, 'the chain goes through the Timeout and its callback')
  assert.match(text, new RegExp(`leaky\\.js:\\d+:\\d+`), 'the callback is located in the plugin')
  // Each leaked generation holds 50,000 samples (about 2 MB): the heap must show it.
  assert.ok(result.growth.perCycle > 1_000_000, `grows per cycle: ${result.growth.perCycle}`)
  assert.match(stderr, /cycle 20\/20/, 'progress was shown on stderr')
})

test('the fixed plugin: exit 0, every generation collected, the heap flat', async () => {
  const { code, stdout, stderr } = await cli(['doctor', 'examples/leaks/interval/fixed.js', '--cycles', '20', '--json'])
  assert.equal(code, 0, stderr)
  const result = JSON.parse(stdout)
  assert.equal(result.leaked, false)
  assert.deepEqual(result.survivors, [])
  assert.equal(result.modules.alive, 0)
  assert.equal(result.modules.unloaded, 20)
  assert.ok(Math.abs(result.growth.perCycle) < 100_000, `flat: ${result.growth.perCycle} bytes per cycle`)
})

test('the text report: chart with labelled axes in 80 columns, survivor, chain, verdict', async () => {
  const { code, stdout } = await cli(['doctor', 'examples/leaks/global-array/leaky.js', '--cycles', '12', '--timeout', '300', '--quiet'])
  assert.equal(code, 1)
  const lines = stdout.split('\n')
  for (const line of lines) assert.ok([...line].length <= 80, `fits 80 columns: ${JSON.stringify(line)}`)
  assert.match(stdout, /Heap after a forced GC/)
  assert.match(stdout, /^\s+0 MB └┬/m, 'x axis with its zero label')
  assert.match(stdout, /┤/, 'y axis labels')
  assert.match(stdout, /cycle$/m, 'x axis caption')
  assert.match(stdout, /examples\/leaks\/global-array\/leaky\.js: 12 of 12 old generations alive/)
  assert.match(stdout, /pluginRegistry/, 'the chain names the global')
  assert.match(stdout, /^LEAK: /m)
})

test('--html writes a self-contained page with an SVG chart and the chains', async () => {
  const out = writeTree({ '.keep': '' }).file('report.html')
  const { code, stderr } = await cli(['doctor', 'examples/leaks/process-listener/leaky.js', '--cycles', '12', '--timeout', '300', '--html', out])
  assert.equal(code, 1, stderr)
  const html = fs.readFileSync(out, 'utf8')
  assert.match(html, /^<!doctype html>/)
  assert.match(html, /<svg[^>]*viewBox/)
  assert.match(html, /<polyline /, 'a line per series')
  assert.match(html, /process-listener\/leaky\.js/)
  assert.match(html, /_events/, 'the chain goes through the listeners of process')
  assert.doesNotMatch(html, /<script|<link|src="http|href="http/, 'no scripts, no external assets')
  assert.match(stderr, /HTML report written to/)
})

test('a generation held only by Node\'s last-parent slot is explained as Node\'s and does not fail', async () => {
  // a.js is the first to require shared.js, then makes the host (the main module) require it
  // too. Each unload keeps shared.js (a live module requires it); on Node >= 22 shared.js's
  // private last-parent slot keeps the first a.js. Bounded: later generations are collected.
  const t = writeTree({
    'a.js': "require('./shared.js')\nrequire.main.require(require.resolve('./shared.js'))\nmodule.exports = { big: Array.from({ length: 10000 }, (_, i) => ({ i })) }\n",
    'shared.js': 'module.exports = { shared: true }\n',
  })
  const { code, stdout, stderr } = await cli(['doctor', t.file('a.js'), '--cycles', '6', '--json', '--timeout', '300'])
  assert.equal(code, 0, stderr)
  const result = JSON.parse(stdout)
  assert.equal(result.leaked, false)
  if (NODE_MAJOR < 22) {
    assert.deepEqual(result.survivors, [], 'Node 20 has no last-parent slot')
    return
  }
  assert.equal(result.survivors.length, 1)
  const [survivor] = result.survivors
  assert.equal(survivor.id, t.file('a.js'))
  assert.deepEqual(survivor.cycles, [1], 'only the first generation, and it does not grow')
  assert.equal(survivor.heldBy, 'node')
  assert.deepEqual(
    survivor.nodePins.map((p) => [p.by, p.generations]),
    [['last-parent', 1]],
  )
  assert.match(survivor.nodePins[0].why, /Node's private last-parent slot/)
})

test('bad usage exits 2 with a message that says what is wrong', async () => {
  const cases = [
    [[], /missing command/],
    [['inspect', 'x.js'], /unknown command 'inspect'/],
    [['doctor'], /missing <entry>/],
    [['doctor', 'examples/leaks/interval/leaky.js', '--cycles', '0'], /--cycles must be from 1/],
    [['doctor', 'examples/leaks/interval/leaky.js', '--cycles', 'ten'], /--cycles must be a whole number/],
    [['doctor', 'examples/leaks/interval/leaky.js', '--cyles', '5'], /Unknown option '--cyles'/],
    [['doctor', 'examples/leaks/nope.js'], /Cannot find module 'examples\/leaks\/nope\.js'/],
    [['doctor', 'node:fs'], /built-in/],
    [['doctor', 'a.js', 'b.js'], /unexpected argument 'b\.js'/],
    [['doctor', 'examples/leaks/interval/leaky.js', '--html', '/nonexistent-dir/x.html'], /not writable/],
  ]
  const results = await Promise.all(cases.map(([args]) => cli(args)))
  results.forEach(({ code, stdout, stderr }, i) => {
    const [args, message] = cases[i]
    assert.equal(code, 2, `${args.join(' ')} → ${stderr}`)
    assert.match(stderr, message, args.join(' '))
    assert.match(stderr, /uncache-tree --help/, 'points at the help')
    assert.equal(stdout, '')
  })
})

test('--help prints the usage with the exit codes; an entry that throws exits 3', async () => {
  const help = await cli(['--help'])
  assert.equal(help.code, 0)
  assert.match(help.stdout, /^Usage: uncache-tree doctor <entry>/)
  assert.match(help.stdout, /--cycles N/)
  assert.match(help.stdout, /Exit status:/)

  const t = writeTree({ 'broken.js': "throw new Error('plugin is broken')\n" })
  const broken = await cli(['doctor', t.file('broken.js'), '--cycles', '3'])
  assert.equal(broken.code, 3)
  assert.match(broken.stderr, /broken\.js threw on its first load: plugin is broken/)
  assert.equal(broken.stdout, '')
})
