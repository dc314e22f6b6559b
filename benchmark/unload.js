#!/usr/bin/env node
'use strict'
// `npm run bench`: how long unloading takes, in the real require.cache, for uncache-tree and
// the alternatives people use.
//
//   node --expose-gc benchmark/unload.js [--sizes 1000,10000,30000] [--runs N] [--json out.json]
//
// For each size a generated module graph (generate-graph.js: a seeded random DAG with shared
// dependencies, plus a 50-module plugin) is required through its index.js. Two scenarios:
//   (a) plugin: unload plugin/index.js and its private tree; the main-graph modules it uses
//       must stay (reference counting);
//   (b) whole graph: unload index.js and everything below it.
// Method: every contender runs in this one process, interleaved round-robin
// with the order rotated each sample; gc() before every timed call; medians with p25-p75; the
// ratio is to the plain-JS baseline (baseline-unload.js, the same algorithm as uncache-tree).
//
// Each sample requires the graph afresh. Between the measurements of a sample the graph is put
// back exactly as it was right after that require (the same Module objects under the same
// keys, the same `children`, `parent` and Module._pathCache), so every contender starts from
// an identical state, and re-requiring 30k files (about 2 s) is not repeated 10 times a sample.
// Before timing, one untimed round checks what each contender really did, and prints it.
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const Module = require('node:module')
const { generateGraph } = require('./generate-graph.js')
const { baselineUnload } = require('./baseline-unload.js')
const { dropGraph, takeSnapshot, restoreSnapshot } = require('./graph-state.js')
const { summarize, nextJob, fmt } = require('./stats.js')

const cache = require.cache
const BASELINE = 'baseline (plain JS)'
const SCENARIOS = [
  { key: 'plugin', title: '(a) unload a 50-module plugin subtree', target: (g) => g.plugin },
  { key: 'whole', title: '(b) unload the whole graph', target: (g) => g.entry },
]

const USAGE = 'usage: node --expose-gc benchmark/unload.js [--sizes 1000,10000,30000] [--runs N] [--json out.json]'

const usageError = (message) => Object.assign(new Error(message), { usage: true })

function parseArgs(argv) {
  const opts = { sizes: [1000, 10000, 30000], runs: undefined, json: undefined }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const value = () => {
      if (i + 1 >= argv.length) throw usageError(`${a} needs a value`)
      return argv[++i]
    }
    if (a === '--sizes') opts.sizes = value().split(',').map(Number)
    else if (a === '--runs') opts.runs = Number(value())
    else if (a === '--json') opts.json = value()
    else if (a === '--help' || a === '-h') {
      console.log(USAGE)
      process.exit(0)
    } else throw usageError(`unknown argument ${a}`)
  }
  if (opts.sizes.some((n) => !Number.isInteger(n) || n < 20)) throw usageError('--sizes: integers >= 20')
  if (opts.runs !== undefined && !(Number.isInteger(opts.runs) && opts.runs > 0)) throw usageError('--runs: a positive integer')
  return opts
}

/**
 * Timed samples per size. On the 2-core CI VM the default run takes 2.5-3 minutes, most of it
 * re-requiring the graph (about 2 s per sample at 30k modules).
 */
const defaultRuns = (n) => (n <= 2000 ? 41 : n <= 12000 ? 21 : 11)
const warmupRounds = (n) => (n <= 2000 ? 5 : 1)

// ---------------------------------------------------------------------------------------------
// Contenders. Each takes the absolute filename of the subtree's root.

/** What people write by hand: walk `children`, delete every key met. No reference counting, no cuts. */
function plainDelete(file) {
  const root = cache[file]
  if (root === undefined) return
  const seen = new Set([root])
  const stack = [root]
  while (stack.length > 0) {
    const m = stack.pop()
    delete cache[m.id]
    for (const child of m.children) {
      if (!seen.has(child)) {
        seen.add(child)
        stack.push(child)
      }
    }
  }
}

function loadContenders() {
  const list = []
  const unavailable = []
  try {
    const { uncacheTree } = require('..')
    if (typeof uncacheTree !== 'function') throw new Error('index.js does not export uncacheTree')
    list.push({ name: 'uncache-tree', unload: (file) => uncacheTree(file) })
    // The same engine finding holders by reading every cached module, as every version before
    // the live graph index did (ISSUES #9 asks for the two side by side).
    const { unloadTrees } = require('../lib/graph/engine.js')
    const { install } = require('../lib/loader/patches.js')
    const options = { shared: 'keep', dryRun: false }
    list.push({ name: 'uncache-tree, full scan', unload: (file) => (install(), unloadTrees(cache, [file], options, true)) })
  } catch (error) {
    unavailable.push(`uncache-tree (${error.message.split('\n')[0]})`)
  }
  list.push({ name: BASELINE, unload: baselineUnload })
  for (const [name, load] of [
    ['decache', () => require('decache')],
    ['clear-module', () => require('clear-module')],
  ]) {
    try {
      const fn = load()
      list.push({ name, unload: (file) => fn(file) })
    } catch (error) {
      unavailable.push(`${name} (${error.code || error.message}; run npm install)`)
    }
  }
  list.push({ name: 'plain delete', unload: plainDelete })
  return { list, unavailable }
}

// ---------------------------------------------------------------------------------------------
// Checking what a contender did (untimed), against the snapshot taken before it ran.

function inspect(snap, graph) {
  const prefix = graph.dir + path.sep
  const before = new Map()
  for (let i = 0; i < snap.keys.length; i++) if (snap.keys[i].startsWith(prefix)) before.set(snap.keys[i], snap.values[i])
  const removed = []
  for (const [key, m] of before) if (cache[key] !== m) removed.push(key)
  const removedSet = new Set(removed)
  const removedObjects = new Set(removed.map((k) => before.get(k)))
  // The plugin's main-graph dependencies that stayed, and how many live modules hold them: what
  // uncache-tree's report.kept lists, each with every holder in `heldBy`.
  const keptDeps = new Set(graph.pluginMainDeps.filter((f) => cache[f] !== undefined && cache[f] === before.get(f)).map((f) => cache[f]))
  let staleEdges = 0
  let staleParents = 0
  let keptDepHolders = 0
  for (const m of new Set(Object.values(cache))) {
    if (!m || !Array.isArray(m.children)) continue
    for (const c of m.children) if (removedObjects.has(c)) staleEdges++
    if (removedObjects.has(m.parent)) staleParents++
    for (const c of new Set(m.children)) if (keptDeps.has(c)) keptDepHolders++
  }
  let stalePaths = 0
  for (const key in Module._pathCache) if (removedSet.has(Module._pathCache[key])) stalePaths++
  const pluginFiles = new Set(graph.pluginFiles)
  return {
    removed: removed.sort(),
    removedCount: removed.length,
    graphModules: before.size,
    pluginRemoved: removed.filter((k) => pluginFiles.has(k)).length,
    otherRemoved: removed.filter((k) => !pluginFiles.has(k)).length,
    mainDepsKept: keptDeps.size,
    keptDepHolders,
    staleEdges,
    staleParents,
    stalePaths,
  }
}

function describe(scenario, r, graph) {
  const what =
    scenario === 'plugin'
      ? `removed ${r.pluginRemoved}/${graph.pluginFiles.length} plugin modules and ${r.otherRemoved} main-graph modules; ` +
        `kept ${r.mainDepsKept}/${graph.pluginMainDeps.length} main-graph modules the plugin uses (${r.keptDepHolders} live holders)`
      : `removed ${r.removedCount}/${r.graphModules} modules (${r.graphModules - r.removedCount} left in require.cache)`
  return `${what}; left behind: ${r.staleEdges} children edges, ${r.staleParents} parent pointers, ${r.stalePaths} _pathCache entries to removed modules`
}

/** One untimed round: run each contender once per scenario, print and check what it did. */
function verify(contenders, snap, graph, log) {
  const results = {}
  let ok = true
  for (const sc of SCENARIOS) {
    log(`  ${sc.title}:`)
    results[sc.key] = {}
    for (const c of contenders) {
      restoreSnapshot(snap)
      let r
      try {
        const out = c.unload(sc.target(graph))
        r = inspect(snap, graph)
        if (out && Array.isArray(out.removed)) {
          const said = [...out.removed].sort()
          if (said.join('\n') !== r.removed.join('\n')) {
            ok = false
            log(`    CHECK FAILED: ${c.name} reported ${said.length} removed keys but removed ${r.removedCount}`)
          }
        }
        log(`    ${c.name.padEnd(20)} ${describe(sc.key, r, graph)}`)
      } catch (error) {
        ok = false
        r = { error: String(error && error.stack) }
        log(`    CHECK FAILED: ${c.name} threw: ${error && error.message}`)
        c.broken = true
      }
      results[sc.key][c.name] = r
    }
    const ours = results[sc.key]['uncache-tree']
    const base = results[sc.key][BASELINE]
    if (base.removed) {
      const expectOnlyPlugin = sc.key === 'plugin'
      if (expectOnlyPlugin && (base.pluginRemoved !== graph.pluginFiles.length || base.otherRemoved !== 0)) {
        ok = false
        log('    CHECK FAILED: the baseline did not remove exactly the plugin')
      }
      if (!expectOnlyPlugin && base.removedCount !== base.graphModules) {
        ok = false
        log('    CHECK FAILED: the baseline did not remove the whole graph')
      }
    }
    if (ours && ours.removed && base.removed) {
      const same = ours.removed.join('\n') === base.removed.join('\n')
      if (!same) ok = false
      log(`    ${same ? 'check' : 'CHECK FAILED'}: uncache-tree and the baseline removed ${same ? 'the same' : 'different'} key sets (${ours.removedCount} vs ${base.removedCount})`)
    }
  }
  restoreSnapshot(snap)
  // Only the key lists are needed for the JSON file's summary; drop them to keep it small.
  for (const sc of Object.values(results)) for (const r of Object.values(sc)) delete r.removed
  return { ok, results }
}

// ---------------------------------------------------------------------------------------------
// Statistics and output.

function table(rows) {
  const lines = ['| modules | contender | median ms | p25–p75 ms | × baseline |', '|---:|---|---:|---:|---:|']
  for (const r of rows) {
    const ratio = r.ratio === undefined ? '—' : `${r.ratio.toFixed(2)}×`
    lines.push(`| ${r.n.toLocaleString('en-US')} | ${r.name} | ${fmt(r.median)} | ${fmt(r.p25)}–${fmt(r.p75)} | ${ratio} |`)
  }
  return lines.join('\n')
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const opts = parseArgs(process.argv.slice(2))
  const log = (line = '') => console.log(line)
  const gc = typeof globalThis.gc === 'function' ? globalThis.gc : () => {}
  const { list: contenders, unavailable } = loadContenders()
  const cpu = os.cpus()
  const meta = {
    cpu: cpu[0]?.model ?? 'unknown',
    cores: cpu.length,
    memory: `${Math.round(os.totalmem() / 2 ** 30)} GiB`,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    v8: process.versions.v8,
    date: new Date().toISOString(),
    exposeGc: typeof globalThis.gc === 'function',
  }
  log(`machine: ${meta.cpu}, ${meta.cores} cores, ${meta.memory}, ${meta.os}`)
  log(`node ${meta.node} (V8 ${meta.v8})${meta.exposeGc ? '' : ' -- WARNING: run with --expose-gc for steadier numbers'}`)
  log(`contenders: ${contenders.map((c) => c.name).join(', ')}`)
  if (unavailable.length) log(`not measured: ${unavailable.join('; ')}`)

  const out = { meta, sizes: [] }
  let allOk = true
  for (const n of opts.sizes) {
    const runs = opts.runs ?? defaultRuns(n)
    const graph = generateGraph(n)
    const samples = {}
    for (const sc of SCENARIOS) samples[sc.key] = Object.fromEntries(contenders.map((c) => [c.name, []]))
    let loadMs = 0
    let verification
    const started = Date.now()
    for (let s = -1; s < runs; s++) {
      dropGraph(graph.dir)
      await nextJob()
      gc()
      const t0 = process.hrtime.bigint()
      require(graph.entry)
      loadMs += Number(process.hrtime.bigint() - t0) / 1e6
      const snap = takeSnapshot()
      if (s === -1) {
        // First load: check every contender, then warm up (untimed).
        log()
        log(`graph of ${n.toLocaleString('en-US')} modules + 50-module plugin: ${graph.files} files, ${graph.edges} require edges, ${graph.layers.length} layers (${graph.dir})`)
        verification = verify(contenders, snap, graph, log)
        allOk &&= verification.ok
        for (let w = 0; w < warmupRounds(n); w++) {
          for (const sc of SCENARIOS) {
            for (const c of contenders) {
              if (c.broken) continue
              restoreSnapshot(snap)
              c.unload(sc.target(graph))
              await nextJob()
            }
          }
        }
        continue
      }
      const active = contenders.filter((c) => !c.broken)
      const order = active.map((_, i) => active[(i + s) % active.length])
      for (const sc of SCENARIOS) {
        const target = sc.target(graph)
        for (const c of order) {
          restoreSnapshot(snap)
          // End the job first: WeakRefs (uncache-tree takes them for verifyCollected) keep their
          // targets alive until the current job ends, and one long synchronous loop would keep
          // every generation of the graph alive, slowing every GC that follows.
          await nextJob()
          gc()
          const t0 = process.hrtime.bigint()
          c.unload(target)
          samples[sc.key][c.name].push(Number(process.hrtime.bigint() - t0) / 1e6)
        }
      }
    }
    dropGraph(graph.dir)
    const size = {
      n,
      files: graph.files,
      edges: graph.edges,
      runs,
      meanLoadMs: loadMs / (runs + 1),
      wallSeconds: (Date.now() - started) / 1000,
      verification: verification.results,
      scenarios: {},
    }
    for (const sc of SCENARIOS) {
      const stats = {}
      for (const c of contenders) if (samples[sc.key][c.name].length) stats[c.name] = summarize(samples[sc.key][c.name])
      const base = stats[BASELINE]?.median
      for (const st of Object.values(stats)) st.ratio = base ? st.median / base : undefined
      for (const c of contenders) if (stats[c.name]) stats[c.name].samples = samples[sc.key][c.name]
      size.scenarios[sc.key] = stats
    }
    log(`  ${runs} samples, mean require() of the graph ${fmt(size.meanLoadMs)} ms, ${size.wallSeconds.toFixed(0)} s for this size`)
    out.sizes.push(size)
  }

  for (const sc of SCENARIOS) {
    log()
    log(`### ${sc.title} (Node ${process.version})`)
    log()
    const rows = []
    for (const size of out.sizes) {
      for (const [name, st] of Object.entries(size.scenarios[sc.key])) rows.push({ n: size.n, name, ...st })
    }
    log(table(rows))
  }
  log()
  log('× baseline: median time divided by the median of the plain-JS baseline (benchmark/baseline-unload.js).')
  log('The contenders do different amounts of work: see the "removed ... left behind" lines above.')
  if (!allOk) log('SOME CHECKS FAILED (see above): the timings of a contender that did the wrong thing mean little.')

  if (opts.json) {
    fs.writeFileSync(opts.json, `${JSON.stringify(out, null, 1)}\n`)
    log(`wrote ${opts.json}`)
  }
  if (!allOk) process.exitCode = 1
}

main().catch((error) => {
  // Bad arguments get one line and the usage; anything else its stack.
  console.error(error.usage ? `${error.message}\n${USAGE}` : error)
  process.exitCode = error.usage ? 2 : 1
})
