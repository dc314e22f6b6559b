#!/usr/bin/env node
'use strict'
// `npm run bench:verbs`: issue 16's scale targets, measured in one run.
//
//   node benchmark/verbs.js [--sizes 1000,10000,30000,50000] [--runs 15] [--no-barrel]
//     [--only verbs,calls,whole,first,from-string] [--whole-sizes 10000,30000] [--first-size 30000]
//     [--first-runs 5] [--from-string-sizes 1000,20000] [--single-threaded-gc] [--json out.json]
//
// Sections (all by default; `--only` picks some):
// - verbs: for each size, on the generated app (generate-graph.js) and on the same app whose entry
//   requires a barrel file (withBarrel), in a fresh child process per size and app: medians of
//   uncacheTree(the 50-module plugin) (required again between runs, untimed),
//   invalidate(a plugin leaf) + require(entry), and reload(that leaf); the leaf is the one most
//   plugin files require (deepestPluginLeaf), so the work is alike at every size. Each figure is
//   also given as a ratio to the smallest size's (target: ≤ 2× at every size).
// - calls: the native calls each of those verbs makes, counted in a separate child process
//   (count-native-calls.js, UNCACHE_TREE_COUNT_NATIVE_CALLS=1), so counting never touches the
//   timings (target: ≤ 4 per verb).
// - whole: unloading the whole graph against the plain-JS baseline (baseline-unload.js), the
//   graph put back between samples (graph-state.js), alternating (target: ≤ 2× the baseline).
// - first: the first two uncacheTree() calls of a fresh process with the graph loaded, in
//   `--first-runs` fresh processes each way (target: ≤ 100 ms together): the package loaded before
//   the graph (it records every load, the first unload plans at once) and after it (the first
//   unload reads the whole graph).
// - from-string: uncacheTree() of a module compiled from a string (from-string.js: cached by
//   hand, and by the real require-from-string, which leaves it uncached) (target: the largest
//   size ≤ 2× the smallest).
// Method: gc() before every timed call, and the job ends between samples (setImmediate), as a
// program reloading on save would; medians with p25-p75. `--single-threaded-gc` runs the children
// with that V8 flag: on a 2-core VM the GC helper threads' work after the forced gc() can run
// beside a timed call (benchmark/README.md, "invalidate + require"). Generated graphs are cached under
// benchmark/.fixtures (generate-graph.js), so only the first run writes the 50k-module graph.
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawnSync } = require('node:child_process')
const { parseArgs } = require('node:util')
const { generateGraph, withBarrel, requirePluginAgain, deepestPluginLeaf, PLUGIN_SIZE } = require('./generate-graph.js')
const { summarize, nextJob, fmt } = require('./stats.js')

const VERBS = ['uncacheTree', 'invalidate + require', 'reload']
const COUNTED = { uncacheTree: 'uncacheTree', 'invalidate + require': 'invalidate', reload: 'reload' }
// Timed too, not a verb of its own: the invalidate() of 'invalidate + require' alone. The require
// after it runs the app's own code again (on the barrel app, the entry's importers re-require
// what they import), which grows with the app whatever the package does.
const PARTS = ['invalidate alone']
const TIMED = [...VERBS, ...PARTS]
const SECTIONS = ['verbs', 'calls', 'whole', 'first', 'from-string']
const USAGE =
  'usage: node benchmark/verbs.js [--sizes 1000,10000,30000,50000] [--runs 15] [--no-barrel] ' +
  '[--only verbs,calls,whole,first,from-string] [--whole-sizes 10000,30000] [--first-size 30000] [--first-runs 5] ' +
  '[--from-string-sizes 1000,20000] [--single-threaded-gc] [--json out.json]'

const sizeList = (text, flag) => {
  const sizes = text.split(',').map(Number)
  if (sizes.some((n) => !Number.isInteger(n) || n < 20)) throw new Error(`${flag}: integers >= 20, got ${text}`)
  return sizes
}
const positive = (text, flag) => {
  const n = Number(text)
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag}: a positive integer, got ${text}`)
  return n
}

function options(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      sizes: { type: 'string', default: '1000,10000,30000,50000' },
      runs: { type: 'string', default: '15' },
      'no-barrel': { type: 'boolean', default: false },
      only: { type: 'string', default: SECTIONS.join(',') },
      'whole-sizes': { type: 'string', default: '10000,30000' },
      'first-size': { type: 'string', default: '30000' },
      'first-runs': { type: 'string', default: '5' },
      'from-string-sizes': { type: 'string', default: '1000,20000' },
      'single-threaded-gc': { type: 'boolean', default: false },
      json: { type: 'string' },
      child: { type: 'string' }, // internal: the JSON job of one child process
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  const only = values.only.split(',')
  const unknown = only.filter((s) => !SECTIONS.includes(s))
  if (unknown.length) throw new Error(`--only: unknown section ${unknown.join(', ')} (sections: ${SECTIONS.join(', ')})`)
  return {
    help: values.help,
    child: values.child,
    sizes: sizeList(values.sizes, '--sizes'),
    runs: positive(values.runs, '--runs'),
    apps: values['no-barrel'] ? ['generated'] : ['generated', 'barrel'],
    only: new Set(only),
    wholeSizes: sizeList(values['whole-sizes'], '--whole-sizes'),
    firstSize: sizeList(values['first-size'], '--first-size')[0],
    firstRuns: positive(values['first-runs'], '--first-runs'),
    fromStringSizes: sizeList(values['from-string-sizes'], '--from-string-sizes'),
    singleThreadedGc: values['single-threaded-gc'],
    json: values.json,
  }
}

// ---------------------------------------------------------------------------------------------
// Children: one job each, in a fresh process; the result is the last line of stdout, as JSON.

const gc = () => globalThis.gc()
function timed(fn) {
  gc()
  const started = process.hrtime.bigint()
  const result = fn()
  return [Number(process.hrtime.bigint() - started) / 1e6, result]
}

const loadApp = (n, app) => (app === 'barrel' ? withBarrel(generateGraph(n)) : generateGraph(n))

/** Medians of the three verbs on one app, the package loaded first, as a program using it does. */
async function verbsChild({ n, app, runs }) {
  const api = require('..')
  const graph = loadApp(n, app)
  require(graph.entry)
  const leaf = deepestPluginLeaf(graph)
  const modules = Object.keys(require.cache).length
  // A process's first two unloads are measured by `first`.
  for (let k = 0; k < 2; k++) {
    api.uncacheTree(graph.plugin)
    requirePluginAgain(graph)
  }
  const warmup = 3
  const samples = Object.fromEntries(TIMED.map((v) => [v, []]))
  const removed = {}
  const sample = async (verb, run, putBack) => {
    for (let r = 0; r < warmup + runs; r++) {
      await nextJob()
      const [ms, report] = timed(() => run(r >= warmup))
      if (r >= warmup) samples[verb].push(ms)
      removed[verb] = report.removed.length
      putBack()
    }
  }
  // One verb after the other, not alternating: reload() requires the file again from this file,
  // the main module, which then holds it, and invalidate's importers would include it.
  await sample('uncacheTree', () => api.uncacheTree(graph.plugin), () => requirePluginAgain(graph))
  await sample('invalidate + require', (counted) => {
    // (Not timed(): its gc() would land inside the outer sample's time.)
    const started = process.hrtime.bigint()
    const report = api.invalidate(leaf)
    if (counted) samples['invalidate alone'].push(Number(process.hrtime.bigint() - started) / 1e6)
    require(graph.entry)
    return report
  }, () => {})
  await sample('reload', () => api.reload(leaf).report, () => require(graph.entry))
  if (removed.uncacheTree !== PLUGIN_SIZE) throw new Error(`uncacheTree removed ${removed.uncacheTree} modules, not the ${PLUGIN_SIZE} of the plugin`)
  const stats = Object.fromEntries(TIMED.map((v) => [v, summarize(samples[v])]))
  return { n, app, modules, removed, stats }
}

/** The whole graph unloaded by uncache-tree and by the plain-JS baseline, alternating. */
async function wholeChild({ n, runs }) {
  const { uncacheTree } = require('..')
  const { baselineUnload } = require('./baseline-unload.js')
  const { takeSnapshot, restoreSnapshot } = require('./graph-state.js')
  const graph = generateGraph(n)
  require(graph.entry)
  const snap = takeSnapshot()
  const contenders = { 'uncache-tree': uncacheTree, baseline: baselineUnload }
  const removed = {}
  const samples = { 'uncache-tree': [], baseline: [] }
  for (let r = 0; r < runs + 1; r++) {
    for (const name of r % 2 === 0 ? ['uncache-tree', 'baseline'] : ['baseline', 'uncache-tree']) {
      restoreSnapshot(snap)
      await nextJob()
      const [ms, report] = timed(() => contenders[name](graph.entry))
      if (r > 0) samples[name].push(ms)
      removed[name] = report.removed.slice().sort()
    }
  }
  restoreSnapshot(snap)
  if (removed['uncache-tree'].join('\n') !== removed.baseline.join('\n')) {
    throw new Error(`uncache-tree removed ${removed['uncache-tree'].length} keys, the baseline ${removed.baseline.length}: not the same`)
  }
  return { n, removed: removed.baseline.length, stats: { 'uncache-tree': summarize(samples['uncache-tree']), baseline: summarize(samples.baseline) } }
}

/** The first two plugin unloads of this fresh process; `late`: the package loaded after the graph. */
function firstChild({ n, late }) {
  const graph = generateGraph(n)
  let api = late ? undefined : require('..')
  require(graph.entry)
  api ??= require('..')
  const times = []
  for (let k = 0; k < 2; k++) {
    const [ms, report] = timed(() => api.uncacheTree(graph.plugin))
    if (report.removed.length !== PLUGIN_SIZE) throw new Error(`unload ${k + 1} removed ${report.removed.length} modules`)
    times.push(ms)
    requirePluginAgain(graph)
  }
  return { n, times }
}

const CHILDREN = { verbs: verbsChild, whole: wholeChild, first: firstChild }

// The children's V8 flags (see the file comment); main() adds --single-threaded-gc when asked.
const childFlags = ['--expose-gc']

function spawnChild(job, env = {}) {
  const run = spawnSync(process.execPath, [...childFlags, __filename, '--child', JSON.stringify(job)], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    maxBuffer: 1 << 26,
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  if (run.status !== 0) throw new Error(`the child for ${JSON.stringify(job)} failed (exit ${run.status}${run.signal ? `, ${run.signal}` : ''})`)
  return JSON.parse(run.stdout.trim().split('\n').at(-1))
}

/** The native calls of the three verbs, the most either of two calls made (count-native-calls.js). */
function countCalls(n, app) {
  const args = [path.join(__dirname, 'count-native-calls.js'), String(n), '--only', 'uncacheTree,invalidate,reload', ...(app === 'barrel' ? ['--barrel'] : [])]
  const run = spawnSync(process.execPath, args, {
    encoding: 'utf8',
    env: { ...process.env, UNCACHE_TREE_COUNT_NATIVE_CALLS: '1' },
    maxBuffer: 1 << 26,
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  if (run.status !== 0) throw new Error(`the counting child for ${n} (${app}) failed (exit ${run.status})`)
  const { results } = JSON.parse(run.stdout)
  return Object.fromEntries(
    Object.entries(results).map(([verb, runs]) => {
      const worst = runs.reduce((a, b) => (b.total > a.total ? b : a))
      return [verb, { total: worst.total, calls: worst.calls }]
    }),
  )
}

// ---------------------------------------------------------------------------------------------
// The parent: the jobs, then the tables.

const ratio = (x, base) => `${(x / base).toFixed(2)}×`
const cell = (s) => `${fmt(s.median)} (${fmt(s.p25)}–${fmt(s.p75)})`
const count = (n) => n.toLocaleString('en-US')

function verbsSection(opts, log, out) {
  const doCalls = opts.only.has('calls')
  const doTimes = opts.only.has('verbs')
  for (const app of opts.apps) {
    const title = app === 'barrel' ? 'the app whose entry requires a barrel file' : 'the generated app'
    const rows = []
    for (const n of opts.sizes) {
      generateGraph(n) // written once, before any child times anything
      const started = Date.now()
      const row = doTimes ? spawnChild({ job: 'verbs', n, app, runs: opts.runs }) : { n, app }
      if (doCalls) row.calls = countCalls(n, app)
      row.seconds = (Date.now() - started) / 1000
      rows.push(row)
      log(`  ${title}, ${count(n)} modules: done in ${row.seconds.toFixed(0)} s`)
    }
    out.verbs[app] = rows
    log()
    log(`### Verbs on ${title} (Node ${process.version}): median ms (p25–p75), × the ${count(rows[0].n)} figure; native calls`)
    log()
    const head = ['modules']
    if (doTimes) for (const v of TIMED) head.push(v, '×')
    if (doTimes) head.push('removed')
    if (doCalls) head.push(`native calls (${VERBS.map((v) => COUNTED[v]).join(' / ')})`)
    log(`| ${head.join(' | ')} |`)
    log(`|${head.map(() => '---:').join('|')}|`)
    for (const row of rows) {
      const cells = [count(row.modules ?? row.n)]
      if (doTimes) for (const v of TIMED) cells.push(cell(row.stats[v]), ratio(row.stats[v].median, rows[0].stats[v].median))
      if (doTimes) cells.push(VERBS.map((v) => row.removed[v]).join(' / '))
      if (doCalls) cells.push(VERBS.map((v) => row.calls[COUNTED[v]].total).join(' / '))
      log(`| ${cells.join(' | ')} |`)
    }
    if (doTimes) log('removed: modules each call of uncacheTree / invalidate / reload removed (the plugin differs a little between sizes: see deepestPluginLeaf in generate-graph.js)')
    if (doCalls) {
      const last = rows.at(-1)
      for (const v of VERBS) log(`native calls of ${COUNTED[v]} at ${count(last.n)}, by name: ${JSON.stringify(last.calls[COUNTED[v]].calls)}`)
    }
  }
}

function wholeSection(opts, log, out) {
  const rows = opts.wholeSizes.map((n) => spawnChild({ job: 'whole', n, runs: opts.runs }))
  out.whole = rows
  log()
  log(`### Whole-graph unload against the plain-JS baseline (Node ${process.version}): median ms (p25–p75), target ≤ 2×`)
  log()
  log('| modules | removed | uncache-tree | baseline | × baseline |')
  log('|---:|---:|---:|---:|---:|')
  for (const r of rows) {
    log(`| ${count(r.n)} | ${count(r.removed)} | ${cell(r.stats['uncache-tree'])} | ${cell(r.stats.baseline)} | ${ratio(r.stats['uncache-tree'].median, r.stats.baseline.median)} |`)
  }
}

function firstSection(opts, log, out) {
  // The two ways alternate, so machine noise hits both.
  const ways = { 'loaded first': [], 'loaded after the graph': [] }
  for (let k = 0; k < opts.firstRuns; k++) {
    ways['loaded first'].push(spawnChild({ job: 'first', n: opts.firstSize, late: false }))
    ways['loaded after the graph'].push(spawnChild({ job: 'first', n: opts.firstSize, late: true }))
  }
  out.first = { n: opts.firstSize, ways }
  log()
  log(`### The first two plugin unloads of a fresh process with ${count(opts.firstSize)} modules, ${opts.firstRuns} processes each way (Node ${process.version}): median ms (p25–p75), target ≤ 100 ms together`)
  log()
  log('| package | 1st unload | 2nd unload | together | each process (1st + 2nd) |')
  log('|---|---:|---:|---:|---|')
  for (const [way, runs] of Object.entries(ways)) {
    const stat = (k) => summarize(runs.map((r) => (k === 'sum' ? r.times[0] + r.times[1] : r.times[k])))
    log(`| ${way} | ${cell(stat(0))} | ${cell(stat(1))} | ${cell(stat('sum'))} | ${runs.map((r) => `${fmt(r.times[0])} + ${fmt(r.times[1])}`).join(', ')} |`)
  }
}

function fromStringSection(opts, log, out) {
  const { measureFromString, WAYS } = require('./from-string.js')
  const rows = []
  for (const way of Object.keys(WAYS)) {
    for (const n of opts.fromStringSizes) rows.push({ n, way, stats: summarize(measureFromString(generateGraph(n), 2 * opts.runs, way)) })
  }
  out.fromString = rows
  log()
  log(`### uncacheTree() of a module compiled from a string (from-string.js, Node ${process.version}): median ms (p25–p75), target ≤ 2× the smallest size`)
  log()
  log('| modules | compiled | uncacheTree | × smallest |')
  log('|---:|---|---:|---:|')
  for (const r of rows) {
    const first = rows.find((x) => x.way === r.way)
    log(`| ${count(r.n)} | ${r.way} | ${cell(r.stats)} | ${ratio(r.stats.median, first.stats.median)} |`)
  }
}

async function main() {
  const opts = options(process.argv.slice(2))
  if (opts.help) return console.log(USAGE)
  if (opts.child !== undefined) {
    if (typeof globalThis.gc !== 'function') throw new Error('a child runs with node --expose-gc')
    const job = JSON.parse(opts.child)
    process.stdout.write(`${JSON.stringify(await CHILDREN[job.job](job))}\n`)
    return
  }
  if (opts.singleThreadedGc) childFlags.push('--single-threaded-gc')
  const log = (line = '') => console.log(line)
  const cpus = os.cpus()
  log(`uncache-tree verbs at scale (issue 16), Node ${process.version}; ${cpus[0]?.model?.trim() ?? 'unknown CPU'}, ${cpus.length} logical CPUs, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB; load average at start ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`)
  log(`sections: ${[...opts.only].join(', ')}; sizes ${opts.sizes.join(', ')}; ${opts.runs} samples per figure; gc() before every timed call; children run with ${childFlags.join(' ')}`)
  const started = Date.now()
  const out = { node: process.version, date: new Date().toISOString(), verbs: {} }
  if (opts.only.has('verbs') || opts.only.has('calls')) verbsSection(opts, log, out)
  if (opts.only.has('whole')) wholeSection(opts, log, out)
  if (opts.only.has('first')) firstSection(opts, log, out)
  if (opts.only.has('from-string')) fromStringSection(opts, log, out)
  log()
  log(`total ${((Date.now() - started) / 1000).toFixed(0)} s`)
  if (opts.json) fs.writeFileSync(opts.json, `${JSON.stringify(out, null, 1)}\n`)
}

main().catch((error) => {
  const usage = error.code?.startsWith('ERR_PARSE_ARGS') || /^--/.test(error.message)
  console.error(usage ? `${error.message}\n${USAGE}` : error)
  process.exitCode = usage ? 2 : 1
})
