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
//
// A leak is anything that grows with the reloads: the heap (a robust trend), counts that cost
// almost no memory (listeners, timers, servers, fds, threads: resources.js and count-leaks.js),
// objects hung on something that stays (the three-snapshot diff, by object count as well as
// bytes), a MaxListenersExceededWarning, or a package that refuses the second load. node_modules
// stays loaded across cycles unless reloadDeps, as in a host.
const Module = require('node:module')
const path = require('node:path')
const { invalidArgType, invalidArgValue, explain, UncacheError } = require('../errors.js')
const { checkObject, checkBoolean, parseKeep } = require('../options.js')
const { uncacheTree } = require('../graph/unload.js')
const { verifyReports, DEFAULT_TIMEOUT_MS } = require('./verify.js')
const { forceGc } = require('./gc.js')
const { explainRetainers, snapshotSeries, renderRequireCache } = require('./retainers.js')
const { countResources, growingCounts } = require('./resources.js')
const { keptEmitters, Tracer, describeCountLeak, refusalOf } = require('./count-leaks.js')
const { packageOf, knownPackage } = require('./advice.js')
const native = require('../native.js')
// The whole package, loaded (and held) by the doctor before the entry: it installs the requirer
// registry, and an entry that requires 'uncache-tree' then finds it loaded and held here, instead
// of pulling the package's own files into its tree and unloading them every cycle.
require('../../index.js')

const DEFAULT_CYCLES = 20
const MAX_CYCLES = 100_000
// At most this many heap samples (a chart of 60 points fits 80 columns); more cycles sample
// every k-th one. Each sample costs a full collection, which is slow on a large heap.
const MAX_SAMPLES = 200
// Below this growth per cycle a trend is not a leak worth failing a build for: JIT code, inline
// caches and the doctor's own per-cycle bookkeeping (its reports) stay well under it.
const MIN_GROWTH_PER_CYCLE = 64 * 1024
// One-sided Mann-Kendall test at p < 0.01: the samples after warm-up rise more often than they
// fall by more than chance would give.
const TREND_Z = 2.33
// A rise over the whole window smaller than this many noise widths is not told from noise.
const NOISE_WIDTHS = 3
// How many of the biggest growing groups the result lists.
const MAX_GROUPS = 8
// Groups smaller than this per cycle are not worth naming (one-off allocations spread over k cycles).
const MIN_GROUP_BYTES_PER_CYCLE = 4 * 1024

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
      throw explain.unresolved(entry, cwd, firstError, 'Pass the path of a file (absolute, or relative to the current directory) or the name of a package installed there.')
    }
  }
  if (resolved.endsWith('.node')) throw explain.nativeAddon(resolved)
  if (isEsm(resolved)) throw esmEntry(resolved)
  return resolved
}

/** Whether `file` is an ES module by its name or its package's `type`. */
function isEsm(file) {
  if (/\.m[jt]s$/.test(file)) return true
  if (!/\.[jt]s$/.test(file)) return false
  for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
    let text
    try {
      text = require('node:fs').readFileSync(path.join(dir, 'package.json'), 'utf8')
    } catch {
      if (dir === path.dirname(dir)) return false
      continue
    }
    try {
      return JSON.parse(text).type === 'module'
    } catch {
      return false
    }
  }
}

function esmEntry(id) {
  return new UncacheError(
    'ERR_UNCACHE_DOCTOR_ESM',
    `${id} is an ES module: Node's ESM loader keeps every module it evaluated for the life of the process ` +
      'and never evaluates it again, so it cannot be reloaded and the doctor has nothing to measure. ' +
      'Point the doctor at CommonJS code (a .js/.cjs file in a package without "type": "module", or the output of ' +
      'your build), or use a loader that compiles to CommonJS with --require (e.g. --require tsx/cjs).',
    { id },
  )
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
  const requires = o.require === undefined ? [] : o.require
  if (!Array.isArray(requires)) throw invalidArgType('options.require', 'an array of module names', requires)
  requires.forEach((r, i) => {
    if (typeof r !== 'string' || r === '') throw invalidArgType(`options.require[${i}]`, 'a non-empty string', r)
  })
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') {
    throw invalidArgType('options.onProgress', 'a function', o.onProgress)
  }
  return {
    cwd,
    cycles,
    sampleEvery,
    timeoutMs,
    retainers: checkBoolean(o.retainers, 'options.retainers', true),
    growthSnapshots: checkBoolean(o.growthSnapshots, 'options.growthSnapshots', true),
    keep: parseKeep(o.keep),
    reloadDeps: checkBoolean(o.reloadDeps, 'options.reloadDeps', false),
    requires,
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

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length === 0 ? 0 : sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/**
 * A trend robust to noise over points `{ x, y }`: the Theil–Sen slope (the median of the slopes
 * between every pair of points: one freak sample cannot tilt it), its intercept, the noise around
 * the line (1.4826 × the median absolute residual: the standard deviation for normal noise,
 * untouched by outliers) and the Mann–Kendall statistic z (how much more often later points are
 * above earlier ones than below, in standard deviations of what chance gives).
 */
function fitTrend(points) {
  const n = points.length
  if (n < 3) return { slope: 0, intercept: n > 0 ? points[0].y : 0, noise: 0, z: 0 }
  const slopes = []
  let s = 0
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const dy = points[j].y - points[i].y
      if (points[j].x !== points[i].x) slopes.push(dy / (points[j].x - points[i].x))
      s += Math.sign(dy)
    }
  }
  const slope = median(slopes)
  const intercept = median(points.map((p) => p.y - slope * p.x))
  const noise = 1.4826 * median(points.map((p) => Math.abs(p.y - intercept - slope * p.x)))
  const variance = (n * (n - 1) * (2 * n + 5)) / 18
  const z = s === 0 ? 0 : (s - Math.sign(s)) / Math.sqrt(variance)
  return { slope, intercept, noise, z }
}

/**
 * The growth verdict over the samples after warm-up: growing when the samples rise steadily
 * (Mann–Kendall, p < 0.01), by at least MIN_GROWTH_PER_CYCLE, by more over the window than
 * NOISE_WIDTHS widths of the noise around the trend, and still rise in the later half. A clean plugin that allocates and frees a lot
 * has a noisy but flat line; a leak of 1 MB per cycle rises far above any noise.
 */
function growthOf(samples, warmup) {
  const window = samples.filter((s) => s.cycle >= warmup)
  const points = window.map((s) => ({ x: s.cycle, y: totalOf(s) }))
  const { slope, intercept, noise, z } = fitTrend(points)
  const from = window.length > 0 ? window[0].cycle : 0
  const to = window.length > 0 ? window[window.length - 1].cycle : 0
  const span = to - from
  // A leak goes on growing: the later half of the window must rise too. A one-time step (a
  // lazily built table, V8's first heap snapshot setting up its bookkeeping) tilts the line over
  // the whole window but leaves the later half flat.
  const late = fitTrend(points.slice(Math.floor(points.length / 2)))
  // Nor is one jump between two samples (a heap snapshot's own tables, allocated a little after
  // it was measured): a leak adds about the same every cycle, so no single step carries half the rise.
  let biggestStep = 0
  for (let i = 1; i < points.length; i++) biggestStep = Math.max(biggestStep, points[i].y - points[i - 1].y)
  const growing =
    biggestStep <= Math.max(0.5, 2 / (points.length - 1)) * slope * span &&
    points.length >= 3 &&
    z > TREND_Z &&
    slope >= MIN_GROWTH_PER_CYCLE &&
    slope * span > NOISE_WIDTHS * noise &&
    late.slope >= MIN_GROWTH_PER_CYCLE / 2
  const first = window[0] ?? samples[0]
  const last = samples[samples.length - 1]
  return {
    fromCycle: from,
    toCycle: to,
    // Along the fitted line, so that the total and the per-cycle figure always agree.
    perCycle: Math.round(slope),
    total: Math.round(slope * span),
    intercept: Math.round(intercept),
    noise: Math.round(noise),
    z: Math.round(z * 100) / 100,
    growing,
    // What the samples themselves say, first sample after warm-up to the last.
    measured: {
      heapUsed: last.heapUsed - first.heapUsed,
      arrayBuffers: last.arrayBuffers - first.arrayBuffers,
      total: totalOf(last) - totalOf(first),
    },
  }
}

/** Thrown in place of exiting when the entry calls process.exit() during the run. */
class EntryExit extends Error {
  constructor(code) {
    super(`called process.exit(${code === undefined ? '' : code})`)
    this.exitCode = code
  }
}

/** Why a load failed, and what to do: the hint depends on the error. */
function hintFor(cause, cycle, entryId) {
  if (cycle === 0 && entryId !== undefined && /\.[cm]?tsx?$/.test(entryId) && isSyntaxOrExtension(cause)) {
    return 'It is TypeScript, which this Node does not load by itself: run the doctor again with a loader that ' +
      'compiles to CommonJS, e.g. `--require tsx/cjs` (npm install -D tsx), or point it at your build output.'
  }
  if (cause instanceof EntryExit) {
    return 'The doctor runs the entry inside its own process, so the entry must not exit: ' +
      'move the process.exit() call to your host, or point the doctor at a module that only sets things up.'
  }
  if (cause?.code === 'EADDRINUSE' && cycle > 0) {
    return 'The previous copy still listens on that port: close the server in a hot(module).dispose() handler ' +
      '(server.close(), and server.closeAllConnections() on Node >= 18.2) so that the next load can listen again.'
  }
  return 'The doctor needs an entry that loads by itself with require(); fix the error (its stack is in `cause`), ' +
    'or point the doctor at the module that your host loads.'
}

function isSyntaxOrExtension(cause) {
  return cause instanceof SyntaxError || cause?.code === 'ERR_UNKNOWN_FILE_EXTENSION' || cause?.code === 'ERR_UNSUPPORTED_NODE_MODULES_TYPE_STRIPPING' ||
    cause?.code === 'ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX' || cause?.code === 'ERR_INVALID_TYPESCRIPT_SYNTAX'
}

function loadFailed(entryId, cycle, cause) {
  const when = cycle === 0 ? 'on its first load' : `when it was loaded again in cycle ${cycle}`
  const what = cause instanceof EntryExit ? cause.message : cause instanceof Error ? cause.message : String(cause)
  const verb = cause instanceof EntryExit ? '' : 'threw '
  // A TypeScript entry without a loader is a usage error: nothing ran yet.
  const needsLoader = cycle === 0 && /\.[cm]?tsx?$/.test(entryId) && isSyntaxOrExtension(cause)
  return new UncacheError(needsLoader ? 'ERR_UNCACHE_DOCTOR_NEEDS_LOADER' : 'ERR_UNCACHE_DOCTOR_LOAD_FAILED', `${entryId} ${verb}${when}: ${what}. ${hintFor(cause, cycle, entryId)}`, {
    cause,
    id: entryId,
  })
}

/** The same, for an error the entry threw later, from a timer or a listener, or an exit there. */
function asyncFailed(entryId, cycle, cause) {
  const what = cause instanceof Error ? cause.message : String(cause)
  const verb = cause instanceof EntryExit ? '' : 'threw '
  return new UncacheError(
    'ERR_UNCACHE_DOCTOR_LOAD_FAILED',
    `${entryId} ${verb}while the doctor was running (after cycle ${cycle}): ${what}. ${hintFor(cause, cycle)}`,
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

/** This package's own code: what its bookkeeping (the doctor's reports, the engine's JIT code)
 * keeps per cycle is small, bounded by the run, and not the user's to fix. */
const OWN_FILES = ['lib', 'bin'].map((dir) => path.join(__dirname, '..', '..', dir) + path.sep)

/** A retainer chain, bottom up, in a few words: `ArrayBuffer ← big (closure at plugin.js:2:28) ← _onTimeout ← Timeout`. */
function chainSummary(steps, firstNew) {
  const parts = []
  let last = steps.length - 1
  // V8 shows a buffer's memory as a node below the ArrayBuffer: name the ArrayBuffer.
  if (last > 0 && /^system \/ JSArrayBufferData$/.test(steps[last].node)) last--
  parts.push(steps[last].node)
  const stop = Math.max(0, Math.min(firstNew, last))
  for (let i = last - 1; i >= stop; i--) {
    const { node, edge } = steps[i]
    if (!['context', 'backing_store', ''].includes(edge)) parts.push(`← ${edge}`)
    const closure = /^\((?:suspended )?(?:anonymous )?closure (?:(\S+) )?in (.+)\)$/.exec(node)
    if (closure) {
      parts.push(`(closure${closure[1] && closure[1] !== 'in' ? ` ${closure[1]}` : ''} at ${closure[2]})`)
    } else if (node !== '(closure scope)') {
      parts.push(`← ${node}`)
    }
  }
  // The old holders just above the first new object say where it hangs, as a property path:
  // `global.handlerRegistry[5]`, `EventEmitter._events.tick[0]`, `TimersList._idlePrev…`.
  if (stop > 0) {
    const from = Math.max(0, stop - 3)
    let where = steps[from].node
    let lastEdge
    for (let i = from; i < stop; i++) {
      const edge = steps[i].edge
      if (edge === lastEdge) {
        if (!where.endsWith('…')) where += '…'
        continue
      }
      lastEdge = edge
      where += /^\[.*\]$/.test(edge) ? edge : `.${edge}`
    }
    parts.push(`← ${where}`)
  }
  return parts.join(' ')
}

/** What to do about a growing group, read from its chain. */
function fixFor(steps) {
  const nodes = steps.map((s) => s.node)
  const edges = steps.map((s) => s.edge)
  const timer = steps.findIndex((s) => s.node === 'Timeout' && s.edge === '_onTimeout')
  if (timer !== -1 || nodes.includes('Timeout')) {
    return 'A timer started on each load keeps running after the unload: keep its handle and clear it ' +
      '(clearInterval/clearTimeout) in a hot(module).dispose() handler; a setTimeout that reschedules itself must ' +
      'also check a "disposed" flag before scheduling again.'
  }
  if (nodes.some((n) => /^Node \/ (?:TCP|Pipe)ServerWrap\b/.test(n))) {
    return 'A server started on each load keeps listening: close it in a hot(module).dispose() handler ' +
      '(server.close(), and server.closeAllConnections() on Node >= 18.2).'
  }
  const events = edges.indexOf('_events')
  if (events !== -1) {
    const emitter = nodes[events]
    const event = edges[events + 1]
    const where = emitter === 'process' ? 'process' : `a long-lived ${emitter}`
    return `A listener${event ? ` for '${event}'` : ''} is added to ${where} on each load and never removed: ` +
      'remove it (emitter.off(event, listener)) in a hot(module).dispose() handler.'
  }
  const hooks = edges.indexOf('hooks')
  if (hooks !== -1) {
    const type = edges[hooks + 1]
    return `A hook${type && !/^\[/.test(type) ? ` for '${type}'` : ''} is added on each load and never removed: add it with a name and remove it ` +
      'in a hot(module).dispose() handler (Sequelize: addHook(type, name, fn), then removeHook(type, name)).'
  }
  if (nodes[0] === 'global' && edges[0]) {
    return `Each load adds to globalThis.${edges[0]} and nothing takes it out: remove this load's entry in a ` +
      'hot(module).dispose() handler, or key the registry by module id so that a reload replaces its entry.'
  }
  if (nodes[0] === 'require.cache') {
    return `A module that stays loaded (${edges[0]}) keeps what each load gives it: take it back in a ` +
      'hot(module).dispose() handler of the module that hands it over.'
  }
  return 'Something each load creates stays reachable from the chain above: release it in a hot(module).dispose() handler.'
}

/** A growth group of the native diff, for people: per-cycle size, chain, summary and fix. */
function describeGroup(group, cyclesBetween) {
  let { path: chain, removed } = renderRequireCache(group.path)
  // Newer V8 reaches the global object from its native context (`system / NativeContext →
  // global_object → global (global*)`): the chain starts at `global` either way.
  if (chain.length > 1 && /^system \/ NativeContext\b/.test(chain[0].node) && chain[0].edge === 'global_object') {
    chain = chain.slice(1)
    removed++
  }
  if (/^global\b/.test(chain[0].node)) chain = [{ ...chain[0], node: 'global' }, ...chain.slice(1)]
  const firstNew = Math.max(0, group.firstNew - removed)
  const held = holderOf(chain, firstNew)
  const known = held.package === undefined ? undefined : knownPackage(held.package)
  let fix = fixFor(chain)
  if (known?.release !== undefined) fix = `${held.inside ? `Retained inside ${known.name}: ` : ''}${known.release[0].toUpperCase()}${known.release.slice(1)}.`
  else if (held.inside) fix = `Retained inside ${held.package}: no dispose handler of yours reaches it; use ${held.package}'s own API to release what the plugin created (close, end, remove…), or keep one instance across reloads.`
  return {
    perCycle: Math.round(group.bytes / cyclesBetween),
    objectsPerCycle: Math.round((group.objects / cyclesBetween) * 10) / 10,
    rootsPerCycle: Math.round((group.roots / cyclesBetween) * 10) / 10,
    bytes: group.bytes,
    objects: group.objects,
    roots: group.roots,
    holder: held.holder,
    holderInTarget: group.holderInTarget,
    retained: held.retained,
    package: held.package,
    insidePackage: held.inside,
    summary: chainSummary(chain, firstNew),
    fix,
    firstNew,
    path: chain,
  }
}

const isOwn = (group) => isOwnChain(group.path)
// This package's own state: its registry (global symbol) or its closures. Never the user's to fix.
const isOwnChain = (chain) => chain.some((s) => OWN_FILES.some((f) => s.node.includes(f) || s.edge.includes(f)) || s.edge.includes('uncache-tree.state'))

const CLOSURE = /^\((?:suspended )?(?:anonymous )?closure (?:(\S+) )?in (.+?):(\d+):(\d+)\)$/

/** The file of a closure node, or the module id of a require.cache edge, on a chain step. */
function fileOfStep(step) {
  const closure = CLOSURE.exec(step.node)
  if (closure) return closure[2]
  if (step.node === 'require.cache' && path.isAbsolute(step.edge)) return step.edge
  return undefined
}

/**
 * Who holds a growing group, holder first, as a person reads it: `closure at plugin.js:2:27 ←
 * _onTimeout ← Timeout ← Timeout._idlePrev…`: from the deepest closure at or below the first new
 * object up to it, then where that hangs. Also the package whose code holds it (a closure in
 * node_modules, or a kept module of a package above the first new object), and whether any user
 * code is on the chain at all (if not, no dispose handler can reach it: "retained inside").
 */
function holderOf(chain, firstNew) {
  let deepest = -1
  for (let i = chain.length - 1; i >= firstNew; i--) {
    if (CLOSURE.test(chain[i].node)) {
      deepest = i
      break
    }
  }
  const cut = deepest === -1 ? Math.min(chain.length - 1, firstNew) : deepest
  let text = chainSummary(chain.slice(0, cut + 1), firstNew)
  const closure = deepest === -1 ? undefined : CLOSURE.exec(chain[deepest].node)
  if (closure) text = text.slice(chain[deepest].node.length).trim()
  if (closure) text = `closure${closure[1] && closure[1] !== 'in' ? ` ${closure[1]}` : ''} at ${closure[2]}:${closure[3]}:${closure[4]}${text ? ` ${text}` : ''}`
  // What the holder keeps: the rest of the chain below it, leaf first.
  // (Not when the largest object below is the function's own code or source text.)
  const below = deepest === -1 ? [] : chain.slice(deepest)
  const ownCode = below.some((step) => step.edge === 'shared' || step.edge === 'script_or_debug_info')
  const retained = deepest === -1 || deepest >= chain.length - 1 || ownCode ? undefined : chainSummary(chain.slice(deepest + 1), 0)
  let holderPackage
  for (let i = Math.min(firstNew, chain.length - 1); i >= 0 && holderPackage === undefined; i--) holderPackage = packageOf(fileOfStep(chain[i]))
  const files = chain.map(fileOfStep).filter((f) => f !== undefined)
  const userCode = files.some((f) => packageOf(f) === undefined && !OWN_FILES.some((own) => f.startsWith(own)))
  const closurePackage = closure ? packageOf(closure[2]) : undefined
  return { holder: text, retained, package: closurePackage ?? holderPackage, inside: !userCode && (closurePackage ?? holderPackage) !== undefined }
}

/**
 * A growth group that is a count leak whatever its bytes: at least one new structure per cycle
 * between the first two snapshots, all still alive after the last.
 */
function isObjectLeak(group, cyclesBetween) {
  const root = group.path[group.firstNew]?.node ?? ''
  // V8's own per-function data (code, feedback, weak cells) comes and goes with the JIT: new ids
  // for the same kept functions, not something each load adds.
  if (V8_INTERNAL.test(root)) return false
  // Hung on something that did not exist at the target snapshot: an id V8 reused, not a leak.
  if (group.holderInTarget === false) return false
  // Held only through Node's own code (a built-in module Node loaded lazily during the run): a
  // one-time step of Node's, which neither the user's code nor a package adds to per reload.
  const files = group.path.map(fileOfStep).filter((f) => f !== undefined)
  if (files.length > 0 && files.every((f) => f.startsWith('node:'))) return false
  // V8 numbers objects by address: a new object where a dead one lay can inherit its id, and a
  // freshly loaded generation's big table then shows as thousands of "new" roots at once. A leak
  // adds a few structures per load (a listener, a hook, a route); more would show in bytes.
  return cyclesBetween >= 2 && group.roots >= cyclesBetween && group.roots <= MAX_ROOTS_PER_CYCLE * cyclesBetween && group.objects >= cyclesBetween
}
const MAX_ROOTS_PER_CYCLE = 16
const V8_INTERNAL = /^(?:system \/|\((?:code|compiled code|shared function info|feedback|internal array|object elements|object properties|string|concatenated string|sliced string|number|BYTECODE)\b)/

/**
 * Survivors that share a root cause, as one chain with a count: the part of each chain above
 * the first old Module is the cause (the plugin's other modules hang below it through
 * `children`, one chain each otherwise).
 */
function groupSurvivors(survivors) {
  const groups = new Map()
  const files = survivors.map((s) => s.id)
  for (const s of survivors) {
    if (s.heldBy !== 'program' || s.chains.length === 0) continue
    const chain = s.chains[0].path
    // Where the chain enters the reloaded code: the first closure or Module of any survivor's file
    // (a plugin's listener that holds all its modules), else the survivor's own Module.
    let at = chain.findIndex((step) => files.some((file) => step.node.includes(file)))
    if (at === -1) at = chain.findIndex((step) => /^Module /.test(step.node))
    const cause = at === -1 ? chain : chain.slice(0, at + 1)
    const key = chainShape(cause.map((step, i) => (i === cause.length - 1 ? { node: step.node, edge: '' } : step)))
    let group = groups.get(key)
    if (group === undefined) groups.set(key, (group = { cause, ids: [], generations: 0 }))
    group.ids.push(s.id)
    group.generations += s.alive
  }
  return [...groups.values()].sort((a, b) => b.ids.length - a.ids.length || b.generations - a.generations)
}

/**
 * Loads `entry`, unloads and reloads it `cycles` times, and reports whether memory grows with
 * the reloads (a robust trend over the heap after forced collections, and what grows, named from
 * three heap snapshots), the old generations that survived and, for each survivor, the chains of
 * references that hold it.
 *
 * The entry runs in this process: while the doctor runs, a `process.exit()` of the entry throws
 * instead of exiting, and an error the entry throws later (from a timer or a listener it does not
 * handle itself) ends the run with ERR_UNCACHE_DOCTOR_LOAD_FAILED.
 *
 * @param {string} entry a file (relative to `options.cwd`) or a package name
 * @param {{ cycles?: number, sampleEvery?: number, timeoutMs?: number, retainers?: boolean,
 *   growthSnapshots?: boolean, keep?: RegExp | ((id: string) => boolean), reloadDeps?: boolean, require?: string[],
 *   cwd?: string, onProgress?: (event: object) => void }} [options]
 * @returns {Promise<DoctorResult>} see bin/uncache-tree.js --help and README "Doctor"
 */
const cpuMicros = () => {
  const { userCPUTime, systemCPUTime } = process.resourceUsage()
  return userCPUTime + systemCPUTime
}

async function doctor(entry, options) {
  const opts = parseDoctorOptions(options)
  opts.cpuAtStart = cpuMicros() / 1000
  const entryId = resolveEntry(entry, opts.cwd)
  const started = Date.now()
  // Warnings Node emits during the run belong in the diagnosis (a MaxListenersExceededWarning is
  // often the first sign of a listener leak), once each with a count: Node's own printer is set
  // aside meanwhile, or a reloaded library's warning would be printed once per cycle.
  const warnings = new Map()
  const onWarning = (warning) => {
    const key = `${warning.name}: ${warning.message}`
    warnings.set(key, (warnings.get(key) ?? 0) + 1)
    // Node adds the emitter, the event and the count to this warning: a leak by itself.
    if (warning?.name === 'MaxListenersExceededWarning') {
      const emitterName = /added to \[([^\]]+)\]/.exec(warning.message)?.[1] ?? 'an EventEmitter'
      const event = typeof warning.type === 'symbol' ? warning.type.toString() : String(warning.type)
      warnings.listenerWarnings.push({ event, emitter: emitterName, count: typeof warning.count === 'number' ? warning.count : undefined, stack: warning.stack })
    }
  }
  warnings.listenerWarnings = []
  const printers = process.listeners('warning')
  for (const listener of printers) process.removeListener('warning', listener)
  process.on('warning', onWarning)
  // The entry's own failures after it loaded: from a timer, a listener, a rejected promise.
  const failure = { error: undefined, cycle: 0 }
  const record = (error) => {
    if (failure.error === undefined) failure.error = error
  }
  const onException = (error) => {
    // An entry that handles its own uncaught exceptions has said what to do with them.
    if (!(error instanceof EntryExit) && process.listenerCount('uncaughtException') > 1) return
    record(error)
  }
  const onRejection = (reason) => {
    if (process.listenerCount('unhandledRejection') > 1) return
    record(reason)
  }
  process.on('uncaughtException', onException)
  process.on('unhandledRejection', onRejection)
  const exit = process.exit
  process.exit = (code) => {
    throw new EntryExit(code)
  }
  try {
    return await run(entryId, opts, warnings, started, failure)
  } finally {
    process.exit = exit
    process.removeListener('uncaughtException', onException)
    process.removeListener('unhandledRejection', onRejection)
    process.removeListener('warning', onWarning)
    for (const listener of printers) process.on('warning', listener)
  }
}

function preload(requires, cwd) {
  const fromCwd = Module.createRequire(path.join(cwd, '[doctor]'))
  const before = new Set(Object.keys(require.cache))
  for (const name of requires) {
    let resolved
    try {
      resolved = fromCwd.resolve(name)
    } catch (error) {
      throw explain.unresolved(name, cwd, error)
    }
    try {
      fromCwd(resolved)
    } catch (error) {
      throw new UncacheError(
        'ERR_UNCACHE_DOCTOR_LOAD_FAILED',
        `--require ${name} threw while it was preloaded: ${error instanceof Error ? error.message : String(error)}. ` +
          'Fix it, or leave it out.',
        { cause: error, id: resolved },
      )
    }
  }
  return new Set(Object.keys(require.cache).filter((id) => !before.has(id)))
}

/** Modules a host keeps loaded across reloads: node_modules (unless reloadDeps), --require, --keep. */
function keepFor(opts, preloaded) {
  const keepOption = opts.keep
  const marker = `${path.sep}node_modules${path.sep}`
  return (id) => preloaded.has(id) || (!opts.reloadDeps && id.includes(marker)) || (keepOption !== undefined && keepOption(id))
}

/** A MaxListenersExceededWarning as a count leak (Node's own threshold, not ours, was crossed). */
function listenerWarningLeak(warning, tracer, cwd) {
  const leak = describeCountLeak({ key: `emitterListeners:${warning.emitter} ${warning.event}`, perCycle: undefined, first: undefined, last: warning.count }, tracer, cwd)
  return { ...leak, key: `MaxListenersExceededWarning:${warning.event}`, resource: `'${warning.event}' listeners on ${warning.emitter === 'process' ? 'process' : `an ${warning.emitter}`} (MaxListenersExceededWarning: ${warning.count ?? 'more than the limit'})` }
}

async function run(entryId, opts, warnings, started, failure) {
  const progress = opts.onProgress
  const load = (cycle) => {
    try {
      require(entryId)
    } catch (error) {
      throw loadFailed(entryId, cycle, error)
    }
  }
  const check = (cycle) => {
    if (failure.error !== undefined) throw asyncFailed(entryId, cycle, failure.error)
  }

  const preloaded = preload(opts.requires, opts.cwd)
  const keep = keepFor(opts, preloaded)
  // Warm-up: the first cycles fill lazily built caches (JIT code, inline caches, a library's
  // first-use tables); the trend starts after them.
  const warmup = Math.max(1, Math.round(opts.cycles / 5))
  // What grows is named from snapshots after cycles N-2k, N-k and N (the last): objects
  // allocated during the k cycles between the first two that are still alive at the end. The
  // last one also explains the surviving generations, without a fourth snapshot.
  const k = Math.floor(opts.cycles / 3)
  const last = opts.cycles
  const snapshotAt = opts.growthSnapshots && k >= 1 ? [last - 2 * k, last - k, last] : []
  const diff = snapshotAt.length > 0 ? new native.HeapSnapshotDiff() : undefined
  // Through a file V8 writes itself: the inspector hands a snapshot over as UTF-16 strings, which
  // cost more memory at the peak (the final snapshot of a 54 MB heap: 499 MB peak RSS through a
  // file, 582 MB through the inspector, benchmark/doctor.js's leaky app).
  const series = diff === undefined ? undefined : snapshotSeries({ viaFile: true })
  let diffError
  // Counts of what a reload can leak without growing the heap (resources.js), one per cycle, and
  // one traced cycle that says where each is added (count-leaks.js).
  const counts = []
  let emitters = []
  let tracer
  const traceCycle = Math.min(2, opts.cycles)
  let refused

  progress({ phase: 'load', cycle: 0, cycles: opts.cycles })
  const beforeEntry = new Set(Object.keys(require.cache))
  load(0)
  // A turn of the event loop lets the entry's setImmediate/promise start-up work run, as it
  // would in a host, before anything is measured.
  await nextTurn()
  check(0)
  const loadedByEntry = Object.keys(require.cache).filter((id) => !beforeEntry.has(id))
  counts.push({ cycle: 0, ...countResources() })
  const samples = [await sampleHeap(0)]
  let snapshotOverhead = 0
  const reports = []
  const disposeErrors = []
  try {
    for (let cycle = 1; cycle <= opts.cycles; cycle++) {
      if (cycle === traceCycle) {
        tracer = new Tracer(emitters)
        tracer.start()
      }
      const report = uncacheTree(entryId, { keep })
      reports.push(report)
      if (cycle === 1 && report.pinned.some((p) => p.id === entryId && (p.by === 'require-esm' || p.by === 'esm-loader'))) {
        throw esmEntry(entryId)
      }
      if (cycle === 1) {
        // What stays loaded across cycles: the emitters there are counted from now on.
        const removed = new Set(report.removed)
        const kept = loadedByEntry.filter((id) => !removed.has(id)).concat([...preloaded])
        emitters = keptEmitters(kept, opts.cwd)
        if (tracer !== undefined) tracer.emitters = emitters
      }
      for (const error of report.errors) {
        disposeErrors.push({ cycle, message: error instanceof Error ? error.message : String(error) })
      }
      try {
        load(cycle)
      } catch (error) {
        tracer?.stop()
        // A package that refuses the second load keeps the first one's registrations: a leak.
        refused = refusalOf(error.cause, cycle)
        if (refused === undefined) throw error
        refused.cycle = cycle
        break
      }
      await nextTurn()
      if (cycle === traceCycle) tracer.stop()
      check(cycle)
      counts.push({ cycle, ...countResources({ emitters }) })
      let sample
      if (cycle % opts.sampleEvery === 0 || cycle === opts.cycles) {
        sample = await sampleHeap(cycle)
        sample.heapUsed -= snapshotOverhead
        samples.push(sample)
        progress({ phase: 'cycle', cycle, cycles: opts.cycles, heap: totalOf(sample) })
      } else {
        progress({ phase: 'cycle', cycle, cycles: opts.cycles })
      }
      const shot = snapshotAt.indexOf(cycle)
      if (shot !== -1 && diffError === undefined) {
        progress({ phase: 'snapshot', cycle, snapshot: shot + 1, of: snapshotAt.length })
        try {
          // A heap snapshot leaves some bookkeeping of its own in the heap (the first one most:
          // V8's and the inspector's tables). Measured right before and after, with no reload in
          // between, it is taken out of the later samples, or it would read as growth.
          const before = totalOf(sample ?? (await sampleHeap(cycle))) + (sample === undefined ? 0 : snapshotOverhead)
          await series.take(diff)
          diff.endSnapshot()
          // V8 has freed its copy of the snapshot; hand those pages back (see releaseFreeMemory).
          native.releaseFreeMemory()
          // Only what it added: when the snapshot's own collection freed more than ours did, the
          // later samples show that by themselves, and adding it back would read as a step up.
          snapshotOverhead += Math.max(0, totalOf(await sampleHeap(cycle)) - before)
        } catch (error) {
          // The verdict stands without names; the result says why they are missing.
          diffError = (error instanceof Error ? error.message : String(error)).split('\n')[0]
        }
        check(cycle)
      }
    }
    const cyclesRun = refused === undefined ? opts.cycles : refused.cycle - 1

    progress({ phase: 'verify', cycles: opts.cycles })
    const results = await verifyReports(reports, { timeoutMs: opts.timeoutMs })
    check(cyclesRun)
    const found = findSurvivors(reports, results)

    let chainsById = new Map()
    let retainersError
    if (found.length > 0 && opts.retainers) {
      progress({ phase: 'retainers', survivors: found.length })
      try {
        const ids = found.map((s) => s.id)
        const explained =
          diff !== undefined && diffError === undefined && diff.stage() === 3
            ? diff.explain(ids).map(({ id, path: steps }) => ({ id, path: renderRequireCache(steps).path }))
            : await explainRetainers(ids)
        chainsById = groupChains(explained.filter((e) => !isOwnChain(e.path)))
      } catch (error) {
        // The survivors are proven by weak references already; a failed explanation must not
        // hide them. The result says why the chains are missing.
        retainersError = (error instanceof Error ? error.message : String(error)).split('\n')[0]
      }
    }

    const survivors = found.map((s) => describeSurvivor(s, cyclesRun, chainsById.get(s.id)))
    const modulesPerCycle = reports.map((r) => r.removed.length)
    const aliveGenerations = survivors.reduce((n, s) => n + s.alive, 0)
    const growth = growthOf(samples, warmup)
    const survived = survivors.some((s) => s.heldBy === 'program')

    // Counts that rise by a regular +k per cycle after warm-up, whatever their size; and every
    // MaxListenersExceededWarning (once per event and emitter kind).
    const countWindow = counts.filter((c) => c.cycle >= warmup).map(({ cycle, ...rest }) => rest)
    const countLeaks = growingCounts(countWindow).map((g) => describeCountLeak(g, tracer, opts.cwd))
    const listenerKeys = new Set(countLeaks.map((c) => c.key))
    const seenWarnings = new Set()
    for (const w of warnings.listenerWarnings) {
      const key = `${w.emitter}\u0000${w.event}`
      if (seenWarnings.has(key)) continue
      seenWarnings.add(key)
      // Already counted by name (process's or a kept emitter's): the count says more.
      if (w.emitter === 'process' && listenerKeys.has(`processListeners:${w.event}`)) continue
      if ([...listenerKeys].some((k2) => k2.startsWith('emitterListeners:') && k2.endsWith(` ${w.event}`))) continue
      countLeaks.push(listenerWarningLeak(w, tracer, opts.cwd))
    }

    let leaked = survived || growth.growing || countLeaks.length > 0 || refused !== undefined

    // What grows is named only when something does: V8 numbers objects by address, and an object
    // allocated where a dead one lay can inherit its id, so a clean run also shows a few objects
    // that look new; they are not worth a line when the heap does not grow.
    let growing = []
    let growingTotal
    let objectLeaks = []
    if (diff !== undefined && diffError === undefined && diff.stage() === 3) {
      const g = diff.growth(MAX_GROUPS * 4)
      const groups = g.groups.map((group) => describeGroup(group, k)).filter((group) => !isOwn(group))
      // A group with at least one new structure per cycle and objects on every one of them is a
      // count leak whatever its bytes (an interceptor, a hook, a route added per load).
      for (const group of groups) group.objectLeak = isObjectLeak(group, k)
      objectLeaks = groups.filter((group) => group.objectLeak)
      if (objectLeaks.length > 0) leaked = true
      if (leaked) {
        growing = groups.filter((group) => group.perCycle >= MIN_GROUP_BYTES_PER_CYCLE || objectLeaks.includes(group)).slice(0, MAX_GROUPS)
        growingTotal = { perCycle: Math.round(groups.reduce((n, group) => n + group.bytes, 0) / k), groups: g.groupCount }
      }
    }
    const notes = []
    if (growth.growing && !survived) {
      notes.push(
        'Memory grows with every reload although every unloaded module generation was collected: something each load ' +
          'creates is kept without its module (a timer or listener whose closure holds data, an entry in a global ' +
          'registry, a cache in a module that stays loaded). ' +
          (snapshotAt.length > 0 ? '"What grows" names it.' : 'Heap snapshots (without --no-retainers, over 3 cycles or more) name it.'),
      )
    }
    if (growth.growing && growing.length === 0 && snapshotAt.length > 0 && diffError === undefined && refused === undefined) {
      notes.push('The heap snapshots found no single chain that holds the growth: it may be native memory (Buffers, addons) or spread thinly.')
    }
    if (snapshotAt.length === 0 && opts.growthSnapshots) notes.push('Run at least 3 cycles to have what grows named.')
    if (diffError !== undefined) notes.push(`What grows could not be named: ${diffError}`)
    if (retainersError !== undefined) notes.push(`The retainer chains could not be computed: ${retainersError}`)
    if (refused !== undefined) notes.push(`The run stopped at cycle ${refused.cycle}: ${refused.package} refused to load the entry again.`)

    return {
      entry: entryId,
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
      cycles: opts.cycles,
      cyclesRun,
      sampleEvery: opts.sampleEvery,
      warmup,
      reloadDeps: opts.reloadDeps,
      durationMs: Date.now() - started,
      modules: { perCycle: modulesPerCycle.reduce((a, b) => Math.max(a, b), 0), unloaded: modulesPerCycle.reduce((a, b) => a + b, 0), alive: aliveGenerations },
      preloaded: [...preloaded],
      samples,
      // Taken out of samples[].heapUsed after each heap snapshot: what the snapshots themselves left.
      snapshotOverhead,
      growth,
      snapshots: snapshotAt,
      growing,
      growingTotal,
      // Counts that grow with the reloads (listeners, timers, servers, fds, threads), whatever their size.
      counts: { series: counts, growing: countLeaks },
      // A package that threw on the second load because the first one's registration is still there.
      refused: refused === undefined ? null : refused,
      survivors,
      survivorGroups: groupSurvivors(survivors),
      disposeErrors,
      // Node emits warnings on a later tick than their cause; the verification above turns the
      // event loop many times, so the last cycle's are in too.
      warnings: [...warnings].map(([message, count]) => ({ message, count })),
      notes,
      // Peak resident memory of this process (the entry, the heap snapshots and their analysis)
      // against the heap it measured last: the doctor's own cost.
      memory: { peakRss: process.resourceUsage().maxRSS * 1024, finalHeap: totalOf(samples[samples.length - 1]) },
      // CPU time of this process over the run (user + system): on a busy machine, wall time says little.
      cpuMs: Math.round(cpuMicros() / 1000 - opts.cpuAtStart),
      leaked,
      exitCode: leaked ? 1 : 0,
    }
  } finally {
    tracer?.stop()
    series?.close()
    diff?.close()
  }
}

module.exports = { doctor, resolveEntry, fitTrend, growthOf, chainSummary, fixFor, DEFAULT_CYCLES, MAX_CYCLES, NODE_PIN_REASONS }
