#!/usr/bin/env node
'use strict'
// Heap-snapshot analysis: how long it takes, and how much memory, to read a V8 heap snapshot and
// explain why unloaded modules are still alive.
//
//   node benchmark/heapsnapshot.js [--regen] [--rounds N] [--diff-only] [--diff-mb N]
//
// Makes two snapshots of about 50 MB and 200 MB into benchmark/.fixtures/ (git-ignored; kept
// between runs, `--regen` remakes them): a child process loads a generated graph of 3,000
// modules, leaks old generations of three plugins (an interval, a `process` listener, a global
// array), fills the heap with objects, and calls `v8.writeHeapSnapshot()`. Then, on the same
// files, interleaved, each run in its own child process (so peak RSS is the contender's alone):
//
// - uncache-tree: `explainRetainers(ids, { snapshot })`: the file streamed into the Rust parser,
//   then the shortest retainer path of each old generation, rendered;
// - plain JS: `JSON.parse` of the whole file, then the same search written in JavaScript;
// - memlab (`@memlab/core`): `utils.getSnapshotFromFile()` (its parser), then its
//   `TraceFinder` shortest paths for the same Module objects.
//
// Then the three-snapshot leak diff (what the doctor does to name what grows): one child process
// fills its heap to about --diff-mb (default 200) MB and writes three snapshots 5 leaking reloads
// apart (each reload leaves a timer over a 256 KB buffer and a registry entry holding 2,000
// objects); then, each in its own child process:
//
// - uncache-tree: `HeapSnapshotDiff`, the baseline and target streamed ids-only, the final parsed
//   whole, the new objects still alive grouped by retainer chain;
// - plain JS: `JSON.parse` of each file in turn (ids of the first two kept as Sets), then the same
//   grouping written in JavaScript;
// - memlab (`@memlab/api`): `findLeaksBySnapshotFilePaths(baseline, target, final)`, its own leak
//   finder on the same files.
//
// Prints a markdown table: median time, ratio to memlab, peak RSS (VmHWM), plus the machine and
// Node version. memlab is not a devDependency: its `puppeteer` dependency downloads a browser on
// install, which fails without network access and would break `npm install` of this package, so
// it is installed on first use into benchmark/.fixtures/memlab with PUPPETEER_SKIP_DOWNLOAD=1.
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const FIXTURES = path.join(__dirname, '.fixtures')
// bench:doctor (benchmark/doctor.js) points this at benchmark/doctor, where its package.json installs memlab.
const MEMLAB_DIR = process.env.UNCACHE_TREE_MEMLAB_DIR ?? path.join(FIXTURES, 'memlab')
const MEMLAB_VERSION = '2.0.5'
const DIFF_CYCLES = 5
const DIFF_ROUNDS = 3
const SIZES_MB = [50, 200]
const DEFAULT_ROUNDS = { 50: 5, 200: 3 }
const GRAPH_MODULES = 3000
const LEAKED_GENERATIONS = 4
/** Snapshot bytes per filler item, measured on Node 20 (an object, a string, a closure...). */
const BYTES_PER_FILLER = 520
/** JSON.parse of a 200 MB text and memlab's object model need more than the default heap. */
const JS_HEAP_FLAGS = ['--max-old-space-size=12288']

// ---------------------------------------------------------------------------------------------
// Child: make a snapshot
// ---------------------------------------------------------------------------------------------

function writeGraph(dir, count) {
  fs.mkdirSync(dir, { recursive: true })
  for (let i = 0; i < count; i++) {
    const deps = [1, 7, 31].map((step) => i + step).filter((j) => j < count)
    fs.writeFileSync(
      path.join(dir, `m${i}.js`),
      `const deps = [${deps.map((j) => `require('./m${j}.js')`).join(', ')}]
const table = new Map()
for (let k = 0; k < 20; k++) table.set('k' + k, { k, label: 'm${i}-' + k })
function handle${i}(key) { return table.get(key) }
module.exports = { id: ${i}, deps, handle: handle${i} }
`,
    )
  }
  // Required from the last module down, every dependency is cached already: no deep recursion.
  const lines = []
  for (let i = count - 1; i >= 0; i--) lines.push(`require('./m${i}.js')`)
  fs.writeFileSync(path.join(dir, 'index.js'), `${lines.join('\n')}\n`)
}

const PLUGINS = {
  'interval.js': `const state = { ticks: 0, buffer: new Array(1000).fill('tick') }
const timer = setInterval(function onTick() { state.ticks++; module.exports.last = state.ticks }, 3600000)
timer.unref()
module.exports = { state }
`,
  'listener.js': `const cache = new Map([['a', { payload: 'x'.repeat(1000) }]])
process.on('benchmark:reload', function onReload() { cache.clear(); module.exports.reloads++ })
module.exports = { reloads: 0 }
`,
  'registry.js': `globalThis.benchmarkRegistry ??= []
globalThis.benchmarkRegistry.push(module)
module.exports = { name: 'registry' }
`,
}

/** Loads and drops each plugin `LEAKED_GENERATIONS` times; their old generations stay alive. */
function leakPlugins(dir) {
  fs.mkdirSync(dir, { recursive: true })
  const ids = []
  for (const [name, source] of Object.entries(PLUGINS)) {
    const id = path.join(dir, name)
    fs.writeFileSync(id, source)
    for (let g = 0; g < LEAKED_GENERATIONS; g++) {
      require(id)
      delete require.cache[id]
      module.children = module.children.filter((child) => child.id !== id)
    }
    require(id) // the live generation, which is not a leak
    ids.push(id)
  }
  return ids
}

function childMake(targetMb, file) {
  const graph = path.join(FIXTURES, 'heapsnapshot-graph')
  writeGraph(graph, GRAPH_MODULES)
  require(path.join(graph, 'index.js'))
  const ids = leakPlugins(path.join(FIXTURES, 'heapsnapshot-plugins'))
  const graphBytes = 25e6 // what the module graph and Node itself add, measured
  const filler = []
  const count = Math.max(0, Math.round((targetMb * 1e6 - graphBytes) / BYTES_PER_FILLER))
  for (let i = 0; i < count; i++) {
    filler.push({ i, text: `value ${i}`, inner: { n: i, tag: `t${i % 100}` }, get: () => i })
  }
  globalThis.benchmarkFiller = filler
  fs.writeFileSync(`${file}.ids.json`, JSON.stringify([...ids, path.join(graph, 'm0.js')]))
  require('node:v8').writeHeapSnapshot(file)
}

// ---------------------------------------------------------------------------------------------
// Child: the contenders
// ---------------------------------------------------------------------------------------------

function peakRssBytes() {
  try {
    const status = fs.readFileSync('/proc/self/status', 'utf8')
    const kb = /VmHWM:\s+(\d+) kB/.exec(status)
    if (kb) return Number(kb[1]) * 1024
  } catch {}
  return process.resourceUsage().maxRSS * 1024
}

/**
 * Wall time and CPU time (all threads: V8's GC helpers count) since it was started. CPU time is
 * the steadier number on a machine that other work shares.
 */
function stopwatch() {
  const [wall, cpu] = [performance.now(), process.cpuUsage()]
  return () => {
    const used = process.cpuUsage(cpu)
    return { ms: performance.now() - wall, cpuMs: (used.user + used.system) / 1000 }
  }
}

async function runUncacheTree(file, ids) {
  const { explainRetainers } = require('../lib/proof/retainers.js')
  const elapsed = stopwatch()
  const retainers = await explainRetainers(ids, { snapshot: file })
  return { ...elapsed(), retainers: retainers.length, sample: retainers[0] }
}

async function runMemlab(file, ids) {
  const core = require(require.resolve('@memlab/core', { paths: [MEMLAB_DIR] }))
  core.config.muteConsole = true
  const elapsed = stopwatch()
  const heap = await core.utils.getSnapshotFromFile(file, { buildNodeIdIndex: true })
  const parsed = elapsed()
  const wanted = new Set(ids)
  const cacheTargets = new Set()
  const modules = []
  heap.nodes.forEach((node) => {
    if (node.name !== 'Module') return
    if (node.type === 'closure') {
      const cache = node.getReferenceNode('_cache', 'property')
      for (const edge of cache?.references ?? []) if (wanted.has(String(edge.name_or_index))) cacheTargets.add(edge.toNode.id)
    } else if (node.type === 'object') {
      const id = node.getReferenceNode('id', 'property')?.name
      if (wanted.has(id)) modules.push({ node })
    }
  })
  const finder = new core.TraceFinder()
  finder.annotateShortestPaths(heap)
  let retainers = 0
  for (const { node } of modules) {
    if (!cacheTargets.has(node.id) && finder.getPathToGCRoots(heap, node)) retainers++
  }
  return { parseMs: parsed.ms, parseCpuMs: parsed.cpuMs, ...elapsed(), retainers }
}

async function runPlainJs(file, ids) {
  const elapsed = stopwatch()
  const retainers = plainJsExplain(JSON.parse(fs.readFileSync(file, 'utf8')), ids)
  return { ...elapsed(), retainers: retainers.length }
}

/**
 * The same search as src/heapsnapshot/mod.rs, in JavaScript over the parsed JSON: Module objects by
 * id, the live one from `Module._cache`, breadth-first from the root over strong edges with the
 * bookkeeping roots last and the WeakRef keep-alive list never, paths rendered with names.
 */
function plainJsExplain(snapshot, ids) {
  const { meta } = snapshot.snapshot
  const { nodes, edges, strings } = snapshot
  const nf = meta.node_fields
  const ef = meta.edge_fields
  const [NS, ES] = [nf.length, ef.length]
  const [nType, nName, nEdges] = ['type', 'name', 'edge_count'].map((f) => nf.indexOf(f))
  const [eType, eName, eTo] = ['type', 'name_or_index', 'to_node'].map((f) => ef.indexOf(f))
  const nodeTypes = meta.node_types[nType]
  const edgeTypes = meta.edge_types[eType]
  const T = (name) => nodeTypes.indexOf(name)
  const E = (name) => edgeTypes.indexOf(name)
  const [OBJECT, CLOSURE, SYNTHETIC, STRING] = [T('object'), T('closure'), T('synthetic'), T('string')]
  const [WEAK, INTERNAL, PROPERTY, ELEMENT, HIDDEN] = [E('weak'), E('internal'), E('property'), E('element'), E('hidden')]
  const count = nodes.length / NS
  const firstEdge = new Uint32Array(count + 1)
  for (let n = 0; n < count; n++) firstEdge[n + 1] = firstEdge[n] + nodes[n * NS + nEdges]
  const name = (n) => strings[nodes[n * NS + nName]]
  const isStringName = (e) => edges[e * ES + eType] !== ELEMENT && edges[e * ES + eType] !== HIDDEN
  const edgeName = (e) => (isStringName(e) ? strings[edges[e * ES + eName]] : edges[e * ES + eName])
  const target = (e) => edges[e * ES + eTo] / NS
  const child = (n, type, want) => {
    for (let e = firstEdge[n]; e < firstEdge[n + 1]; e++) {
      if (edges[e * ES + eType] === type && edgeName(e) === want) return target(e)
    }
    return -1
  }
  const wanted = new Map(ids.map((id, i) => [id, i]))
  const modules = []
  const live = new Set()
  for (let n = 0; n < count; n++) {
    if (name(n) !== 'Module') continue
    const type = nodes[n * NS + nType]
    if (type === CLOSURE) {
      const cache = child(n, PROPERTY, '_cache')
      if (cache === -1) continue
      for (let e = firstEdge[cache]; e < firstEdge[cache + 1]; e++) if (wanted.has(edgeName(e))) live.add(target(e))
    } else if (type === OBJECT) {
      const id = child(n, PROPERTY, 'id')
      if (id !== -1 && nodes[id * NS + nType] === STRING && wanted.has(name(id))) modules.push({ node: n, id: name(id) })
    }
  }
  const old = modules.filter((m) => !live.has(m.node))
  // Breadth-first search, bookkeeping roots last.
  const BOOKKEEPING = new Set(['(Stack roots)', '(Handle scope)', '(Startup object cache)', '(Shareable object cache)',
    '(Read-only object cache)', '(Compilation cache)', '(Debugger)', '(Code flusher)', '(Relocatable)', '(Retain maps)',
    '(Write barrier)', '(Identity map)', '(Smi roots)', '(Bootstrapper)', '(Builtins)', '(Client heap)', '(Thread manager)',
    '(Unknown)', '(Wrapper tracing)', '(Weak collections)', '(Weak roots)', '(Internalized strings)', '(External strings)',
    '(Read-only roots)', '(Extensions)', '(Conservative stack roots)', 'C++ native stack roots'])
  const UNREACHED = 0xffffffff
  const DEFERRED = 0xfffffffe
  const parent = new Uint32Array(count).fill(UNREACHED)
  const deferred = []
  const gcRoots = [0]
  for (let e = firstEdge[0]; e < firstEdge[1]; e++) if (name(target(e)) === '(GC roots)') gcRoots.push(target(e))
  for (const holder of gcRoots) {
    for (let e = firstEdge[holder]; e < firstEdge[holder + 1]; e++) {
      const to = target(e)
      if (nodes[to * NS + nType] === SYNTHETIC && BOOKKEEPING.has(name(to))) {
        parent[to] = DEFERRED
        deferred.push([to, e])
      }
    }
  }
  const isTarget = new Uint8Array(count)
  for (const m of old) isTarget[m.node] = 1
  let remaining = old.length
  const queue = new Uint32Array(count)
  let [head, tail] = [0, 0]
  parent[0] = UNREACHED - 2
  queue[tail++] = 0
  const run = () => {
    while (head < tail && remaining > 0) {
      const n = queue[head++]
      for (let e = firstEdge[n]; e < firstEdge[n + 1]; e++) {
        const type = edges[e * ES + eType]
        const to = edges[e * ES + eTo] / NS
        if (type === WEAK || parent[to] !== UNREACHED) continue
        if (type === INTERNAL && strings[edges[e * ES + eName]] === 'weak_refs_keep_during_job') continue
        parent[to] = e
        queue[tail++] = to
        if (isTarget[to]) remaining--
      }
    }
  }
  run()
  for (const [root, e] of deferred) {
    if (parent[root] === DEFERRED) {
      parent[root] = e
      queue[tail++] = root
    }
  }
  run()
  const owner = (e) => {
    let [lo, hi] = [0, count]
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (firstEdge[mid + 1] <= e) lo = mid + 1
      else hi = mid
    }
    return lo
  }
  const result = []
  for (const m of old) {
    if (parent[m.node] >= DEFERRED) continue
    const steps = [{ node: `Module ${m.id}`, edge: '' }]
    for (let n = m.node; parent[n] !== UNREACHED - 2; ) {
      const e = parent[n]
      n = owner(e)
      if (n !== 0) steps.push({ node: name(n) || `(${nodeTypes[nodes[n * NS + nType]]})`, edge: String(edgeName(e)) })
    }
    result.push({ id: m.id, path: steps.reverse() })
  }
  return result
}

const CONTENDERS = {
  'uncache-tree': runUncacheTree,
  'plain-js': runPlainJs,
  memlab: runMemlab,
  baseline: async () => ({ ms: 0, cpuMs: 0, retainers: 0 }),
}

async function childRun(contender, file) {
  const ids = file ? JSON.parse(fs.readFileSync(`${file}.ids.json`, 'utf8')) : []
  const result = await CONTENDERS[contender](file, ids)
  process.stdout.write(`${JSON.stringify({ ...result, peakRss: peakRssBytes() })}\n`)
}

// ---------------------------------------------------------------------------------------------
// The three-snapshot diff
// ---------------------------------------------------------------------------------------------

const DIFF_PLUGIN = `const big = new ArrayBuffer(256 * 1024)
setInterval(function tick() { return big.byteLength }, 3600000).unref()
const rows = Array.from({ length: 2000 }, (_, i) => ({ i, label: 'row ' + i }))
globalThis.benchmarkHandlers ??= []
globalThis.benchmarkHandlers.push({ name: 'lookup', handle: (i) => rows[i] })
module.exports = { name: 'leaky' }
`

/** One process, three snapshots DIFF_CYCLES leaking reloads apart, in a heap of about `targetMb`. */
function childMakeDiff(targetMb, prefix) {
  const dir = path.join(FIXTURES, 'diff-plugin')
  fs.mkdirSync(dir, { recursive: true })
  const id = path.join(dir, 'leaky.js')
  fs.writeFileSync(id, DIFF_PLUGIN)
  const reload = () => {
    delete require.cache[id]
    module.children = module.children.filter((child) => child.id !== id)
    require(id)
  }
  const filler = []
  const count = Math.max(0, Math.round((targetMb * 1e6 - 15e6) / BYTES_PER_FILLER))
  for (let i = 0; i < count; i++) filler.push({ i, text: `value ${i}`, inner: { n: i, tag: `t${i % 100}` }, get: () => i })
  globalThis.benchmarkFiller = filler
  for (let i = 0; i < 3; i++) reload() // warm-up
  for (const name of ['baseline', 'target', 'final']) {
    require('node:v8').writeHeapSnapshot(`${prefix}-${name}.heapsnapshot`)
    for (let i = 0; i < DIFF_CYCLES; i++) reload()
  }
}

async function streamInto(file, sink) {
  const handle = await fs.promises.open(file, 'r')
  try {
    const buffer = Buffer.allocUnsafe(1 << 20)
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null)
      if (bytesRead === 0) break
      sink.push(buffer.subarray(0, bytesRead))
    }
  } finally {
    await handle.close()
  }
}

const chainText = (steps) => steps.map((s) => (s.edge ? `${s.node} --${s.edge}-->` : s.node)).join(' ')

async function runDiffUncacheTree(files) {
  const native = require('../lib/native.js')
  const elapsed = stopwatch()
  const diff = new native.HeapSnapshotDiff()
  for (const file of files) {
    await streamInto(file, diff)
    diff.endSnapshot()
  }
  const growth = diff.growth(5)
  diff.close()
  return {
    ...elapsed(),
    groups: growth.groupCount,
    top: growth.groups.map((g) => ({ bytes: g.bytes, objects: g.objects, chain: chainText(g.path) })),
  }
}

/** The same diff in JavaScript: JSON.parse each file, Sets of ids, BFS, leak roots, groups. */
async function runDiffPlainJs(files) {
  const elapsed = stopwatch()
  const idsOf = (file) => {
    const snap = JSON.parse(fs.readFileSync(file, 'utf8'))
    const nf = snap.snapshot.meta.node_fields
    const [stride, at] = [nf.length, nf.indexOf('id')]
    const ids = new Set()
    for (let i = at; i < snap.nodes.length; i += stride) ids.add(snap.nodes[i])
    return ids
  }
  let before = idsOf(files[0])
  const fresh = new Set()
  for (const id of idsOf(files[1])) if (!before.has(id)) fresh.add(id)
  before = undefined
  const snap = JSON.parse(fs.readFileSync(files[2], 'utf8'))
  const { meta } = snap.snapshot
  const { nodes, edges, strings } = snap
  const nf = meta.node_fields
  const ef = meta.edge_fields
  const [NS, ES] = [nf.length, ef.length]
  const [nType, nName, nId, nSize, nEdges] = ['type', 'name', 'id', 'self_size', 'edge_count'].map((f) => nf.indexOf(f))
  const [eType, eName, eTo] = ['type', 'name_or_index', 'to_node'].map((f) => ef.indexOf(f))
  const edgeTypes = meta.edge_types[eType]
  const [WEAK, ELEMENT, HIDDEN] = ['weak', 'element', 'hidden'].map((t) => edgeTypes.indexOf(t))
  const count = nodes.length / NS
  const firstEdge = new Uint32Array(count + 1)
  for (let n = 0; n < count; n++) firstEdge[n + 1] = firstEdge[n] + nodes[n * NS + nEdges]
  const isNew = new Uint8Array(count)
  for (let n = 0; n < count; n++) if (fresh.has(nodes[n * NS + nId])) isNew[n] = 1
  const parentEdge = new Int32Array(count).fill(-1)
  const parent = new Int32Array(count).fill(-1)
  const queue = new Uint32Array(count)
  let [head, tail] = [0, 0]
  queue[tail++] = 0
  parent[0] = 0
  while (head < tail) {
    const n = queue[head++]
    for (let e = firstEdge[n]; e < firstEdge[n + 1]; e++) {
      const to = edges[e * ES + eTo] / NS
      if (edges[e * ES + eType] === WEAK || parent[to] !== -1) continue
      parent[to] = n
      parentEdge[to] = e
      queue[tail++] = to
    }
  }
  const name = (n) => strings[nodes[n * NS + nName]]
  const edgeName = (e) => {
    const t = edges[e * ES + eType]
    return t === ELEMENT || t === HIDDEN ? '[]' : strings[edges[e * ES + eName]]
  }
  const rootOf = new Map()
  const groups = new Map()
  const groupOfRoot = new Map()
  for (let q = 0; q < tail; q++) {
    const n = queue[q]
    if (!isNew[n]) continue
    const p = parent[n]
    const root = isNew[p] ? rootOf.get(p) : n
    rootOf.set(n, root)
    let group = groupOfRoot.get(root)
    if (group === undefined) {
      const labels = []
      for (let m = root; m !== 0; m = parent[m]) labels.push(`${name(parent[m])}.${edgeName(parentEdge[m])}`)
      const key = labels.reverse().filter((l, i, all) => l !== all[i + 1]).join(' / ') + ` / ${name(root)}`
      group = groups.get(key)
      if (group === undefined) groups.set(key, (group = { key, bytes: 0, objects: 0 }))
      groupOfRoot.set(root, group)
    }
    group.bytes += nodes[n * NS + nSize]
    group.objects++
  }
  const top = [...groups.values()].sort((a, b) => b.bytes - a.bytes).slice(0, 5)
  return { ...elapsed(), groups: groups.size, top: top.map((g) => ({ bytes: g.bytes, objects: g.objects, chain: g.key })) }
}

async function runDiffMemlab(files) {
  const api = require(require.resolve('@memlab/api', { paths: [MEMLAB_DIR] }))
  const core = require(require.resolve('@memlab/core', { paths: [MEMLAB_DIR] }))
  core.config.muteConsole = true
  // memlab's default filter looks for browser leaks (detached DOM, unmounted React fibers) and
  // finds nothing in a Node heap. Its "trace all objects" setting counts every object allocated
  // between baseline and target and alive in the final snapshot, as the doctor does.
  core.config.oversizeObjectAsLeak = true
  core.config.oversizeThreshold = 0
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'memlab-bench-'))
  const elapsed = stopwatch()
  const leaks = await api.findLeaksBySnapshotFilePaths(files[0], files[1], files[2], { workDir })
  const time = elapsed()
  fs.rmSync(workDir, { recursive: true, force: true })
  // Each leak trace: the path from a GC root to the leaked object, as memlab serializes it (one
  // key per step, `N: --edge---> [name](type) @id $retained-size:…`).
  const describe = (trace) =>
    Object.keys(trace)
      .filter((key) => /^\d+:/.test(key))
      .map((key) => key.replace(/^\d+:\s*/, '').replace(/\s*\$retained-size.*$/s, '').replace(/\s+/g, ' '))
      .join(' ')
  return { ...time, groups: leaks.length, top: leaks.slice(0, 5).map((trace) => ({ chain: describe(trace) })) }
}

const DIFF_CONTENDERS = { 'uncache-tree': runDiffUncacheTree, 'plain-js': runDiffPlainJs, memlab: runDiffMemlab }

async function childRunDiff(contender, prefix) {
  const files = ['baseline', 'target', 'final'].map((name) => `${prefix}-${name}.heapsnapshot`)
  const result = await DIFF_CONTENDERS[contender](files)
  process.stdout.write(`${JSON.stringify({ ...result, peakRss: peakRssBytes() })}\n`)
}

function ensureDiffSnapshots(targetMb, regen) {
  const prefix = path.join(FIXTURES, `diff-${targetMb}mb`)
  if (regen || !fs.existsSync(`${prefix}-final.heapsnapshot`)) {
    process.stderr.write(`making ${path.relative(process.cwd(), prefix)}-{baseline,target,final}.heapsnapshot ...\n`)
    spawnChild(['--make-diff', String(targetMb), prefix], JS_HEAP_FLAGS)
  }
  return prefix
}

function ensureMemlabApi() {
  try {
    require.resolve('@memlab/api', { paths: [MEMLAB_DIR] })
    return true
  } catch {}
  fs.mkdirSync(MEMLAB_DIR, { recursive: true })
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
  const out = spawnSync(
    npm,
    ['install', '--no-save', '--no-audit', '--no-fund', '--prefix', MEMLAB_DIR, `@memlab/api@${MEMLAB_VERSION}`],
    { encoding: 'utf8', env: { ...process.env, PUPPETEER_SKIP_DOWNLOAD: '1' } },
  )
  if (out.status !== 0) process.stderr.write(`@memlab/api could not be installed; it is left out:\n${out.stderr}\n`)
  return out.status === 0
}

function diffSection(targetMb, regen, rounds) {
  const prefix = ensureDiffSnapshots(targetMb, regen)
  const contenders = ['uncache-tree', 'plain-js']
  if (ensureMemlabApi()) contenders.push('memlab')
  const results = Object.fromEntries(contenders.map((c) => [c, []]))
  for (let round = 0; round < rounds; round++) {
    for (const contender of contenders.map((_, i) => contenders[(i + round) % contenders.length])) {
      const flags = contender === 'uncache-tree' ? [] : JS_HEAP_FLAGS
      results[contender].push(JSON.parse(spawnChild(['--run-diff', contender, prefix], flags).trim().split('\n').at(-1)))
      process.stderr.write(`  diff round ${round + 1}/${rounds}: ${contender} done\n`)
    }
  }
  const sizes = ['baseline', 'target', 'final'].map((n) => fs.statSync(`${prefix}-${n}.heapsnapshot`).size)
  const lines = [
    `## Three-snapshot leak diff (baseline, target, final: ${sizes.map((b) => `${Math.round(b / 1e6)} MB`).join(', ')})\n`,
    `Median of ${rounds} interleaved runs, each in its own child process.\n`,
    row(['contender', 'wall time', 'CPU time', 'speed-up vs memlab (wall / CPU)', 'peak RSS', 'RSS vs memlab', 'groups found']),
    row(['---', '---:', '---:', '---:', '---:', '---:', '---:']),
  ]
  const medianOf = (runs, key) => median(runs.map((r) => r[key]))
  const memlab = results.memlab
  for (const contender of contenders) {
    const runs = results[contender]
    const [wall, cpu, rss] = [medianOf(runs, 'ms'), medianOf(runs, 'cpuMs'), medianOf(runs, 'peakRss')]
    const speed = memlab ? `${(medianOf(memlab, 'ms') / wall).toFixed(1)}× / ${(medianOf(memlab, 'cpuMs') / cpu).toFixed(1)}×` : 'n/a'
    const rssRatio = memlab ? `${(rss / medianOf(memlab, 'peakRss')).toFixed(2)}×` : 'n/a'
    lines.push(row([contender, seconds(wall), seconds(cpu), speed, megabytes(rss), rssRatio, String(runs[0].groups)]))
  }
  for (const contender of contenders) {
    lines.push('', `Top groups, ${contender}:`)
    for (const g of results[contender][0].top) {
      const size = g.bytes === undefined ? '' : `${megabytes(g.bytes)} in ${g.objects} objects: `
      lines.push(`- ${size}${g.chain.slice(0, 400)}`)
    }
  }
  return lines.join('\n')
}

// ---------------------------------------------------------------------------------------------
// Parent: orchestrate, print
// ---------------------------------------------------------------------------------------------

function spawnChild(args, extraFlags = []) {
  const out = spawnSync(process.execPath, [...extraFlags, __filename, ...args], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  if (out.status !== 0) throw new Error(`child ${args.join(' ')} failed (${out.status}):\n${out.stderr}`)
  return out.stdout
}

function ensureSnapshot(targetMb, regen) {
  const file = path.join(FIXTURES, `heap-${targetMb}mb.heapsnapshot`)
  if (regen || !fs.existsSync(file) || !fs.existsSync(`${file}.ids.json`)) {
    process.stderr.write(`making ${path.relative(process.cwd(), file)} ...\n`)
    spawnChild(['--make', String(targetMb), file], JS_HEAP_FLAGS)
  }
  return file
}

function ensureMemlab() {
  try {
    require.resolve('@memlab/core', { paths: [MEMLAB_DIR] })
    return true
  } catch {}
  process.stderr.write(`installing @memlab/core@${MEMLAB_VERSION} into ${path.relative(process.cwd(), MEMLAB_DIR)} ...\n`)
  fs.mkdirSync(MEMLAB_DIR, { recursive: true })
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
  const out = spawnSync(
    npm,
    ['install', '--no-save', '--no-audit', '--no-fund', '--prefix', MEMLAB_DIR, `@memlab/core@${MEMLAB_VERSION}`],
    { encoding: 'utf8', env: { ...process.env, PUPPETEER_SKIP_DOWNLOAD: '1' } },
  )
  if (out.status !== 0) {
    process.stderr.write(`memlab could not be installed; it is left out:\n${out.stderr}\n`)
    return false
  }
  return true
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}
const seconds = (ms) => (ms >= 10000 ? `${(ms / 1000).toFixed(1)} s` : `${(ms / 1000).toFixed(2)} s`)
const megabytes = (bytes) => `${Math.round(bytes / 2 ** 20)} MB`

function machine() {
  const cpus = os.cpus()
  return `${cpus[0]?.model.trim() ?? 'unknown CPU'} × ${cpus.length}, ${Math.round(os.totalmem() / 2 ** 30)} GB RAM, ` +
    `${os.type()} ${os.release()}; Node ${process.version} (V8 ${process.versions.v8})`
}

/** One measurement per contender per round; the order rotates so none always runs first. */
function measure(file, contenders, rounds) {
  const results = Object.fromEntries(contenders.map((c) => [c, []]))
  for (let round = 0; round < rounds; round++) {
    const order = contenders.map((_, i) => contenders[(i + round) % contenders.length])
    for (const contender of order) {
      const flags = contender === 'uncache-tree' ? [] : JS_HEAP_FLAGS
      const line = spawnChild(['--run', contender, file], flags).trim().split('\n').at(-1)
      results[contender].push(JSON.parse(line))
      process.stderr.write(`  ${path.basename(file)} round ${round + 1}/${rounds}: ${contender} done\n`)
    }
  }
  return results
}

function row(cells) {
  return `| ${cells.join(' | ')} |`
}

function table(allResults, baselineRss) {
  const lines = [
    row(['snapshot', 'contender', 'wall time', 'CPU time', 'speed-up vs memlab parse (wall / CPU)',
      'vs memlab parse + paths (wall / CPU)', 'peak RSS', 'RSS vs memlab', 'retainers found']),
    row(['---', '---', '---:', '---:', '---:', '---:', '---:', '---:', '---:']),
  ]
  for (const { file, size, results } of allResults) {
    const memlab = results.memlab
    const medianOf = (runs, key) => median(runs.map((r) => r[key]))
    const base = memlab && {
      parse: [medianOf(memlab, 'parseMs'), medianOf(memlab, 'parseCpuMs')],
      all: [medianOf(memlab, 'ms'), medianOf(memlab, 'cpuMs')],
      rss: medianOf(memlab, 'peakRss'),
    }
    const label = `${path.basename(file)} (${(size / 1e6).toFixed(0)} MB)`
    const ratios = (baseline, times) =>
      baseline ? `${(baseline[0] / times[0]).toFixed(1)}× / ${(baseline[1] / times[1]).toFixed(1)}×` : 'n/a'
    const entries = [
      ['uncache-tree (Rust, streamed): parse + explain', results['uncache-tree'], 'ms', 'cpuMs'],
      ['plain JS (JSON.parse + same BFS): parse + explain', results['plain-js'], 'ms', 'cpuMs'],
      ['memlab: parse only', memlab, 'parseMs', 'parseCpuMs'],
      ['memlab: parse + shortest paths', memlab, 'ms', 'cpuMs'],
    ]
    for (const [name, runs, wallKey, cpuKey] of entries) {
      if (!runs) continue
      const times = [medianOf(runs, wallKey), medianOf(runs, cpuKey)]
      const rss = medianOf(runs, 'peakRss')
      lines.push(row([
        label, name, seconds(times[0]), seconds(times[1]), ratios(base?.parse, times), ratios(base?.all, times),
        megabytes(rss), base ? `${(rss / base.rss).toFixed(2)}×` : 'n/a', String(runs[0].retainers),
      ]))
    }
  }
  lines.push('', `Peak RSS includes Node itself: an idle child process peaks at ${megabytes(baselineRss)}.`)
  return lines.join('\n')
}

async function main() {
  const args = process.argv.slice(2)
  if (args[0] === '--make') return childMake(Number(args[1]), args[2])
  if (args[0] === '--run') return childRun(args[1], args[2])
  if (args[0] === '--make-diff') return childMakeDiff(Number(args[1]), args[2])
  if (args[0] === '--run-diff') return childRunDiff(args[1], args[2])
  const regen = args.includes('--regen')
  const roundsArg = args.indexOf('--rounds')
  const roundsOverride = roundsArg !== -1 ? Number(args[roundsArg + 1]) : undefined
  const diffMbArg = args.indexOf('--diff-mb')
  const diffMb = diffMbArg !== -1 ? Number(args[diffMbArg + 1]) : 200
  fs.mkdirSync(FIXTURES, { recursive: true })
  if (args.includes('--diff-only')) {
    console.log(`Machine: ${machine()}\n`)
    console.log(diffSection(diffMb, regen, roundsOverride ?? DIFF_ROUNDS))
    return
  }
  const contenders = ['uncache-tree', 'plain-js']
  if (ensureMemlab()) contenders.push('memlab')
  const allResults = []
  for (const size of SIZES_MB) {
    const file = ensureSnapshot(size, regen)
    const results = measure(file, contenders, roundsOverride ?? DEFAULT_ROUNDS[size])
    allResults.push({ file, size: fs.statSync(file).size, results })
  }
  const baselineRss = JSON.parse(spawnChild(['--run', 'baseline', '']).trim()).peakRss
  const rounds = SIZES_MB.map((s) => `${roundsOverride ?? DEFAULT_ROUNDS[s]} (${s} MB)`).join(', ')
  console.log('## Heap snapshot: parse + explain retainers\n')
  console.log(`Machine: ${machine()}\n`)
  console.log(`Median of ${rounds} interleaved runs; each run in its own child process. CPU time counts`)
  console.log(`every thread of the contender's process (V8's GC helpers too); load average at the end:`)
  console.log(`${os.loadavg().map((l) => l.toFixed(1)).join(' / ')} on ${os.cpus().length} CPUs.\n`)
  console.log(table(allResults, baselineRss))
  const sample = allResults.at(-1).results['uncache-tree'][0].sample
  if (sample) {
    console.log(`\nExample chain (uncache-tree, ${path.basename(sample.id)}):`)
    console.log(`  ${sample.path.map((s) => (s.edge ? `${s.node} --${s.edge}-->` : s.node)).join('\n  ')}`)
  }
  console.log('')
  console.log(diffSection(diffMb, regen, roundsOverride ?? DIFF_ROUNDS))
}

main().catch((error) => {
  console.error(error)
  process.exitCode = 1
})
