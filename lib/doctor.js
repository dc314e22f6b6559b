'use strict'
// The doctor: proof (or disproof) that a module tree can be reloaded without leaking, run in
// this very process. It loads the entry, then unloads and reloads it `cycles` times, samples
// the heap after forced collections, checks with weak references which old generations
// survived, and asks a heap snapshot who holds each survivor.
//
// It must run in the process it measures: the references that keep an old generation alive
// (timers, listeners, globals, Node's own slots) exist only there. So everything the doctor
// keeps between cycles is weak or plain data (reports, numbers); it never holds an old
// generation's module or exports itself.
const Module = require('node:module')
const path = require('node:path')
const { invalidArgType, invalidArgValue, explain, UncacheError } = require('./errors.js')
const { checkObject, checkBoolean } = require('./options.js')
const { uncacheTree } = require('./unload.js')
const { verifyReports, DEFAULT_TIMEOUT_MS } = require('./verify.js')
const { forceGc } = require('./gc.js')
const { explainRetainers } = require('./retainers.js')
// The whole package, loaded (and held) by the doctor before the entry: it installs the requirer
// registry, and an entry that requires 'uncache-tree' then finds it loaded and held here, instead
// of pulling the package's own files into its tree and unloading them every cycle.
require('../index.js')

const DEFAULT_CYCLES = 20
const MAX_CYCLES = 100_000
// At most this many heap samples (a chart of 60 points fits 80 columns); more cycles sample
// every k-th one. Each sample costs a full collection, which is slow on a large heap.
const MAX_SAMPLES = 60
// Below this growth per cycle a trend is noise (JIT code, inline caches, the doctor's own
// reports), not a leak worth a warning.
const NOISE_BYTES_PER_CYCLE = 64 * 1024

/** Why Node itself, not the program, holds a generation (report.pinned[].by), in words. */
const NODE_PIN_REASONS = {
  'last-parent':
    "Node's private last-parent slot: a module that stays loaded was first required by this generation " +
    '(Node >= 22 keeps that parent and there is no API to clear it). Bounded: one generation, it does not grow. ' +
    'To avoid it, require the shared module from a long-lived module before the reloadable code does.',
  'esm-loader':
    "Node's ESM loader: this file was loaded with import, and the loader's caches keep the first instance " +
    'for the life of the process. Load reloadable code with require.',
  'require-esm':
    "Node's ESM loader: this is an ES module loaded with require(); the loader keeps its one instance for the " +
    'life of the process and never evaluates it again.',
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve))

/** `entry` as a require.cache key: a path (relative to `cwd`) first, else a package name. */
function resolveEntry(entry, cwd) {
  if (typeof entry !== 'string') throw invalidArgType('entry', 'of type string', entry)
  if (entry === '') throw invalidArgValue('entry', entry, 'must name a file or a package')
  if (Module.isBuiltin(entry)) throw explain.builtin(entry)
  const fromCwd = Module.createRequire(path.join(cwd, '[doctor]'))
  let resolved
  let firstError
  try {
    resolved = fromCwd.resolve(path.resolve(cwd, entry))
  } catch (error) {
    firstError = error
    // `doctor my-plugin` may name an installed package rather than a file in cwd.
    try {
      resolved = fromCwd.resolve(entry)
    } catch {
      throw explain.unresolved(entry, cwd, firstError)
    }
  }
  if (resolved.endsWith('.node')) throw explain.nativeAddon(resolved)
  return resolved
}

/** The smallest 1, 2 or 5 × 10^k >= n: samples at round cycle numbers make a readable axis. */
function roundUp(n) {
  for (let power = 1; ; power *= 10) {
    for (const m of [1, 2, 5]) if (m * power >= n) return m * power
  }
}

function parseDoctorOptions(options) {
  const o = checkObject(options)
  const cwd = o.cwd === undefined ? process.cwd() : o.cwd
  if (typeof cwd !== 'string' || !path.isAbsolute(cwd)) {
    throw invalidArgType('options.cwd', 'an absolute directory path', cwd)
  }
  const cycles = o.cycles === undefined ? DEFAULT_CYCLES : o.cycles
  if (typeof cycles !== 'number') throw invalidArgType('options.cycles', 'of type number', cycles)
  if (!Number.isInteger(cycles) || cycles < 1 || cycles > MAX_CYCLES) {
    throw invalidArgValue('options.cycles', cycles, `must be an integer from 1 to ${MAX_CYCLES}`)
  }
  let sampleEvery = o.sampleEvery === undefined ? roundUp(Math.ceil(cycles / MAX_SAMPLES)) : o.sampleEvery
  if (typeof sampleEvery !== 'number') throw invalidArgType('options.sampleEvery', 'of type number', sampleEvery)
  if (!Number.isInteger(sampleEvery) || sampleEvery < 1) {
    throw invalidArgValue('options.sampleEvery', sampleEvery, 'must be an integer >= 1')
  }
  sampleEvery = Math.min(sampleEvery, cycles)
  const timeoutMs = o.timeoutMs === undefined ? DEFAULT_TIMEOUT_MS : o.timeoutMs
  // Checked here, as verifyCollected() checks it, so that a bad value fails before the cycles run.
  if (typeof timeoutMs !== 'number') throw invalidArgType('options.timeoutMs', 'of type number', timeoutMs)
  if (!(timeoutMs >= 0) || !Number.isFinite(timeoutMs)) {
    throw invalidArgValue('options.timeoutMs', timeoutMs, 'must be a finite number >= 0')
  }
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') {
    throw invalidArgType('options.onProgress', 'a function', o.onProgress)
  }
  return {
    cwd,
    cycles,
    sampleEvery,
    timeoutMs,
    retainers: checkBoolean(o.retainers, 'options.retainers', true),
    onProgress: o.onProgress ?? (() => {}),
  }
}

/**
 * The heap after full collections. Call it in a later turn than the last unload: the report's
 * weak references keep their targets alive until the end of the job that made them.
 * Two collections a turn apart: V8 frees ArrayBuffer backing stores on a background thread after
 * a collection, so `arrayBuffers` read right after one still counts freed buffers now and then
 * (a 1 MB spike on a flat line); the second collection waits for that sweep to finish.
 */
async function sampleHeap(cycle) {
  forceGc()
  await nextTurn()
  forceGc()
  const { heapUsed, arrayBuffers, external, rss } = process.memoryUsage()
  return { cycle, heapUsed, arrayBuffers, external, rss }
}

const totalOf = (s) => s.heapUsed + s.arrayBuffers

/** Least-squares slope of heapUsed + arrayBuffers over the cycle number, in bytes per cycle. */
function slope(samples) {
  const n = samples.length
  if (n < 2) return 0
  let sx = 0
  let sy = 0
  for (const s of samples) {
    sx += s.cycle
    sy += totalOf(s)
  }
  const mx = sx / n
  const my = sy / n
  let num = 0
  let den = 0
  for (const s of samples) {
    num += (s.cycle - mx) * (totalOf(s) - my)
    den += (s.cycle - mx) ** 2
  }
  return den === 0 ? 0 : num / den
}

function growthOf(samples) {
  const first = samples[0]
  const last = samples[samples.length - 1]
  return {
    heapUsed: last.heapUsed - first.heapUsed,
    arrayBuffers: last.arrayBuffers - first.arrayBuffers,
    total: totalOf(last) - totalOf(first),
    perCycle: Math.round(slope(samples)),
  }
}

function loadFailed(entryId, cycle, cause) {
  const when = cycle === 0 ? 'on its first load' : `when it was loaded again in cycle ${cycle}`
  const what = cause instanceof Error ? cause.message : String(cause)
  return new UncacheError(
    'ERR_UNCACHE_DOCTOR_LOAD_FAILED',
    `${entryId} threw ${when}: ${what}. The doctor needs an entry that loads by itself with require(); ` +
      'fix the error (its stack is in `cause`), or point the doctor at the module that your host loads.',
    { cause, id: entryId },
  )
}

/**
 * The shape of a chain, for grouping: array indices dropped (the 3rd and the 7th entry of the
 * same global array are the same culprit) and runs of links through the same edge folded into
 * the first (the Nth timer of a list is reached through N `_idlePrev` links, from the list and
 * then from timer to timer: all of them are "a timer in that list").
 */
function chainShape(chain) {
  const links = []
  let lastEdge
  for (const { node, edge } of chain) {
    const e = /^\[\d+\]$/.test(edge) ? '[]' : edge
    if (e !== '' && e === lastEdge) continue
    links.push(`${node}\u0000${e}`)
    lastEdge = e
  }
  return links.join('\u0001')
}

/**
 * Groups the survivors' retainer chains by shape: an id with twenty leaked generations has
 * twenty chains that differ only in an index or in how far down a list the generation sits, and
 * a person wants to read that chain once. Each group shows its shortest chain.
 */
function groupChains(retainers) {
  const byId = new Map()
  for (const { id, path: chain } of retainers) {
    let groups = byId.get(id)
    if (groups === undefined) byId.set(id, (groups = new Map()))
    const key = chainShape(chain)
    const group = groups.get(key)
    if (group === undefined) groups.set(key, { path: chain, generations: 1 })
    else {
      group.generations++
      if (chain.length < group.path.length) group.path = chain
    }
  }
  const result = new Map()
  for (const [id, groups] of byId) {
    // The chains shared by most generations first; among equals the shorter first.
    const list = [...groups.values()].sort((a, b) => b.generations - a.generations || a.path.length - b.path.length)
    result.set(id, list)
  }
  return result
}

/**
 * Per id: which old generations (by cycle) are alive, and which of those Node itself holds.
 * Generation c of an id is the instance that cycle c unloaded.
 */
function findSurvivors(reports, results) {
  const survivors = new Map()
  results.forEach((result, index) => {
    if (result.alive.length === 0) return
    const cycle = index + 1
    const pins = new Map(reports[index].pinned.map((p) => [p.id, p.by]))
    for (const id of result.alive) {
      let s = survivors.get(id)
      if (s === undefined) survivors.set(id, (s = { id, cycles: [], nodePins: [] }))
      s.cycles.push(cycle)
      const by = pins.get(id)
      if (by !== undefined) s.nodePins.push({ cycle, by })
    }
  })
  return [...survivors.values()]
}

function describeSurvivor(s, cycles, chains) {
  const heldByNode = s.nodePins.length
  const reasons = [...new Set(s.nodePins.map((p) => p.by))]
  return {
    id: s.id,
    alive: s.cycles.length,
    of: cycles,
    cycles: s.cycles,
    // 'program' when at least one generation is held by something other than Node's own slots:
    // that is what the user can (and must) fix.
    heldBy: heldByNode === s.cycles.length ? 'node' : 'program',
    nodePins: heldByNode === 0 ? [] : reasons.map((by) => ({ by, generations: s.nodePins.filter((p) => p.by === by).length, why: NODE_PIN_REASONS[by] ?? by })),
    chains: chains ?? [],
  }
}

/**
 * Loads `entry`, unloads and reloads it `cycles` times, and reports heap growth, the old
 * generations that survived and, for each survivor, the chains of references that hold it.
 *
 * @param {string} entry a file (relative to `options.cwd`) or a package name
 * @param {{ cycles?: number, sampleEvery?: number, timeoutMs?: number, retainers?: boolean,
 *   cwd?: string, onProgress?: (event: object) => void }} [options]
 * @returns {Promise<DoctorResult>} see bin/uncache-tree.js --help and README "Doctor"
 */
async function doctor(entry, options) {
  const opts = parseDoctorOptions(options)
  const entryId = resolveEntry(entry, opts.cwd)
  const started = Date.now()
  // Warnings Node emits during the run belong in the diagnosis: a MaxListenersExceededWarning
  // is often the first visible sign of a listener leak.
  const warnings = new Map()
  const onWarning = (warning) => {
    const key = `${warning.name}: ${warning.message}`
    warnings.set(key, (warnings.get(key) ?? 0) + 1)
  }
  process.on('warning', onWarning)
  try {
    return await run(entryId, opts, warnings, started)
  } finally {
    process.removeListener('warning', onWarning)
  }
}

async function run(entryId, opts, warnings, started) {
  const progress = opts.onProgress
  const load = (cycle) => {
    try {
      require(entryId)
    } catch (error) {
      throw loadFailed(entryId, cycle, error)
    }
  }

  progress({ phase: 'load', cycle: 0, cycles: opts.cycles })
  load(0)
  // A turn of the event loop lets the entry's setImmediate/promise start-up work run, as it
  // would in a host, before anything is measured.
  await nextTurn()
  const samples = [await sampleHeap(0)]
  const reports = []
  const disposeErrors = []
  for (let cycle = 1; cycle <= opts.cycles; cycle++) {
    const report = uncacheTree(entryId)
    reports.push(report)
    for (const error of report.errors) {
      disposeErrors.push({ cycle, message: error instanceof Error ? error.message : String(error) })
    }
    load(cycle)
    await nextTurn()
    if (cycle % opts.sampleEvery === 0 || cycle === opts.cycles) {
      const sample = await sampleHeap(cycle)
      samples.push(sample)
      progress({ phase: 'cycle', cycle, cycles: opts.cycles, heap: totalOf(sample) })
    } else {
      progress({ phase: 'cycle', cycle, cycles: opts.cycles })
    }
  }

  progress({ phase: 'verify', cycles: opts.cycles })
  const results = await verifyReports(reports, { timeoutMs: opts.timeoutMs })
  const found = findSurvivors(reports, results)

  let chainsById = new Map()
  let retainersError
  if (found.length > 0 && opts.retainers) {
    progress({ phase: 'retainers', survivors: found.length })
    try {
      chainsById = groupChains(await explainRetainers(found.map((s) => s.id)))
    } catch (error) {
      // The survivors are proven by weak references already; a failed explanation must not
      // hide them. The result says why the chains are missing.
      retainersError = (error instanceof Error ? error.message : String(error)).split('\n')[0]
    }
  }

  const survivors = found.map((s) => describeSurvivor(s, opts.cycles, chainsById.get(s.id)))
  const modulesPerCycle = reports.map((r) => r.removed.length)
  const aliveGenerations = survivors.reduce((n, s) => n + s.alive, 0)
  const growth = growthOf(samples)
  const leaked = survivors.some((s) => s.heldBy === 'program')
  const notes = []
  if (!leaked && growth.perCycle > NOISE_BYTES_PER_CYCLE) {
    notes.push(
      `The heap grew by about ${Math.round(growth.perCycle / 1024)} KB per cycle although no module generation was kept alive by the program: ` +
        'something the entry creates is retained without its module (a closure over local state registered elsewhere, ' +
        'a cache in a module that stays loaded).',
    )
  }
  if (retainersError !== undefined) notes.push(`The retainer chains could not be computed: ${retainersError}`)

  return {
    entry: entryId,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cycles: opts.cycles,
    sampleEvery: opts.sampleEvery,
    durationMs: Date.now() - started,
    modules: { perCycle: modulesPerCycle.reduce((a, b) => Math.max(a, b), 0), unloaded: modulesPerCycle.reduce((a, b) => a + b, 0), alive: aliveGenerations },
    samples,
    growth,
    survivors,
    disposeErrors,
    // Node emits warnings on a later tick than their cause; the verification above turns the
    // event loop many times, so the last cycle's are in too.
    warnings: [...warnings].map(([message, count]) => ({ message, count })),
    notes,
    leaked,
    exitCode: leaked ? 1 : 0,
  }
}

module.exports = { doctor, resolveEntry, DEFAULT_CYCLES, MAX_CYCLES, NODE_PIN_REASONS }
