'use strict'
// Soak test (issue 2): a tree whose modules each hold a 1 MiB ArrayBuffer is loaded and unloaded
// more than a thousand times in the scenarios of docs/node-internals.md §2 and its Addendum, and
// after forced garbage collection no more than one old generation may be alive (the bounded
// `kLastModuleParent` pin of Node >= 22) and ArrayBuffer memory may not have grown by 2 MB.
//
// The same check runs on plain `delete require.cache[...]` of the tree's keys, which is what most
// code does, and must fail there: that is the proof that the check can fail at all.
//
// Each scenario x strategy runs in its own child process (this file, started again with
// UNCACHE_SOAK_CHILD set). That keeps the measurements apart: a plain-delete run leaves hundreds
// of MB pinned for good, and a process that has already loaded other trees is not the clean
// baseline a leak count needs. The children run side by side, one per CPU.
const path = require('node:path')

const TRACK = Symbol.for('uncache-tree.soak.track')
const MiB = 1024 * 1024
const INDEX = path.join(__dirname, '..', 'index.js')

// Enough cycles to show a leak beyond doubt while keeping the run short; plain delete keeps
// every generation (4 MiB each), so this is ~320 MB per plain run.
const UNCACHE_CYCLES = 1000
const PLAIN_CYCLES = 80
const MAX_ALIVE_OLD_GENERATIONS = 1
const MAX_GROWTH_BYTES = 2 * 1000 * 1000

/**
 * The scenarios. `reloaded` are the tree modules that must come back as a new generation each
 * cycle with uncache-tree; `kept` are modules a live module still requires, which uncache-tree
 * keeps (one evaluation for the whole run, same exports every cycle); `plainKeys` (default:
 * `reloaded`) are the files the plain-delete run deletes from require.cache each cycle.
 */
const SCENARIOS = {
  closed: {
    about: 'host module (stays loaded) requires the tree',
    reloaded: ['a', 'b', 'c', 'shared'],
  },
  crossref: {
    about: "a second live module re-requires shared.js after each load; uncacheTree(a, { shared: 'remove' })",
    reloaded: ['a', 'b', 'c', 'shared'],
    options: { shared: 'remove' },
  },
  'crossref-keep': {
    about: 'as crossref, default options: the second module keeps shared.js (same instance every cycle)',
    reloaded: ['a', 'b', 'c'],
    kept: ['shared'],
    plainKeys: ['a', 'b', 'c', 'shared'],
  },
  creq: {
    about: 'the tree is loaded through one long-lived createRequire() function',
    reloaded: ['a', 'b', 'c', 'shared'],
  },
  keptdep: {
    about: 'a.js also requires lib.js, which the host keeps (lib must keep its identity)',
    reloaded: ['a', 'b', 'c', 'shared'],
    kept: ['lib'],
  },
  'self-reload': {
    about: 'code inside the tree unloads its own tree and requires the next generation',
    reloaded: ['a', 'b', 'c', 'shared'],
  },
}

if (process.env.UNCACHE_SOAK_CHILD) {
  runChild(JSON.parse(process.env.UNCACHE_SOAK_CHILD)).then(
    (result) => process.stdout.write(JSON.stringify(result)),
    (error) => {
      process.stderr.write(`${error && error.stack ? error.stack : error}\n`)
      process.exitCode = 1
    },
  )
} else {
  defineTests()
}

// ---------------------------------------------------------------------------------------------
// Child process: one scenario, one strategy.

/** Source of the fixture files. Every tree module holds 1 MiB of touched memory. */
function fixtureFiles(scenario, mode) {
  const holdBuffer = [
    'const buffer = new ArrayBuffer(1 << 20)',
    // Written to, so the pages are real memory and not a lazily zeroed mapping.
    'new Uint8Array(buffer).fill(0x5a)',
  ].join('\n')
  const track = (name) => `globalThis[Symbol.for('uncache-tree.soak.track')](module, ${JSON.stringify(name)})`
  const files = {}
  const aRequires = ["b: require('./b')", "c: require('./c')"]
  if (scenario === 'keptdep') aRequires.push("lib: require('./lib')")
  let reload = ''
  if (scenario === 'self-reload') {
    reload =
      mode === 'uncache'
        ? // What a plugin handling its own /reload command does with uncache-tree.
          [
            `const { uncacheTree } = require(${JSON.stringify(INDEX)})`,
            'function reload() {',
            '  uncacheTree(module)',
            '  return require(__filename)',
            '}',
          ].join('\n')
        : // The same with plain delete of the tree's keys.
          [
            'function reload() {',
            "  for (const f of ['a', 'b', 'c', 'shared']) delete require.cache[require.resolve('./' + f)]",
            '  return require(__filename)',
            '}',
          ].join('\n')
    aRequires.push('reload')
  }
  files['a.js'] = [
    "'use strict'",
    holdBuffer,
    track('a'),
    reload,
    `module.exports = { name: 'a', buffer, ${aRequires.join(', ')} }`,
    '',
  ].join('\n')
  for (const name of ['b', 'c']) {
    const exportsLine = `module.exports = { name: '${name}', buffer, shared: require('./shared') }`
    files[`${name}.js`] = `'use strict'\n${holdBuffer}\n${track(name)}\n${exportsLine}\n`
  }
  files['shared.js'] = `'use strict'\n${holdBuffer}\n${track('shared')}\nmodule.exports = { name: 'shared', buffer }\n`
  files['lib.js'] = `'use strict'\n${track('lib')}\nmodule.exports = { name: 'lib', loadedAt: Date.now() }\n`
  // The host stays loaded all run long; its `children` is where plain delete leaks. In keptdep it
  // requires lib.js only after a.js did, so lib's first parent is a tree module: the case that
  // leaves the bounded last-parent pin on Node >= 22 (docs/node-internals.md §1a row 3).
  files['host.js'] = [
    "'use strict'",
    'exports.load = () => {',
    "  const a = require('./a')",
    scenario === 'keptdep' ? "  exports.lib = require('./lib')" : '',
    '  return a',
    '}',
    '',
  ].join('\n')
  // crossref: a second live module requires shared.js again after every load (a cache hit, which
  // adds shared to second.children).
  files['second.js'] = "'use strict'\nexports.touch = () => require('./shared')\n"
  return files
}

async function runChild({ scenario, mode, cycles }) {
  const fs = require('node:fs')
  const os = require('node:os')
  const Module = require('node:module')
  const config = SCENARIOS[scenario]
  // uncache-tree is loaded first (its requirer registry must see the createRequire proxy); the
  // plain runs never load it, so they measure Node alone.
  const api = mode === 'uncache' ? require(INDEX) : undefined
  const { settleGc } = require('../lib/proof/gc.js')

  // Every evaluation of a fixture module, held weakly, with the generation it belongs to.
  const evaluations = []
  let generation = 0
  globalThis[TRACK] = (m, name) => evaluations.push({ name, generation, ref: new WeakRef(m) })

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `uncache-soak-${scenario}-`))
  try {
    for (const [name, text] of Object.entries(fixtureFiles(scenario, mode))) fs.writeFileSync(path.join(dir, name), text)
    const file = (name) => path.join(dir, `${name}.js`)
    const host = require(file('host'))
    const second = require(file('second'))
    const creq = Module.createRequire(file('host')) // kept alive for the whole run

    const load = () => (scenario === 'creq' ? creq(file('a')) : host.load())
    const plainKeys = (config.plainKeys || config.reloaded).map(file)
    let plugin
    const reports = []
    const unloadAndLoad = () => {
      if (scenario === 'self-reload') {
        plugin = plugin.reload()
        return
      }
      if (mode === 'uncache') {
        const report = api.uncacheTree(file('a'), config.options)
        if (reports.length < 2) reports.push(report)
      } else {
        for (const key of plainKeys) delete require.cache[key]
      }
      plugin = load()
    }

    const checks = { sharedMatches: true, libIdentity: true }
    let firstShared
    const afterLoad = () => {
      if (scenario.startsWith('crossref')) {
        const seen = second.touch()
        if (seen !== plugin.b.shared || seen !== plugin.c.shared) checks.sharedMatches = false
        // Only where shared.js is kept: holding gen 1's exports elsewhere would be a leak of ours.
        if (scenario === 'crossref-keep' && mode === 'uncache') {
          if (firstShared === undefined) firstShared = seen
          else if (seen !== firstShared) checks.sharedMatches = false
        }
      }
      if (scenario === 'keptdep' && (plugin.lib !== host.lib || plugin.lib !== require(file('lib')))) checks.libIdentity = false
    }

    // A cycle unloads the current generation and loads the next one. The baseline is taken
    // after cycle 1, in the same state as the end (one generation loaded, old ones unloaded), so
    // whatever the first unload leaves pinned for good (the bounded last-parent pin of Node >= 22
    // holds generation 1) is in both measurements and only growth over the cycles counts.
    generation = 1
    plugin = load()
    afterLoad()
    const firstLib = plugin.lib
    const cycle = (i) => {
      generation = i + 1
      unloadAndLoad()
      afterLoad()
      if (plugin.name !== 'a') throw new Error(`cycle ${i}: the reload returned ${plugin && plugin.name}`)
    }
    cycle(1)
    await settleGc()
    const baseline = process.memoryUsage().arrayBuffers

    const started = process.hrtime.bigint()
    for (let i = 2; i <= cycles; i++) {
      cycle(i)
      // Each reload in its own job, as a host reloads on a command or a file event. Within one
      // synchronous job nothing an unload frees can be collected: the report's WeakRefs keep
      // their targets alive until the job ends (ECMA-262 AddToKeptObjects), so a 1,000-cycle loop
      // without a turn of the event loop would peak at ~4 GB before the final collection.
      await new Promise((resolve) => setImmediate(resolve))
    }
    const loopMs = Number(process.hrtime.bigint() - started) / 1e6
    if (scenario === 'keptdep' && plugin.lib !== firstLib) checks.libIdentity = false

    await settleGc(6)
    // On a busy machine the generation unloaded last can take a few more turns to be collected
    // (CI on Node 20, once: one generation, 4 MiB, still alive after six rounds). uncache-tree's
    // runs get up to 2 s more, until the buffers are back to the baseline; plain delete's growth
    // stays whatever the wait, so its runs do not wait. The limits checked are unchanged.
    if (mode !== 'plain') {
      for (const deadline = Date.now() + 2000; process.memoryUsage().arrayBuffers > baseline && Date.now() < deadline; ) await settleGc(1)
    }
    const end = process.memoryUsage().arrayBuffers

    // Plain delete reloads every key it deletes, kept ones included.
    const reloaded = new Set(mode === 'plain' ? config.plainKeys || config.reloaded : config.reloaded)
    const aliveGenerations = new Set()
    let aliveModules = 0
    const aliveByName = {}
    const evaluationsOf = {}
    for (const e of evaluations) {
      evaluationsOf[e.name] = (evaluationsOf[e.name] || 0) + 1
      // Generations 1..cycles are old; generation cycles + 1 is the one loaded now.
      if (!reloaded.has(e.name) || e.generation > cycles) continue
      if (e.ref.deref() !== undefined) {
        aliveModules++
        aliveGenerations.add(e.generation)
        aliveByName[e.name] = (aliveByName[e.name] || 0) + 1
      }
    }
    return {
      scenario,
      mode,
      cycles,
      node: process.version,
      aliveOldGenerations: aliveGenerations.size,
      aliveGenerationList: [...aliveGenerations].sort((x, y) => x - y).slice(0, 5),
      aliveModules,
      aliveByName,
      evaluations: evaluationsOf,
      growthBytes: end - baseline,
      loopMs,
      checks,
      reports: reports.map(({ removed, kept, pinned }) => ({
        removed: removed.map((id) => path.basename(id)),
        kept: kept.map((k) => path.basename(k.id)),
        pinned: pinned.map((p) => `${path.basename(p.id)}:${p.by}`),
      })),
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

// ---------------------------------------------------------------------------------------------
// Test process.

function defineTests() {
  const { test } = require('node:test')
  const assert = require('node:assert/strict')
  const os = require('node:os')
  const { execFile } = require('node:child_process')

  const NODE_MAJOR = Number(process.versions.node.split('.')[0])

  // One child per CPU at a time. Every run is started at once and queued here, so the tests
  // below only wait for their own result.
  const slots = Math.max(1, Math.min(4, (os.availableParallelism ? os.availableParallelism() : os.cpus().length)))
  const queue = []
  let running = 0
  function pump() {
    while (running < slots && queue.length > 0) {
      const job = queue.shift()
      running++
      job().finally(() => {
        running--
        pump()
      })
    }
  }
  function runScenario(scenario, mode, cycles) {
    return new Promise((resolve, reject) => {
      queue.push(
        () =>
          new Promise((done) => {
            const env = { ...process.env, UNCACHE_SOAK_CHILD: JSON.stringify({ scenario, mode, cycles }) }
            delete env.NODE_TEST_CONTEXT // the child is a plain script, not a test file
            execFile(process.execPath, [__filename], { env, maxBuffer: 16 * MiB, timeout: 120_000 }, (error, stdout, stderr) => {
              if (error) reject(new Error(`${scenario}/${mode} child failed: ${error.message}\n${stderr}`))
              else {
                try {
                  resolve(JSON.parse(stdout))
                } catch (parseError) {
                  const message = `${scenario}/${mode}: unreadable child output ${JSON.stringify(stdout)}\n${stderr}`
                  reject(new Error(message, { cause: parseError }))
                }
              }
              done()
            })
          }),
      )
      pump()
    })
  }

  const runs = {}
  for (const scenario of Object.keys(SCENARIOS)) {
    runs[scenario] = {
      uncache: runScenario(scenario, 'uncache', UNCACHE_CYCLES),
      plain: runScenario(scenario, 'plain', PLAIN_CYCLES),
    }
    // A rejected run is reported by its test; do not let it count as unhandled before that.
    runs[scenario].uncache.catch(() => {})
    runs[scenario].plain.catch(() => {})
  }

  /** The pass condition of the soak test, shared by both strategies. */
  const passes = (r) => r.aliveOldGenerations <= MAX_ALIVE_OLD_GENERATIONS && r.growthBytes < MAX_GROWTH_BYTES
  const describe = (r) =>
    `${r.scenario}/${r.mode} on ${r.node}: ${r.cycles} cycles, ${r.aliveOldGenerations} old generations alive ` +
    `(${r.aliveModules} modules ${JSON.stringify(r.aliveByName)}), arrayBuffers ${(r.growthBytes / MiB).toFixed(2)} MiB growth, ` +
    `loop ${Math.round(r.loopMs)} ms`

  for (const [scenario, config] of Object.entries(SCENARIOS)) {
    test(`${scenario} (${config.about}): uncacheTree frees every old generation over ${UNCACHE_CYCLES} cycles`, async (t) => {
      const r = await runs[scenario].uncache
      t.diagnostic(describe(r))
      assert.ok(passes(r), describe(r))
      // Every reloaded module really was evaluated again each cycle, kept ones exactly once.
      for (const name of config.reloaded) assert.equal(r.evaluations[name], UNCACHE_CYCLES + 1, `${name} evaluations`)
      for (const name of config.kept || []) assert.equal(r.evaluations[name], 1, `${name} is kept: evaluated once`)
      assert.ok(r.checks.sharedMatches, 'the second module sees the same shared.js as the tree')
      if (scenario === 'keptdep') assert.ok(r.checks.libIdentity, 'lib.js keeps its identity across all cycles')

      if (scenario !== 'self-reload') {
        const [report] = r.reports
        assert.deepEqual([...report.removed].sort(), config.reloaded.map((n) => `${n}.js`).sort())
        assert.deepEqual(report.kept, (config.kept || []).map((n) => `${n}.js`))
      }
      // What Node may still hold is gen 1's requirer of the kept module: the kept module's private
      // last-parent slot (Node >= 22) points at it, and the pinned module's own slot points at its
      // requirer in turn (crossref-keep: shared.js -> b.js#1 -> a.js#1, seen in a heap snapshot).
      // The first unload's report names them; later unloads pin nothing, so it cannot grow. Node
      // 20's parent setter clears its single slot, and nothing survives there.
      const pinnedByLastParent = NODE_MAJOR < 22 ? [] : { keptdep: ['a'], 'crossref-keep': ['a', 'b'] }[scenario] || []
      if (pinnedByLastParent.length > 0) {
        assert.equal(r.aliveOldGenerations, 1, describe(r))
        assert.deepEqual(r.aliveGenerationList, [1])
        assert.deepEqual(r.aliveByName, Object.fromEntries(pinnedByLastParent.map((n) => [n, 1])), describe(r))
      } else {
        assert.equal(r.aliveOldGenerations, 0, describe(r))
      }
      if (scenario !== 'self-reload') {
        assert.deepEqual([...r.reports[0].pinned].sort(), pinnedByLastParent.map((n) => `${n}.js:last-parent`))
        assert.deepEqual(r.reports[1].pinned, [], 'later unloads pin nothing: the pin does not grow')
      }
    })

    test(`${scenario}: plain delete require.cache fails the same check`, async (t) => {
      const r = await runs[scenario].plain
      t.diagnostic(describe(r))
      assert.ok(!passes(r), `plain delete was expected to leak: ${describe(r)}`)
      // What it leaks, measured on Node 20, 22, 24 and 26: every old generation of the reloaded
      // modules, and with them every buffer (4 MiB a generation).
      assert.equal(r.aliveOldGenerations, PLAIN_CYCLES, describe(r))
      const reloadedByPlain = (config.plainKeys || config.reloaded).length
      assert.equal(r.aliveModules, PLAIN_CYCLES * reloadedByPlain, describe(r))
      assert.ok(r.growthBytes >= (PLAIN_CYCLES - 1) * reloadedByPlain * MiB * 0.98, describe(r))
    })
  }
}
