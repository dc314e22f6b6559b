'use strict'
// `uncache-tree doctor`, run as users run it: a child process per call, exit status and output
// checked. The doctor has to run in the process it measures, so these tests cannot share one.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { writeTree } = require('./helpers/fixtures.cjs')

const ROOT = path.join(__dirname, '..')
const LEAKS = path.join(ROOT, 'examples', 'leaks')
const NODE_MAJOR = Number(process.versions.node.split('.')[0])

const { runCli: cli } = require('./helpers/cli.cjs')

const { fitTrend, growthOf } = require('../lib/proof/doctor.js')
const MB = 1024 * 1024

/** A deterministic pseudo-random sequence in [0, 1): noise that is the same on every run. */
function noise(seed) {
  let x = seed
  return () => {
    x = (x * 1103515245 + 12345) % 2147483648
    return x / 2147483648
  }
}

/** Samples as the doctor takes them, from a function of the cycle. */
const samplesOf = (cycles, total) =>
  Array.from({ length: cycles + 1 }, (_, cycle) => ({ cycle, heapUsed: total(cycle), arrayBuffers: 0, external: 0, rss: 0 }))

test('the trend: Theil-Sen slope and Mann-Kendall z, one outlier does not tilt it', () => {
  const line = Array.from({ length: 10 }, (_, x) => ({ x, y: 1000 + 50 * x }))
  const fit = fitTrend(line)
  assert.equal(fit.slope, 50)
  assert.equal(fit.intercept, 1000)
  assert.equal(fit.noise, 0)
  assert.ok(fit.z > 3.5, `a perfect rise is significant: z = ${fit.z}`)
  line[5].y += 1_000_000
  assert.equal(fitTrend(line).slope, 50, 'the median of pairwise slopes ignores one freak sample')
  const flat = fitTrend(Array.from({ length: 10 }, (_, x) => ({ x, y: x % 2 ? 10 : 0 })))
  assert.equal(flat.slope, 0)
  assert.ok(Math.abs(flat.z) < 1, `alternating values are no trend: z = ${flat.z}`)
  assert.deepEqual(fitTrend([{ x: 0, y: 5 }]), { slope: 0, intercept: 5, noise: 0, z: 0 })
})

test('the growth verdict: a 1 MB/cycle leak grows, noise of tens of MB and a cache filled in warm-up do not', () => {
  const random = noise(7)
  // Noise of ±4 MB around a flat line, spikes of 30 MB now and then: a plugin that allocates a lot.
  const noisy = growthOf(samplesOf(20, (c) => 50 * MB + (random() - 0.5) * 8 * MB + (c % 7 === 3 ? 30 * MB : 0)), 4)
  assert.equal(noisy.growing, false, JSON.stringify(noisy))
  // A bounded cache that fills during warm-up, then stays.
  const cache = growthOf(samplesOf(20, (c) => 40 * MB + Math.min(c, 3) * 5 * MB + random() * 100_000), 4)
  assert.equal(cache.growing, false, JSON.stringify(cache))
  // The doctor's own small per-cycle bookkeeping: a steady rise, but far below a leak.
  const bookkeeping = growthOf(samplesOf(20, (c) => 30 * MB + c * 8_000), 4)
  assert.equal(bookkeeping.growing, false)
  assert.ok(bookkeeping.z > 2.33, 'significant, yet too small to fail a build')
  // A one-time step after warm-up (a table built on first use): the later half is flat.
  const step = growthOf(samplesOf(6, (c) => 6 * MB + (c >= 3 ? 450_000 : 0) + random() * 20_000), 1)
  assert.equal(step.growing, false, JSON.stringify(step))
  const leak = growthOf(samplesOf(20, (c) => 30 * MB + c * MB + (random() - 0.5) * 2 * MB), 4)
  assert.equal(leak.growing, true, JSON.stringify(leak))
  assert.ok(Math.abs(leak.perCycle - MB) < 0.2 * MB, `about 1 MB per cycle: ${leak.perCycle}`)
  assert.ok(Math.abs(leak.total - leak.perCycle * 16) <= 16, 'the total is the per-cycle figure over the window: they agree')
  assert.deepEqual([leak.fromCycle, leak.toCycle], [4, 20])
})

const chainText = (chain) => chain.path.map((s) => `${s.node} ${s.edge}`).join('\n')

test('a leaky plugin: exit 1, the JSON names the survivor and a chain through the timer', async () => {
  const entry = path.join(LEAKS, 'interval', 'leaky.js')
  const { code, stdout, stderr } = await cli(['doctor', 'examples/leaks/interval/leaky.js', '--cycles', '9', '--json', '--timeout', '500'])
  assert.equal(code, 1, stderr)
  const result = JSON.parse(stdout)
  assert.equal(result.entry, entry)
  assert.equal(result.cycles, 9)
  assert.equal(result.samples.length, 10, 'a sample after the first load and after each cycle')
  assert.deepEqual(
    result.samples.map((s) => s.cycle),
    Array.from({ length: 10 }, (_, i) => i),
  )
  assert.deepEqual(result.snapshots, [3, 6, 9])
  assert.equal(result.leaked, true)
  assert.equal(result.survivors.length, 1)
  const [survivor] = result.survivors
  assert.equal(survivor.id, entry)
  assert.equal(survivor.alive, 9, 'every old generation is still ticking')
  assert.equal(survivor.heldBy, 'program')
  assert.ok(survivor.chains.length >= 1, 'the survivor is explained')
  assert.equal(
    survivor.chains.reduce((n, c) => n + c.generations, 0),
    9,
    'one chain per old generation, grouped',
  )
  // Generations differ only in where their Timeout sits in the timer list (reached from its
  // head or its tail): grouped by shape, that is at most two chains, not twenty.
  assert.ok(survivor.chains.length <= 2, `grouped into ${survivor.chains.length} chains`)
  assert.equal(result.growth.growing, true)
  assert.match(result.growing[0].summary, /\(closure at .*interval\/leaky\.js:\d+:\d+\) ← _onTimeout ← Timeout/)
  const text = chainText(survivor.chains[0])
  assert.match(text, /^Timeout _onTimeout$/m, 'the chain goes through the Timeout and its callback')
  assert.match(text, new RegExp(`leaky\\.js:\\d+:\\d+`), 'the callback is located in the plugin')
  // Each leaked generation holds 50,000 samples (about 2 MB): the heap must show it.
  assert.ok(result.growth.perCycle > 1_000_000, `grows per cycle: ${result.growth.perCycle}`)
  assert.match(stderr, /cycle 9\/9/, 'progress was shown on stderr')
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
  const { code, stdout } = await cli(['doctor', 'examples/leaks/global-array/leaky.js', '--cycles', '6', '--timeout', '300', '--quiet'])
  assert.equal(code, 1)
  const lines = stdout.split('\n')
  for (const line of lines) assert.ok([...line].length <= 80, `fits 80 columns: ${JSON.stringify(line)}`)
  assert.match(stdout, /Heap after a forced GC/)
  assert.match(stdout, /^\s+0 MB └┬/m, 'x axis with its zero label')
  assert.match(stdout, /┤/, 'y axis labels')
  assert.match(stdout, /cycle$/m, 'x axis caption')
  assert.match(stdout, /examples\/leaks\/global-array\/leaky\.js: 6 of 6 old generations alive/)
  assert.match(stdout, /pluginRegistry/, 'the chain names the global')
  assert.match(stdout, /^LEAK: /m)
  assert.match(stdout, /^Trend: \+\d+(\.\d)? [KM]B per cycle \(\+\d+(\.\d)? MB over cycles 1–6, after 1 warm-up cycle\(s\)\),\sfar above the noise/m)
})

test('the timer-over-buffer plugin of the issue: exit 1, 1 MB per reload, named with the closure and the fix', async () => {
  const t = writeTree({
    'plugin.js': 'const big = new ArrayBuffer(1 << 20)\nconst timer = setInterval(() => big.byteLength, 60000)\nmodule.exports = { size: () => big.byteLength }\n',
  })
  const { code, stdout, stderr } = await cli(['doctor', 'plugin.js', '--cycles', '12', '--quiet'], { cwd: t.dir })
  assert.equal(code, 1, stderr)
  assert.match(stdout, /^Collected: all 12 unloaded module generations were garbage collected\.$/m, 'no module survived')
  assert.match(stdout, /memory GROWS with every reload/)
  // Wrapped lines joined.
  const flat = stdout.replace(/\s+/g, ' ')
  assert.match(flat, / What grows \(objects allocated in cycles 5–8 still alive after cycle 12\), biggest first: 1\. /)
  // Holder first (the closure, then what holds it), then the size, then what it retains.
  const [, holder, size, retained] = / 1\. (closure .*?): (\d\.\d) MB per reload \(retains (.*?)\) Fix: /.exec(flat) ?? []
  assert.equal(size, '1.0', stdout)
  assert.match(holder, /^closure at plugin\.js:2:27 ← _onTimeout ← Timeout ← Timeout\._idle(Next|Prev)…$/)
  assert.equal(retained, 'ArrayBuffer ← big')
  // The timer is also counted: one more active Timeout per reload, added at plugin.js line 2.
  assert.match(flat, / What grows in number with every reload \(a leak whatever its size\): 1\. active timers \(Timeout: setInterval\/setTimeout\): \+1 per reload \(\d+ → \d+\), added at plugin\.js:2:15 /)
  assert.match(flat, /Fix: A timer started on each load keeps running after the unload: keep its handle and clear it \(clearInterval\/clearTimeout\) in a hot\(module\)\.dispose\(\) handler/)
  // The verdict quotes the fitted trend, which noise moves by a few KB around 1 MB (1021 KB was
  // seen on Node 26); the size of what grows, above, is exact.
  // The verdict wraps at 80 columns where the figure's width puts it, so it is matched joined.
  assert.match(stdout, /^LEAK: memory grows by /m)
  assert.match(flat, / LEAK: memory grows by (?:1\.[01] MB|(?:9\d\d|10[0-2]\d) KB) per reload although every old module generation was collected\. /)
  for (const line of stdout.split('\n')) assert.ok([...line].length <= 80, `fits 80 columns: ${JSON.stringify(line)}`)
})

test('--html writes a self-contained page with an SVG chart and the chains', async () => {
  const out = writeTree({ '.keep': '' }).file('report.html')
  const { code, stderr } = await cli(['doctor', 'examples/leaks/process-listener/leaky.js', '--cycles', '6', '--timeout', '300', '--html', out])
  assert.equal(code, 1, stderr)
  const html = fs.readFileSync(out, 'utf8')
  assert.match(html, /^<!doctype html>/)
  assert.match(html, /<svg[^>]*viewBox/)
  assert.match(html, /<polyline /, 'a line per series')
  assert.match(html, /process-listener\/leaky\.js/)
  assert.match(html, /_events/, 'the chain goes through the listeners of process')
  assert.match(html, /<line class="trend"/, 'the trend line')
  assert.match(html, /<h2>What grows<\/h2>/)
  assert.match(html, /Fix: A listener for &#39;exit&#39; is added to process on each load and never removed/)
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
    [['docter', 'x.js'], /unknown command 'docter': did you mean `doctor`\?/],
    [['--cycles', '3'], /--cycles goes after a command/],
    [['doctor'], /missing <entry>/],
    [['doctor', 'examples/leaks/interval/leaky.js', '--cycles', '0'], /--cycles must be from 1/],
    [['doctor', 'examples/leaks/interval/leaky.js', '--cycles', 'ten'], /--cycles must be a whole number/],
    [['doctor', 'examples/leaks/interval/leaky.js', '--cyles', '5'], /Unknown option '--cyles'/],
    [['doctor', 'examples/leaks/nope.js'], /Cannot find module 'examples\/leaks\/nope\.js'/],
    [['doctor', 'node:fs'], /built-in/],
    [['doctor', 'a.js', 'b.js'], /unexpected argument 'b\.js'/],
    [['doctor', 'examples/leaks/interval/leaky.js', '--html', '/nonexistent-dir/x.html'], /not writable/],
    [['doctor', 'examples/leaks/interval/leaky.js', '--html', 'examples'], /examples: .* is a directory; name a file/],
    [['doctor', 'examples/leaks/interval/leaky.js', '--keep', '('], /--keep \(: not a regular expression/],
    [['doctor', 'examples/leaks/interval/leaky.js', '--require', 'no-such-preload'], /Cannot find module 'no-such-preload'/],
  ]
  const results = await Promise.all(cases.map(([args]) => cli(args)))
  results.forEach(({ code, stdout, stderr }, i) => {
    const [args, message] = cases[i]
    assert.equal(code, 2, `${args.join(' ')} → ${stderr}`)
    assert.match(stderr, message, args.join(' '))
    assert.match(stderr, /uncache-tree (doctor )?--help/, 'points at the help')
    assert.equal(stdout, '')
  })
})

test('--help prints the usage with the exit codes; an entry that throws exits 3', async () => {
  const overview = await cli(['--help'])
  assert.equal(overview.code, 0)
  assert.match(overview.stdout, /^Usage: uncache-tree <command>/)
  assert.match(overview.stdout, /\n  doctor +does memory grow/)
  const help = await cli(['doctor', '--help'])
  assert.equal(help.code, 0)
  assert.match(help.stdout, /^Usage: uncache-tree doctor <entry>/)
  assert.equal((await cli(['help', 'doctor'])).stdout, help.stdout)
  assert.match(help.stdout, /--cycles N/)
  assert.match(help.stdout, /Exit status:/)

  const t = writeTree({ 'broken.js': "throw new Error('plugin is broken')\n" })
  const broken = await cli(['doctor', t.file('broken.js'), '--cycles', '3'])
  assert.equal(broken.code, 3)
  assert.match(broken.stderr, /broken\.js threw on its first load: plugin is broken/)
  assert.equal(broken.stdout, '')
})

test('an entry that calls process.exit() on load, in a later cycle or from a timer: exit 3 with a report, never 0', async () => {
  const t = writeTree({
    'on-load.js': 'process.exit(0)\n',
    'later.js': 'globalThis.loads = (globalThis.loads ?? 0) + 1\nif (globalThis.loads === 3) process.exit(0)\nmodule.exports = {}\n',
    'timer.js': 'setTimeout(() => process.exit(0), 5)\nmodule.exports = {}\n',
  })
  const [onLoad, later, timer] = await Promise.all(
    ['on-load.js', 'later.js', 'timer.js'].map((f) => cli(['doctor', t.file(f), '--cycles', '6', '--quiet'])),
  )
  assert.equal(onLoad.code, 3, onLoad.stderr)
  assert.match(onLoad.stderr, /on-load\.js on its first load: called process\.exit\(0\)\. The doctor runs the entry inside its own process/)
  assert.equal(onLoad.stdout, '')
  assert.equal(later.code, 3, later.stderr)
  assert.match(later.stderr, /later\.js when it was loaded again in cycle 2: called process\.exit\(0\)/)
  assert.equal(later.stdout, '')
  assert.equal(timer.code, 3, timer.stderr)
  assert.match(timer.stderr, /timer\.js while the doctor was running \(after cycle \d\): called process\.exit\(0\)/)
  assert.equal(timer.stdout, '')
})

test('--json: stdout is only the JSON document; the entry\'s console output and warnings go to stderr, once', async () => {
  const t = writeTree({
    'chatty.js':
      "console.log('plugin loaded')\nprocess.stdout.write('raw write\\n')\nprocess.emitWarning('same warning every load')\nmodule.exports = {}\n",
  })
  const { code, stdout, stderr } = await cli(['doctor', t.file('chatty.js'), '--cycles', '6', '--json', '--quiet'])
  assert.equal(code, 0, stderr)
  const result = JSON.parse(stdout)
  assert.equal(result.exitCode, 0)
  assert.equal(stderr.match(/^plugin loaded$/gm)?.length, 7, 'the first load and six reloads, on stderr')
  assert.equal(stderr.match(/^raw write$/gm)?.length, 7)
  assert.deepEqual(result.warnings, [{ message: 'Warning: same warning every load', count: 7 }])
  assert.doesNotMatch(stderr, /same warning every load/, "Node's own printer is set aside during the run")
})

test('an ES module entry exits 2 and says why and what to do', async () => {
  const t = writeTree({
    'plugin.mjs': 'export const x = 1\n',
    'typed/package.json': '{ "type": "module" }\n',
    'typed/plugin.js': 'export const x = 1\n',
  })
  const results = await Promise.all([t.file('plugin.mjs'), t.file('typed/plugin.js')].map((f) => cli(['doctor', f, '--cycles', '3'])))
  for (const { code, stdout, stderr } of results) {
    assert.equal(code, 2, stderr)
    assert.match(stderr, /is an ES module: Node's ESM loader keeps every module it evaluated .* cannot be reloaded/)
    assert.match(stderr, /Point the doctor at CommonJS code/)
    assert.equal(stdout, '')
  }
})

test('an entry that handles its own uncaughtException is not a failure; one that does not is (exit 3)', async () => {
  const t = writeTree({
    'handled.js':
      "if (!globalThis.installed) { globalThis.installed = true; process.on('uncaughtException', () => {}) }\n" +
      "setTimeout(() => { throw new Error('tick failed') }, 1)\nmodule.exports = {}\n",
    'unhandled.js': "setTimeout(() => { throw new Error('tick failed') }, 1)\nmodule.exports = {}\n",
  })
  const [handled, unhandled] = await Promise.all(['handled.js', 'unhandled.js'].map((f) => cli(['doctor', t.file(f), '--cycles', '4', '--json', '--quiet'])))
  assert.equal(handled.code, 0, handled.stderr)
  assert.equal(JSON.parse(handled.stdout).exitCode, 0)
  assert.equal(unhandled.code, 3, unhandled.stderr)
  assert.match(unhandled.stderr, /unhandled\.js threw while the doctor was running \(after cycle \d\): tick failed/)
})

test('--require preloads a module that stays loaded; --keep keeps matching modules across cycles', async () => {
  const t = writeTree({
    'setup.js': 'globalThis.setupLoads = (globalThis.setupLoads ?? 0) + 1\nmodule.exports = {}\n',
    'shared.js': 'globalThis.sharedLoads = (globalThis.sharedLoads ?? 0) + 1\nmodule.exports = {}\n',
    'plugin.js':
      "if (!globalThis.setupLoads) throw new Error('setup.js was not preloaded')\nrequire('./setup.js')\nrequire('./shared.js')\n" +
      "if (globalThis.setupLoads !== 1 || globalThis.sharedLoads !== 1) throw new Error(`reloaded: ${globalThis.setupLoads} ${globalThis.sharedLoads}`)\nmodule.exports = {}\n",
  })
  const { code, stdout, stderr } = await cli(['doctor', 'plugin.js', '--cycles', '4', '--json', '--quiet', '--require', './setup.js', '--keep', 'shared\\.js$'], { cwd: t.dir })
  assert.equal(code, 0, stderr)
  const result = JSON.parse(stdout)
  assert.deepEqual(result.preloaded, [t.file('setup.js')])
  assert.equal(result.modules.perCycle, 1, 'only plugin.js is unloaded each cycle')
})

test('a server that is not closed: EADDRINUSE on the next load exits 3 with the dispose hint', async () => {
  const port = await new Promise((resolve) => {
    const probe = require('node:net').createServer().listen(0, () => {
      const { port } = probe.address()
      probe.close(() => resolve(port))
    })
  })
  const t = writeTree({
    'server.js': "require('node:http').createServer(() => {}).listen(Number(process.env.TEST_PORT))\nmodule.exports = {}\n",
  })
  const { code, stdout, stderr } = await cli(['doctor', t.file('server.js'), '--cycles', '4', '--quiet'], { env: { TEST_PORT: String(port) } })
  assert.equal(code, 3, stderr)
  assert.match(stderr, /EADDRINUSE/)
  assert.match(stderr, /The previous copy still listens on that port: close the server in a hot\(module\)\.dispose\(\) handler/)
  assert.equal(stdout, '')
})

test('a clean plugin with a noisy heap (tens of MB per cycle, a bounded cache) exits 0, run after run', async () => {
  for (let run = 0; run < 3; run++) {
    const { code, stdout, stderr } = await cli(['doctor', 'examples/leaks/noisy-clean/clean.js', '--json', '--quiet'])
    assert.equal(code, 0, stderr)
    const result = JSON.parse(stdout)
    assert.equal(result.growth.growing, false, JSON.stringify(result.growth))
    assert.deepEqual(result.survivors, [])
    assert.deepEqual(result.growing, [], 'nothing named as growing')
  }
})

// Issue 18: the CLI fixes, each a regression test.

test('--json stays one JSON document when the entry writes to file descriptor 1 directly (as pino and sonic-boom do)', async () => {
  const t = writeTree({ 'raw.js': "require('node:fs').writeSync(1, 'raw fd write\\n')\nmodule.exports = {}\n" })
  const { code, stdout, stderr } = await cli(['doctor', t.file('raw.js'), '--cycles', '4', '--json', '--quiet'])
  assert.equal(code, 0, stderr)
  assert.equal(JSON.parse(stdout).exitCode, 0)
  assert.equal(stderr.match(/^raw fd write$/gm)?.length, 5, "the entry's fd-1 writes went to stderr, every load")
})

test('--json prints a JSON document with the error when the entry throws (exit 3)', async () => {
  const t = writeTree({ 'broken.js': "throw new Error('plugin is broken')\n" })
  const { code, stdout, stderr } = await cli(['doctor', t.file('broken.js'), '--cycles', '3', '--json', '--quiet'])
  assert.equal(code, 3, stderr)
  const doc = JSON.parse(stdout)
  assert.equal(doc.exitCode, 3)
  assert.equal(doc.leaked, null)
  assert.equal(doc.error.code, 'ERR_UNCACHE_DOCTOR_LOAD_FAILED')
  assert.match(doc.error.message, /broken\.js threw on its first load: plugin is broken/)
})

test('a relative --html path is resolved before the entry can process.chdir()', async () => {
  // The entry moves on its first load only (a later load would resolve 'elsewhere' from there).
  const t2 = writeTree({ 'out/.keep': '', 'elsewhere/.keep': '', 'wander.js': "if (!globalThis.wandered) { globalThis.wandered = true; process.chdir('elsewhere') }\nmodule.exports = {}\n" })
  const run = await cli(['doctor', 'wander.js', '--cycles', '3', '--quiet', '--html', 'out/report.html'], { cwd: t2.dir })
  assert.equal(run.code, 0, run.stderr)
  assert.ok(fs.existsSync(t2.file('out/report.html')), 'written where the command line meant')
  assert.ok(!fs.existsSync(t2.file('elsewhere/out/report.html')), 'not under the directory the entry moved to')
})

test('--html under /proc or /sys is a usage error before the run', async () => {
  for (const target of ['/proc/self/report.html', '/sys/report.html']) {
    const { code, stdout, stderr } = await cli(['doctor', 'examples/leaks/interval/fixed.js', '--html', target])
    assert.equal(code, 2, stderr)
    assert.match(stderr, /is a virtual file system, not a place for a report/)
    assert.doesNotMatch(stderr, /doctor: loading/, 'nothing ran')
    assert.equal(stdout, '')
  }
})

test('a TypeScript entry without --require suggests --require tsx/cjs (exit 2)', async () => {
  const t = writeTree({ 'src/x.ts': 'enum Color { Red }\nconst x: number = Color.Red\nmodule.exports = { x }\n' })
  const { code, stdout, stderr } = await cli(['doctor', 'src/x.ts', '--cycles', '3', '--quiet'], { cwd: t.dir })
  assert.equal(code, 2, stderr)
  assert.match(stderr, /run the doctor again with a loader that compiles to CommonJS, e\.g\. `--require tsx\/cjs`/)
  assert.equal(stdout, '')
})

test('a missing entry gets command-line wording, not the API\'s', async () => {
  const { code, stderr } = await cli(['doctor', 'examples/leaks/nope.js'])
  assert.equal(code, 2)
  assert.match(stderr, /Cannot find module 'examples\/leaks\/nope\.js' from .*: name a file \(absolute, or relative to the current directory\) or an installed package/)
  assert.doesNotMatch(stderr, /options\.from/)
})

test('node_modules stays loaded across cycles by default; --reload-deps reloads it too', async () => {
  const t = writeTree({
    'node_modules/counter/package.json': '{ "name": "counter", "main": "index.js" }\n',
    'node_modules/counter/index.js': 'globalThis.counterLoads = (globalThis.counterLoads ?? 0) + 1\nmodule.exports = { loads: () => globalThis.counterLoads }\n',
    'plugin.js': "const counter = require('counter')\nprocess.stderr.write(`counter loads: ${counter.loads()}\\n`)\nmodule.exports = {}\n",
  })
  const kept = await cli(['doctor', 'plugin.js', '--cycles', '3', '--json', '--quiet'], { cwd: t.dir })
  assert.equal(kept.code, 0, kept.stderr)
  assert.deepEqual(kept.stderr.match(/^counter loads: \d+$/gm), Array(4).fill('counter loads: 1'))
  assert.equal(JSON.parse(kept.stdout).modules.perCycle, 1, 'only plugin.js is unloaded')
  const reloaded = await cli(['doctor', 'plugin.js', '--cycles', '3', '--json', '--quiet', '--reload-deps'], { cwd: t.dir })
  assert.equal(reloaded.code, 0, reloaded.stderr)
  assert.deepEqual(reloaded.stderr.match(/^counter loads: \d+$/gm), ['counter loads: 1', 'counter loads: 2', 'counter loads: 3', 'counter loads: 4'])
  assert.equal(JSON.parse(reloaded.stdout).reloadDeps, true)
})

test('a MaxListenersExceededWarning is a leak, even on an emitter the doctor cannot see', async () => {
  // The emitter hides in a closure of a kept module: no count reaches it, Node's warning does.
  const t = writeTree({
    'hub.js': "const { EventEmitter } = require('node:events')\nconst hub = new EventEmitter()\nmodule.exports = { subscribe: (fn) => hub.on('job', fn) }\n",
    'plugin.js': "require('./hub.js').subscribe(() => {})\nmodule.exports = {}\n",
  })
  const { code, stdout, stderr } = await cli(['doctor', 'plugin.js', '--cycles', '12', '--json', '--quiet', '--keep', 'hub\\.js$', '--no-retainers'], { cwd: t.dir })
  assert.equal(code, 1, stderr)
  const result = JSON.parse(stdout)
  const leak = result.counts.growing.find((c) => c.key === 'MaxListenersExceededWarning:job')
  assert.ok(leak, JSON.stringify(result.counts.growing))
  assert.match(leak.resource, /^'job' listeners on an EventEmitter \(MaxListenersExceededWarning: 11\)$/)
})

test('a small listener leak on process is exit 1 however few bytes it holds (the 64 KB floor does not hide it)', async () => {
  const t = writeTree({ 'plugin.js': "process.on('SIGUSR2', () => {})\nmodule.exports = {}\n" })
  const { code, stdout, stderr } = await cli(['doctor', 'plugin.js', '--cycles', '6', '--json', '--quiet'], { cwd: t.dir })
  assert.equal(code, 1, stderr)
  const result = JSON.parse(stdout)
  assert.equal(result.growth.growing, false, 'far under the byte floor')
  assert.deepEqual(result.counts.growing.map((c) => [c.key, c.perCycle, c.addedBy]), [['processListeners:SIGUSR2', 1, 'plugin.js:1:9']])
})

test('survivors that share one root cause are one chain with a count, not one chain per module', async () => {
  const files = { 'index.js': "const parts = ['a', 'b', 'c', 'd', 'e'].map((n) => require(`./${n}.js`))\nprocess.on('SIGUSR2', () => parts.length)\nmodule.exports = {}\n" }
  for (const name of ['a', 'b', 'c', 'd', 'e']) files[`${name}.js`] = `module.exports = () => module.id + '${name}'\n`
  const t = writeTree(files)
  const json = await cli(['doctor', 'index.js', '--cycles', '6', '--json', '--quiet'], { cwd: t.dir })
  assert.equal(json.code, 1, json.stderr)
  const result = JSON.parse(json.stdout)
  assert.equal(result.survivors.length, 6)
  assert.deepEqual(result.survivorGroups.map((g) => [g.ids.length, g.generations]), [[6, 36]])
  const text = await cli(['doctor', 'index.js', '--cycles', '6', '--quiet'], { cwd: t.dir })
  assert.match(text.stdout, /^ {2}✗ 6 modules held through one chain \(36 generations\):$/m)
  assert.equal(text.stdout.match(/chain 1 \(/g)?.length, 1, 'the chain is printed once')
})

test('retention inside a package that no dispose handler can reach is called "retained inside <package>"', async () => {
  const t = writeTree({
    'node_modules/cachey/package.json': '{ "name": "cachey", "main": "index.js" }\n',
    'node_modules/cachey/index.js': 'const store = []\nmodule.exports = { remember: (value) => { store.push({ value, at: Date.now() }) } }\n',
    'plugin.js': "require('cachey').remember({ rows: Array.from({ length: 2000 }, (_, i) => ({ i })) })\nmodule.exports = {}\n",
  })
  const { code, stdout, stderr } = await cli(['doctor', 'plugin.js', '--cycles', '9', '--json', '--quiet'], { cwd: t.dir })
  assert.equal(code, 1, stderr)
  const result = JSON.parse(stdout)
  const group = result.growing.find((g) => g.package === 'cachey')
  assert.ok(group, JSON.stringify(result.growing.map((g) => [g.holder, g.package])))
  assert.equal(group.insidePackage, true)
  assert.match(group.fix, /^Retained inside cachey: no dispose handler of yours reaches it/)
})
