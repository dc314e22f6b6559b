#!/usr/bin/env node
'use strict'
// `npm run bench:require`: what the loader wrappers cost when a program loads its code, and what
// the live graph index holds per module.
//
//   node benchmark/require-overhead.js [--size 30000] [--runs 5] [--instructions [--no-gc]]
//
// Each run is a fresh process that requires the generated graph (generate-graph.js) through its
// index.js: plainly; with uncache-tree loaded first (`--require uncache-tree/register`: it installs
// the wrappers and, the cache being small, starts the live graph index, so every load and require
// is recorded); and with the wrappers only (the index dropped right after the package loaded, as
// when the package is loaded late into a large cache: nothing is recorded until the first unload
// reads the graph). Runs rotate between the three, so machine noise hits all; medians of the CPU
// time (user + system) the require took are compared (wall time on a shared 2-core VM moved by
// ±15 % between identical runs; it is printed too). Then one require of each kind with the
// package runs under the CPU profiler, which gives the self time of the package's own functions
// (`profiled`). Each run reports its heap after a forced GC twice: right after the require (what
// the indexes hold as the loads recorded them) and at its end, so the difference per module is
// what the wrappers and the index keep. The recording run first unloads the plugin three times: a
// program's first unloads. Last, the three kinds alternate in one process (inProcess).
//
// `--instructions` counts instead of timing: the machine instructions the require executes, under
// valgrind (cachegrind, no cache simulation), with V8 on one thread and a predictable GC schedule
// (`--single-threaded --predictable-gc-schedule`), so that the count does not depend on the
// machine's load. Identical runs then agree within about 0.1 % (wall time on this VM: ±15-30 %).
// Each kind is two processes, with and without the require; their difference is the require's
// count. Needs valgrind (`apt install valgrind`); takes minutes (valgrind runs code ~20× slower).
// `--instructions --no-gc` keeps the collector out of the require instead (1 GB semi-spaces, a
// 4 GB initial old space): the count is then the code that runs, without the collections its
// allocations cause; a collection that still runs inside the require (`--trace-gc`) is reported.
// The difference between the two modes is what the collector adds (benchmark/README.md).
const { execFileSync, spawnSync } = require('node:child_process')
const path = require('node:path')
const { generateGraph } = require('./generate-graph.js')

const ROOT = path.join(__dirname, '..')
// Code that drops the live graph index right after the package loaded: the wrappers only, as when
// the package is loaded late into a large cache (nothing is recorded until the first unload).
const DROP_INDEX = `require(${JSON.stringify(path.join(ROOT, 'lib/graph/graph-index.js'))}).drop(globalThis[Symbol.for('uncache-tree.state.v1')].graphIndex)`

function child(withPackage, graph, wrappersOnly = false) {
  const entry = graph.entry
  const code = `
    ${wrappersOnly ? DROP_INDEX : ''}
    const started = process.hrtime.bigint()
    const cpuBefore = process.cpuUsage()
    require(${JSON.stringify(entry)})
    const cpu = process.cpuUsage(cpuBefore)
    const out = { wallMs: Number(process.hrtime.bigint() - started) / 1e6, ms: (cpu.user + cpu.system) / 1000 }
    // What the require left on the heap, before any unload or rescan() rebuilds the indexes.
    for (let i = 0; i < 4; i++) gc()
    out.heapAfterRequire = process.memoryUsage().heapUsed
    if (${withPackage}) {
      const api = require(${JSON.stringify(ROOT)})
      if (${!wrappersOnly}) {
        // A program's first plugin unloads, through the index recorded since the start.
        out.unloads = []
        for (let i = 0; i < 3; i++) {
          const t = process.hrtime.bigint()
          api.uncacheTree(${JSON.stringify(graph.plugin)})
          out.unloads.push(Number(process.hrtime.bigint() - t) / 1e6)
          require(${JSON.stringify(graph.plugin)})
        }
      }
      const rescanStarted = process.hrtime.bigint()
      out.index = api.rescan()
      out.rescanMs = Number(process.hrtime.bigint() - rescanStarted) / 1e6
      const gi = require(${JSON.stringify(path.join(ROOT, 'lib/graph/graph-index.js'))})
      out.native = gi.stats(globalThis[Symbol.for('uncache-tree.state.v1')].graphIndex)
    }
    for (let i = 0; i < 4; i++) gc()
    out.heap = process.memoryUsage().heapUsed
    console.log(JSON.stringify(out))`
  const args = ['--expose-gc', ...(withPackage ? ['--require', path.join(ROOT, 'register.js')] : []), '-e', code]
  return JSON.parse(execFileSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 24 }))
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

/**
 * One require of the graph under the V8 CPU profiler (node:inspector), in a fresh process with
 * the package loaded: the self time of the package's own functions (files under lib/) against
 * the whole require. Steadier than comparing processes on a shared machine, but it does not
 * count what the package costs the garbage collector.
 */
function profiled(entry, wrappersOnly) {
  const code = `
    const { Session } = require('node:inspector/promises')
    ;(async () => {
      ${wrappersOnly ? DROP_INDEX : ''}
      const session = new Session()
      session.connect()
      await session.post('Profiler.enable')
      await session.post('Profiler.setSamplingInterval', { interval: 100 })
      await session.post('Profiler.start')
      require(${JSON.stringify(entry)})
      const { profile } = await session.post('Profiler.stop')
      const lib = ${JSON.stringify(path.join(ROOT, 'lib') + path.sep)}
      const ours = new Set(profile.nodes.filter((n) => n.callFrame.url.replace(/^file:\\/\\//, '').startsWith(lib)).map((n) => n.id))
      let total = 0
      let own = 0
      profile.samples.forEach((id, k) => {
        total += profile.timeDeltas[k]
        if (ours.has(id)) own += profile.timeDeltas[k]
      })
      console.log(JSON.stringify({ totalMs: total / 1000, ownMs: own / 1000 }))
    })()`
  const args = ['--require', path.join(ROOT, 'register.js'), '-e', code]
  return JSON.parse(execFileSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 24 }))
}

/**
 * The three kinds of require in one process, alternating, so that machine noise between
 * processes does not enter the ratio: the package loaded, its loader wrappers removed
 * (`uninstall()`: Node's own loader, as without the package), installed with the index
 * dropped (wrappers only), and installed with the index recording (`rescan()` first).
 * Between rounds the graph is dropped from require.cache, `children` and Module._pathCache, and
 * the garbage collected (untimed). The first round of each kind warms up and is not counted.
 */
function inProcess(graph, rounds) {
  const code = `
    const path = require('node:path')
    const Module = require('node:module')
    const api = require(${JSON.stringify(ROOT)})
    const { install, uninstall } = require(${JSON.stringify(path.join(ROOT, 'lib/loader/patches.js'))})
    const { state } = require(${JSON.stringify(path.join(ROOT, 'lib/graph/state.js'))})
    const graphIndex = require(${JSON.stringify(path.join(ROOT, 'lib/graph/graph-index.js'))})
    const prefix = ${JSON.stringify(graph.dir + path.sep)}
    const self = require.cache[__filename] ?? module
    function dropGraph() {
      for (const key of Object.keys(require.cache)) if (key.startsWith(prefix)) delete require.cache[key]
      for (const m of [module, self]) {
        const kept = m.children.filter((c) => !c.filename.startsWith(prefix))
        m.children.length = 0
        m.children.push(...kept)
      }
      for (const key of Object.keys(Module._pathCache)) if (Module._pathCache[key].startsWith(prefix)) delete Module._pathCache[key]
    }
    const modes = {
      plain: () => uninstall(),
      wrapped: () => { install(); graphIndex.drop(state.graphIndex) },
      recording: () => { install(); api.rescan() },
    }
    const names = Object.keys(modes)
    const ms = Object.fromEntries(names.map((n) => [n, []]))
    for (let r = 0; r < ${rounds + 1}; r++) {
      for (let k = 0; k < names.length; k++) {
        const name = names[(k + r) % names.length]
        dropGraph()
        modes[name]()
        for (let i = 0; i < 3; i++) gc()
        const cpu = process.cpuUsage()
        require(${JSON.stringify(graph.entry)})
        const used = process.cpuUsage(cpu)
        if (r > 0) ms[name].push((used.user + used.system) / 1000)
      }
    }
    console.log(JSON.stringify(ms))`
  const args = ['--expose-gc', '-e', code]
  return JSON.parse(execFileSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 24 }))
}

// V8's heap flags of each `--instructions` mode (see the file comment).
const PREDICTABLE_GC = ['--predictable-gc-schedule']
const NO_GC = ['--min-semi-space-size=1024', '--max-semi-space-size=1024', '--initial-old-space-size=4096', '--trace-gc']

/**
 * The instructions one process executes under valgrind (cachegrind without cache simulation),
 * with V8 made deterministic enough to compare counts (see the file comment); `collections`: the
 * collections `--trace-gc` printed after the line `START` (the code prints it just before the require).
 */
function countInstructions(heapFlags, args) {
  const run = spawnSync('valgrind', ['--tool=cachegrind', '--cache-sim=no', '--smc-check=all-non-file', '--cachegrind-out-file=/dev/null',
    process.execPath, '--single-threaded', ...heapFlags, ...args], { encoding: 'utf8', maxBuffer: 1 << 24 })
  const match = /I\s+refs:\s+([\d,]+)/.exec(run.stderr ?? '')
  if (run.status !== 0 || match === null) throw new Error(`valgrind failed (exit ${run.status}): ${(run.stderr ?? '').slice(-500)}`)
  const after = (run.stdout ?? '').split('START\n')[1] ?? ''
  return { count: Number(match[1].replaceAll(',', '')), collections: (after.match(/(Scavenge|Mark-Compact|Mark-sweep)/g) ?? []).length }
}

/** `--instructions`: the require's instruction count in each of the three kinds (see the file comment). */
function instructions(graph, size, noGc) {
  if (spawnSync('valgrind', ['--version']).error !== undefined) {
    console.error('--instructions needs valgrind on the PATH (Debian/Ubuntu: apt install valgrind)')
    process.exitCode = 2
    return
  }
  const heapFlags = noGc ? NO_GC : PREDICTABLE_GC
  const register = ['--require', path.join(ROOT, 'register.js')]
  // [node arguments, code run first in both processes of the kind]
  const kinds = {
    'without uncache-tree': [[], ''],
    'with the wrappers only (index dropped)': [register, `${DROP_INDEX};`],
    'with the package loaded first (the index records every load)': [register, ''],
  }
  const counts = {}
  const inside = {}
  for (const [name, [args, first]] of Object.entries(kinds)) {
    // Both print the marker, so that its cost (the first console.log sets up stdout) cancels out.
    const without = countInstructions(heapFlags, [...args, '-e', `${first}console.log('START');0`])
    const withRequire = countInstructions(heapFlags, [...args, '-e', `${first}console.log('START');require(${JSON.stringify(graph.entry)})`])
    counts[name] = withRequire.count - without.count
    inside[name] = withRequire.collections
  }
  const plain = counts['without uncache-tree']
  const mode = noGc ? 'no collection inside the require (--no-gc)' : 'a predictable GC schedule'
  console.log(`require() of a ${size}-module graph (+50 plugin modules), Node ${process.version}: machine instructions under valgrind, ${mode}`)
  for (const [name, count] of Object.entries(counts)) {
    const note = noGc && inside[name] > 0 ? ` (${inside[name]} collection(s) ran inside the require all the same: counted)` : ''
    console.log(`  ${name}: ${(count / 1e6).toFixed(0)} M instructions, ${(count / plain).toFixed(3)}×${note}`)
  }
}

function main() {
  const argv = process.argv.slice(2)
  const arg = (name, fallback) => {
    const i = argv.indexOf(name)
    return i < 0 ? fallback : Number(argv[i + 1])
  }
  const size = arg('--size', 30000)
  const runs = arg('--runs', 5)
  const graph = generateGraph(size)
  if (argv.includes('--instructions')) return instructions(graph, size, argv.includes('--no-gc'))
  const plain = []
  const wrapped = []
  const recording = []
  child(false, graph) // warm the file system cache
  for (let r = 0; r < runs; r++) {
    const order = [
      () => plain.push(child(false, graph)),
      () => wrapped.push(child(true, graph, true)),
      () => recording.push(child(true, graph)),
    ]
    for (let k = 0; k < order.length; k++) order[(k + r) % order.length]()
  }
  const plainMs = median(plain.map((o) => o.ms))
  const wrappedMs = median(wrapped.map((o) => o.ms))
  const recordingMs = median(recording.map((o) => o.ms))
  const last = recording.at(-1)
  const modules = last.index.modules
  const heapPerModule = (median(recording.map((o) => o.heap)) - median(plain.map((o) => o.heap))) / modules
  const heapAfterRequire = median(recording.map((o) => o.heapAfterRequire)) - median(plain.map((o) => o.heapAfterRequire))
  console.log(`require() of a ${size}-module graph (+50 plugin modules), ${runs} runs each, Node ${process.version}`)
  const wall = (list) => median(list.map((o) => o.wallMs)).toFixed(0)
  console.log(`  wall time, medians: ${wall(plain)} / ${wall(wrapped)} / ${wall(recording)} ms; CPU time below`)
  console.log(`  without uncache-tree: ${plainMs.toFixed(0)} ms (median)`)
  console.log(`  with the wrappers only (index dropped): ${wrappedMs.toFixed(0)} ms (median), ${(wrappedMs / plainMs).toFixed(3)}×`)
  console.log(`  with the package loaded first (the index records every load): ${recordingMs.toFixed(0)} ms (median), ${(recordingMs / plainMs).toFixed(3)}×`)
  const same = inProcess(graph, runs)
  // Each round runs the three kinds back to back: the ratio within a round, then its median.
  const paired = (name) => median(same[name].map((ms, r) => ms / same.plain[r]))
  const range = (name) => {
    const ratios = same[name].map((ms, r) => ms / same.plain[r]).sort((a, b) => a - b)
    return `${ratios[0].toFixed(3)}–${ratios.at(-1).toFixed(3)}`
  }
  console.log(`  in one process, alternating (${runs} rounds; CPU time, ratio to Node's loader within each round, median and range):`)
  console.log(`    Node's loader ${median(same.plain).toFixed(0)} ms; with the wrappers ${paired('wrapped').toFixed(3)}× (${range('wrapped')}); ` +
    `with the index recording ${paired('recording').toFixed(3)}× (${range('recording')})`)
  for (const [label, wrappersOnly] of [['wrappers only', true], ['with the index recording', false]]) {
    const { totalMs, ownMs } = profiled(graph.entry, wrappersOnly)
    console.log(`  CPU profile of one require, ${label}: the package's own functions ${ownMs.toFixed(1)} of ${totalMs.toFixed(0)} ms (${((100 * ownMs) / totalMs).toFixed(1)} %)`)
  }
  const nth = (k) => median(recording.map((o) => o.unloads[k])).toFixed(1)
  console.log(`  a fresh process's first three plugin unloads (medians): ${nth(0)}, ${nth(1)}, ${nth(2)} ms`)
  console.log(`live graph index: ${modules} modules, ${last.index.edges} edges; rescan() took ${median(recording.map((o) => o.rescanMs)).toFixed(1)} ms (median)`)
  console.log(`  native graph: ${last.native.nativeBytes} bytes, ${(last.native.nativeBytes / modules).toFixed(0)} bytes per module`)
  console.log(`  JS heap with the package minus without: ${heapPerModule.toFixed(0)} bytes per module (the WeakMap entries, the keys, and the package's own code)`)
  console.log(`  JS heap right after the require (package loaded first) minus without: ${(heapAfterRequire / 1e6).toFixed(1)} MB, ${(heapAfterRequire / modules).toFixed(0)} bytes per module (the indexes as the loads recorded them; the line above is after unloads and rescan(), which rebuild them)`)
}

main()
