#!/usr/bin/env node
'use strict'
// What a test isolation costs per test: snapshot(), the test loads 20 modules, restore(), with
// 10k and 30k modules loaded beforehand, for uncache-tree (which records what is loaded since
// and never scans the caches) and for a full-scan restore that finds the same things by scanning.
//
//   node --expose-gc benchmark/restore.js [--sizes 10000,30000] [--runs N] [--json out.json]
//
// Each size runs in its own child process (a clean cache): generate-graph.js's seeded graph of
// n modules is required through its index.js, then every sample takes a snapshot, requires a
// 20-module "test" tree (several of whose modules also require shared modules of the big graph)
// from a module loaded before, and restores. Contenders are interleaved with the order rotated
// each sample; gc() before every timed call; medians with p25-p75; the ratio is full scan /
// uncache-tree. Before timing, one untimed round checks that both removed the same modules and
// the same Module._pathCache entries, and left the same cache behind.
//
// The full scan is written to be as fast as a scan gets, not as a strawman: snapshot() copies
// the key -> module pairs; restore() diffs the keys, reads each cached module's `children` once
// to find the holders of new modules, and then runs the very same plan and engine as
// uncache-tree (including Module._pathCache, which the engine's default path scans).
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawnSync } = require('node:child_process')

const DEFAULT_SIZES = [10000, 30000]
const INSIDE = 20

function parseArgs(argv) {
  const opts = { sizes: DEFAULT_SIZES, runs: 41, json: undefined, child: undefined }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`)
      return argv[++i]
    }
    if (a === '--sizes') opts.sizes = value().split(',').map(Number)
    else if (a === '--runs') opts.runs = Number(value())
    else if (a === '--json') opts.json = value()
    else if (a === '--child') opts.child = Number(value())
    else if (a === '--help' || a === '-h') {
      console.log('usage: node --expose-gc benchmark/restore.js [--sizes 10000,30000] [--runs N] [--json out.json]')
      process.exit(0)
    } else throw new Error(`unknown argument ${a}`)
  }
  if (opts.sizes.some((n) => !Number.isInteger(n) || n < 20)) throw new Error('--sizes: integers >= 20')
  if (!(Number.isInteger(opts.runs) && opts.runs > 0)) throw new Error('--runs: a positive integer')
  return opts
}

const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]
function stats(samples) {
  const sorted = samples.slice().sort((a, b) => a - b)
  return { median: quantile(sorted, 0.5), p25: quantile(sorted, 0.25), p75: quantile(sorted, 0.75) }
}

// ---------------------------------------------------------------------------------------------
// The child: one size, both contenders.

/** The 20-module tree a test loads, and suite.js, the test file that loads it (loaded before). */
function writeInsideTree(shared) {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'uncache-tree-restore-bench-')))
  const files = {}
  for (let i = 0; i < INSIDE; i++) {
    const lines = ["'use strict'"]
    for (const k of [2 * i + 1, 2 * i + 2]) if (k < INSIDE) lines.push(`require('./t${k}.js')`)
    // Every fourth module also uses a shared helper of the big graph (loaded before).
    if (i % 4 === 0) lines.push(`require(${JSON.stringify(shared[i % shared.length])})`)
    lines.push(`module.exports = { id: ${i}, state: [] }`, '')
    files[`t${i}.js`] = lines.join('\n')
  }
  files['suite.js'] = "exports.runTest = () => require('./t0.js')\n"
  for (const [name, source] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), source)
  return dir
}

function child(n, runs) {
  const gc = globalThis.gc
  if (typeof gc !== 'function') throw new Error('run with node --expose-gc')
  const Module = require('node:module')
  const { generateGraph } = require('./generate-graph.js')
  const { openSnapshot } = require('../lib/isolation/snapshot.js')
  const flatten = require('../lib/graph/flatten.js')
  const { isModuleLike } = require('../lib/graph/state.js')
  const { outsideRequirers } = require('../lib/graph/outside-requirers.js')
  const { executePlan, classifyBoundaries, planRestore } = require('../lib/graph/engine.js')
  const cache = require.cache

  const graph = generateGraph(n)
  require(graph.entry)
  const dir = writeInsideTree(graph.shared)
  const suite = require(path.join(dir, 'suite.js'))
  const loadedBefore = Object.keys(cache).length
  const pathCacheEntries = Object.keys(Module._pathCache).length

  function fullScanSnapshot() {
    const before = new Map()
    for (const key of Object.keys(cache)) before.set(key, cache[key])
    return {
      restore() {
        const keys = Object.keys(cache)
        const loaded = []
        for (const key of keys) if (before.get(key) !== cache[key]) loaded.push([key, cache[key]])
        const since = new Set(loaded.map(([, m]) => m))
        const requirers = []
        const seen = new Set()
        const consider = (m) => {
          if (seen.has(m) || since.has(m) || !isModuleLike(m)) return
          seen.add(m)
          if (m.children.some((c) => since.has(c))) requirers.push([m, 0])
        }
        for (const key of keys) consider(cache[key])
        for (const m of outsideRequirers()) consider(m)
        const g = flatten.flattenSince(cache, loaded, requirers)
        g.ids = flatten.nodeIds(g)
        g.reasons = classifyBoundaries(g)
        return executePlan(cache, g, planRestore(g), { dryRun: false })
      },
      stop() {},
    }
  }
  const contenders = {
    'uncache-tree': () => {
      const { snapshot, stop } = openSnapshot() // what isolate() and isolateEach() do
      return { restore: () => snapshot.restore(), stop }
    },
    'full scan': fullScanSnapshot,
  }
  const names = Object.keys(contenders)

  function sample(name) {
    gc()
    const t0 = process.hrtime.bigint()
    const snap = contenders[name]()
    const t1 = process.hrtime.bigint()
    suite.runTest()
    gc()
    const t2 = process.hrtime.bigint()
    const report = snap.restore()
    const t3 = process.hrtime.bigint()
    snap.stop()
    return { snapshot: Number(t1 - t0) / 1e6, restore: Number(t3 - t2) / 1e6, report }
  }

  // Untimed check: same removals, same _pathCache entries, same cache left behind.
  const checks = {}
  for (const name of names) {
    const { report } = sample(name)
    checks[name] = {
      removed: report.removed.slice().sort(),
      pathCacheEntries: report.pathCacheEntries,
      cacheSize: Object.keys(cache).length,
    }
  }
  const [a, b] = names.map((name) => JSON.stringify(checks[name]))
  if (a !== b) throw new Error(`contenders disagree:\n${a}\n${b}`)
  if (checks[names[0]].removed.length !== INSIDE) throw new Error(`expected ${INSIDE} removed modules`)
  if (checks[names[0]].cacheSize !== loadedBefore) throw new Error('the cache did not return to its size')

  for (let w = 0; w < 3; w++) for (const name of names) sample(name)
  const samples = Object.fromEntries(names.map((name) => [name, { snapshot: [], restore: [], total: [] }]))
  for (let r = 0; r < runs; r++) {
    const order = r % 2 === 0 ? names : names.slice().reverse()
    for (const name of order) {
      const s = sample(name)
      samples[name].snapshot.push(s.snapshot)
      samples[name].restore.push(s.restore)
      samples[name].total.push(s.snapshot + s.restore)
    }
  }

  // What the plan of this restore costs (one N-API call into src/restore.rs).
  const since = openSnapshot()
  suite.runTest()
  const sinceGraph = flatten.flattenSince(
    cache,
    since.snapshot.loadedSince().map((key) => [key, cache[key]]),
    [[require.cache[path.join(dir, 'suite.js')], 0]],
  )
  sinceGraph.ids = flatten.nodeIds(sinceGraph)
  sinceGraph.reasons = classifyBoundaries(sinceGraph)
  const reps = 20000
  const time = (fn) => {
    for (let i = 0; i < 2000; i++) fn()
    const t0 = process.hrtime.bigint()
    for (let i = 0; i < reps; i++) fn()
    return Number(process.hrtime.bigint() - t0) / reps / 1000
  }
  const planMicros = time(() => planRestore(sinceGraph))
  since.snapshot.restore()
  since.stop()
  fs.rmSync(dir, { recursive: true, force: true })

  return {
    n,
    loadedBefore,
    pathCacheEntries,
    removed: INSIDE,
    pathCacheRemoved: checks[names[0]].pathCacheEntries,
    runs,
    results: Object.fromEntries(
      names.map((name) => [
        name,
        {
          snapshot: stats(samples[name].snapshot),
          restore: stats(samples[name].restore),
          total: stats(samples[name].total),
        },
      ]),
    ),
    planMicros,
    graphNodes: sinceGraph.nodes.length,
  }
}

// ---------------------------------------------------------------------------------------------
// The parent: one child per size, then the table.

const ms = (x) => (x >= 1 ? x.toFixed(2) : x >= 0.01 ? x.toFixed(3) : x.toFixed(4))
const cell = (s) => `${ms(s.median)} (${ms(s.p25)}-${ms(s.p75)})`

function main() {
  const opts = parseArgs(process.argv.slice(2))
  if (opts.child !== undefined) {
    process.stdout.write(JSON.stringify(child(opts.child, opts.runs)))
    return
  }
  const cpus = os.cpus()
  console.log('uncache-tree: snapshot() + a test that loads 20 modules + restore(), against a full-scan restore')
  console.log(
    `machine: ${cpus[0]?.model?.trim() ?? 'unknown CPU'} (${cpus.length} logical CPUs), ` +
      `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, ${os.platform()} ${os.arch()}; Node ${process.version}; ` +
      `load average at start ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`,
  )
  console.log(`${opts.runs} samples per cell, contenders interleaved (order rotated each sample), gc() before each timed call`)
  console.log('times: median ms (p25-p75)\n')
  const rows = []
  for (const n of opts.sizes) {
    const result = spawnSync(process.execPath, ['--expose-gc', __filename, '--child', String(n), '--runs', String(opts.runs)], {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    if (result.status !== 0) {
      throw new Error(`the child for ${n} modules failed (exit ${result.status}${result.signal ? `, ${result.signal}` : ''})`)
    }
    rows.push(JSON.parse(result.stdout))
  }
  console.log('| modules loaded before | _pathCache entries | contender | snapshot() | restore() | snapshot + restore | full scan / uncache-tree (restore, total) |')
  console.log('|---:|---:|---|---:|---:|---:|---:|')
  for (const row of rows) {
    const ours = row.results['uncache-tree']
    const scan = row.results['full scan']
    const ratio = (key) => `${(scan[key].median / ours[key].median).toFixed(0)}x`
    const n = row.loadedBefore.toLocaleString('en-US')
    const p = row.pathCacheEntries.toLocaleString('en-US')
    console.log(`| ${n} | ${p} | uncache-tree | ${cell(ours.snapshot)} | ${cell(ours.restore)} | ${cell(ours.total)} | 1 |`)
    console.log(`| ${n} | ${p} | full scan | ${cell(scan.snapshot)} | ${cell(scan.restore)} | ${cell(scan.total)} | ${ratio('restore')}, ${ratio('total')} |`)
  }
  console.log('')
  for (const row of rows) {
    console.log(
      `${row.loadedBefore} before: each restore removed ${row.removed} modules and ${row.pathCacheRemoved} _pathCache entries ` +
        `(both contenders, checked); plan of the ${row.graphNodes}-node restore graph ` +
        `(one N-API call, src/restore.rs) ${row.planMicros.toFixed(2)} µs`,
    )
  }
  if (opts.json) fs.writeFileSync(opts.json, `${JSON.stringify({ node: process.version, rows }, null, 1)}\n`)
}

main()
