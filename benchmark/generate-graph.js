'use strict'
// Writes a reproducible CommonJS module graph to disk, for the unload benchmark and its tests.
//
// Shape (n = modules of the main graph, index.js included; the plugin adds 50 more):
// - layers l0..l{L-1} of growing width; every module of layer k > 0 is required by one random
//   module of layer k-1 (so everything is reachable from index.js) and most modules require
//   a few more from later layers. Edges only point to later layers, so it is a DAG whose depth
//   is L: require() nests L deep while loading, never thousands.
// - about 1.5% of the modules are "shared" (think lodash helpers): required by many, with a
//   skewed popularity, which is what makes reference counting do real work.
// - index.js requires layer 0 and then plugin/index.js.
// - plugin/: index.js and 49 private modules in a small DAG of their own, plus edges into
//   shared and mid-layer modules of the main graph. Unloading the plugin must remove the 50
//   plugin files and keep those main-graph modules (and everything they require).
//
// Everything comes from a seeded PRNG, so a given (n, seed) always gives the same files; a stamp
// file lets the benchmark reuse a fixture instead of writing 30k files again.
//
// CLI: node benchmark/generate-graph.js [n ...] [--seed S] [--force]
const fs = require('node:fs')
const path = require('node:path')

const FORMAT = 4 // bump when the shape changes, so old fixtures are rewritten
const DEFAULT_SEED = 0x5eed2024
const PLUGIN_SIZE = 50
const LAYERS = 10
const TOP_LAYER = 20
const FIXTURES = path.join(__dirname, '.fixtures')

/** mulberry32: a tiny 32-bit PRNG, good enough for shuffling a benchmark graph. */
function mulberry32(seed) {
  let a = seed >>> 0
  return function next() {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Layer widths TOP * r^k summing to `total` (r found by bisection; at least 1 per layer). */
function layerWidths(total) {
  const layers = Math.max(1, Math.min(LAYERS, Math.floor(total / 4)))
  const top = Math.min(TOP_LAYER, Math.max(1, Math.floor(total / layers)))
  const sum = (r) => {
    let s = 0
    for (let k = 0; k < layers; k++) s += top * r ** k
    return s
  }
  let lo = 1
  let hi = 16
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2
    if (sum(mid) < total) lo = mid
    else hi = mid
  }
  const widths = []
  let used = 0
  for (let k = 0; k < layers - 1; k++) {
    const w = Math.max(1, Math.round(top * lo ** k))
    widths.push(w)
    used += w
  }
  widths.push(Math.max(1, total - used))
  return widths
}

/**
 * The graph as plain data: `deps[i]` lists the indices module i requires, in require order.
 * Main modules are 0..n-2 (index.js is separate), plugin modules are 0..49 (0 = plugin/index).
 */
function planGraph(n, seed) {
  const rand = mulberry32(seed)
  const int = (k) => Math.floor(rand() * k)
  const total = n - 1 // index.js is the n-th module
  const widths = layerWidths(total)
  const layerStart = [0]
  for (const w of widths) layerStart.push(layerStart[layerStart.length - 1] + w)
  const layerOf = new Int32Array(total)
  for (let k = 0; k < widths.length; k++) layerOf.fill(k, layerStart[k], layerStart[k + 1])
  const pickInLayer = (k) => layerStart[k] + int(widths[k])

  const deps = Array.from({ length: total }, () => [])
  const addDep = (from, to) => {
    if (to > from && !deps[from].includes(to)) deps[from].push(to)
  }
  // Every module below the top layer gets one importer in the layer just above it.
  for (let i = widths[0]; i < total; i++) addDep(pickInLayer(layerOf[i] - 1), i)

  // The shared pool: every 50th module of the three bottom layers (helpers sit low in a real
  // app's graph: a popular module with a huge subtree would drag that subtree into every
  // closure), with popularity skewed towards the front.
  const shared = []
  for (let i = layerStart[Math.max(0, widths.length - 3)]; i < total; i += 50) shared.push(i)
  const pickShared = (after) => {
    for (let tries = 0; tries < 4; tries++) {
      const s = shared[Math.floor(shared.length * rand() ** 2)]
      if (s > after) return s
    }
    return -1
  }

  for (let i = 0; i < total; i++) {
    const k = layerOf[i]
    if (k + 1 < widths.length) {
      // 1-3 more dependencies in the next one or two layers
      const extra = 1 + int(3)
      for (let e = 0; e < extra; e++) {
        const target = Math.min(widths.length - 1, k + 1 + int(2))
        addDep(i, pickInLayer(target))
      }
    }
    // about 65% of the modules use a shared helper, some two
    const r = rand()
    const sharedCount = r < 0.35 ? 0 : r < 0.85 ? 1 : 2
    for (let e = 0; e < sharedCount; e++) {
      const s = pickShared(i)
      if (s >= 0) addDep(i, s)
    }
  }

  // The plugin: index (0) requires 5 modules, each later one has an importer earlier in the
  // plugin and maybe one more edge, so the private part is a DAG of depth about 5.
  const pluginDeps = Array.from({ length: PLUGIN_SIZE }, () => [])
  const pluginMain = Array.from({ length: PLUGIN_SIZE }, () => [])
  for (let j = 1; j < PLUGIN_SIZE; j++) {
    const importer = j <= 5 ? 0 : 1 + int(j - 1) // a random recursive tree: depth ~ ln 49
    if (!pluginDeps[importer].includes(j)) pluginDeps[importer].push(j)
  }
  for (let j = 1; j < PLUGIN_SIZE - 1; j++) {
    if (rand() < 0.5) {
      const t = j + 1 + int(PLUGIN_SIZE - j - 1)
      if (!pluginDeps[j].includes(t)) pluginDeps[j].push(t)
    }
  }
  // Edges into the main graph: six shared helpers and two ordinary
  // modules three and two layers above the bottom, each with a subtree that the reference
  // counting has to keep (a few hundred modules in all, about what a plugin that uses a
  // framework's helpers reaches).
  const L = widths.length
  const intoMain = new Set()
  while (intoMain.size < Math.min(6, shared.length)) intoMain.add(shared[int(shared.length)])
  intoMain.add(pickInLayer(Math.max(0, L - 3)))
  intoMain.add(pickInLayer(Math.max(0, L - 2)))
  for (const m of intoMain) pluginMain[1 + int(PLUGIN_SIZE - 1)].push(m)
  pluginMain[0].push(shared[0]) // the plugin entry itself uses the most popular helper

  return { total, widths, layerOf, deps, shared, pluginDeps, pluginMain }
}

const pad = (i) => String(i).padStart(6, '0')
const mainFile = (g, i) => `l${g.layerOf[i]}/m${pad(i)}.js`
const pluginFile = (j) => (j === 0 ? 'plugin/index.js' : `plugin/lib/p${pad(j)}.js`)

/** One module's source: requires in order, exports something that holds its dependencies. */
function source(id, fromDir, files) {
  const lines = ["'use strict'"]
  files.forEach((file, k) => {
    let rel = path.posix.relative(fromDir, file)
    if (!rel.startsWith('.')) rel = `./${rel}`
    lines.push(`const d${k} = require('${rel}')`)
  })
  const list = files.map((_, k) => `d${k}`).join(', ')
  lines.push(`module.exports = { id: '${id}', deps: [${list}] }`, '')
  return lines.join('\n')
}

/**
 * Writes graph-<n> (reusing it when its stamp matches) and returns its manifest:
 * `{ dir, entry, plugin, pluginFiles, pluginMainDeps, shared, files, edges }`, all paths absolute.
 */
function generateGraph(n, { seed = DEFAULT_SEED, dir = path.join(FIXTURES, `graph-${n}`), force = false } = {}) {
  if (!Number.isInteger(n) || n < 20) throw new RangeError(`graph size must be an integer >= 20, got ${n}`)
  const stampFile = path.join(dir, 'stamp.json')
  const stamp = { format: FORMAT, n, seed }
  if (!force && fs.existsSync(stampFile)) {
    const old = JSON.parse(fs.readFileSync(stampFile, 'utf8'))
    if (old.format === FORMAT && old.n === n && old.seed === seed) return absolute(dir, old.manifest)
  }

  const g = planGraph(n, seed)
  // Write into a fresh sibling directory and rename at the end, so an interrupted run never
  // leaves a half-written fixture behind a valid stamp.
  const tmp = `${dir}.tmp-${process.pid}`
  fs.rmSync(tmp, { recursive: true, force: true })
  const write = (rel, text) => {
    const file = path.join(tmp, rel)
    fs.mkdirSync(path.dirname(file), { recursive: true })
    fs.writeFileSync(file, text)
  }
  let edges = 0
  for (let i = 0; i < g.total; i++) {
    const file = mainFile(g, i)
    edges += g.deps[i].length
    write(file, source(`m${i}`, path.posix.dirname(file), g.deps[i].map((d) => mainFile(g, d))))
  }
  for (let j = 0; j < PLUGIN_SIZE; j++) {
    const file = pluginFile(j)
    const files = [...g.pluginDeps[j].map(pluginFile), ...g.pluginMain[j].map((m) => mainFile(g, m))]
    edges += files.length
    write(file, source(`p${j}`, path.posix.dirname(file), files))
  }
  const top = []
  for (let i = 0; i < g.total && g.layerOf[i] === 0; i++) top.push(mainFile(g, i))
  edges += top.length + 1
  write('index.js', source('index', '.', [...top, pluginFile(0)]))

  const manifest = {
    n,
    seed,
    layers: g.widths,
    files: g.total + 1 + PLUGIN_SIZE,
    edges,
    entry: 'index.js',
    plugin: pluginFile(0),
    pluginFiles: Array.from({ length: PLUGIN_SIZE }, (_, j) => pluginFile(j)),
    pluginMainDeps: [...new Set(g.pluginMain.flat())].map((m) => mainFile(g, m)),
    shared: g.shared.map((s) => mainFile(g, s)),
  }
  fs.writeFileSync(path.join(tmp, 'stamp.json'), `${JSON.stringify({ ...stamp, manifest }, null, 1)}\n`)
  fs.rmSync(dir, { recursive: true, force: true })
  fs.mkdirSync(path.dirname(dir), { recursive: true })
  fs.renameSync(tmp, dir)
  return absolute(dir, manifest)
}

function absolute(dir, manifest) {
  const abs = (rel) => path.join(dir, rel)
  return {
    ...manifest,
    dir,
    entry: abs(manifest.entry),
    plugin: abs(manifest.plugin),
    pluginFiles: manifest.pluginFiles.map(abs),
    pluginMainDeps: manifest.pluginMainDeps.map(abs),
    shared: manifest.shared.map(abs),
  }
}

/**
 * `graph` with app.js as its entry: app.js requires index.js, then barrel.js, which requires every
 * module of the main graph (an `index.js` that re-exports a whole library, as real apps have).
 * An importer chain that reaches app.js then meets a module with thousands of dependencies.
 * The two files are written next to the graph's own, only when their text differs, so a cached
 * fixture is not rewritten by every run.
 */
function withBarrel(graph) {
  const layers = fs.readdirSync(graph.dir).filter((name) => /^l\d+$/.test(name)).sort((a, b) => a.slice(1) - b.slice(1))
  const main = layers.flatMap((layer) => fs.readdirSync(path.join(graph.dir, layer)).sort().map((name) => path.join(graph.dir, layer, name)))
  const barrel = path.join(graph.dir, 'barrel.js')
  const app = path.join(graph.dir, 'app.js')
  const writeIfChanged = (file, text) => {
    if (!fs.existsSync(file) || fs.readFileSync(file, 'utf8') !== text) fs.writeFileSync(file, text)
  }
  writeIfChanged(barrel, `${main.map((file) => `require(${JSON.stringify(file)})`).join('\n')}\n`)
  writeIfChanged(app, `require(${JSON.stringify(graph.entry)})\nrequire(${JSON.stringify(barrel)})\n`)
  return { ...graph, entry: app, barrel, index: graph.entry }
}

/**
 * After an unload of the plugin, requires it again from index.js (the graph's own importer of
 * it, through Module.prototype.require: an edge the loader records), so the graph has the shape
 * it had after the first require, and an importer chain from a plugin file still reaches the entry.
 */
function requirePluginAgain(graph) {
  const importer = require.cache[graph.index ?? graph.entry]
  if (importer === undefined) return require(graph.entry)
  return importer.require(graph.plugin)
}

/**
 * The plugin file a change to which reaches the most of the plugin: among the plugin's leaves
 * (no plugin file below them), the one most plugin files require, directly or not (the last in
 * file order on a tie). The plugin's private DAG differs from one graph size to the next (it is
 * drawn after the main graph), and so does the importer chain of any fixed file: at 10k the last
 * plugin file has 8 importers, at 1k 27. This choice keeps an invalidation's work alike across
 * sizes. Reads the loaded plugin's `children` (require the graph first).
 */
function deepestPluginLeaf(graph) {
  const files = new Set(graph.pluginFiles)
  const below = new Map() // plugin file -> the plugin files it requires
  for (const file of graph.pluginFiles) {
    const m = require.cache[file]
    if (m === undefined) throw new Error(`deepestPluginLeaf: ${file} is not loaded`)
    below.set(file, m.children.map((c) => c.filename).filter((f) => files.has(f)))
  }
  const importers = new Map(graph.pluginFiles.map((f) => [f, 0]))
  for (const file of graph.pluginFiles) {
    const seen = new Set()
    const stack = [...below.get(file)]
    while (stack.length > 0) {
      const f = stack.pop()
      if (seen.has(f)) continue
      seen.add(f)
      importers.set(f, importers.get(f) + 1)
      stack.push(...below.get(f))
    }
  }
  let best
  for (const file of graph.pluginFiles) {
    if (below.get(file).length === 0 && (best === undefined || importers.get(file) >= importers.get(best))) best = file
  }
  return best
}

module.exports = { generateGraph, withBarrel, requirePluginAgain, deepestPluginLeaf, mulberry32, DEFAULT_SEED, PLUGIN_SIZE }

if (require.main === module) {
  const args = process.argv.slice(2)
  const seedAt = args.indexOf('--seed')
  const seed = seedAt >= 0 ? Number(args.splice(seedAt, 2)[1]) : DEFAULT_SEED
  const force = args.includes('--force')
  const sizes = args.filter((a) => !a.startsWith('--')).map(Number)
  for (const n of sizes.length ? sizes : [1000, 10000, 30000]) {
    const started = Date.now()
    const m = generateGraph(n, { seed, force })
    console.log(`${path.relative(process.cwd(), m.dir)}: ${m.files} modules, ${m.edges} edges, layers ${m.layers.join('/')} (${Date.now() - started} ms)`)
  }
}
