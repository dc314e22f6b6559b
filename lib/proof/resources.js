'use strict'
// Counts of what a reload can leak without growing the heap much: a listener, a timer, a server,
// a file handle, a worker thread each cost a few hundred bytes, far under any byte threshold, yet
// a plugin that adds one per load runs the process out of file descriptors or threads long before
// it runs out of memory. So the doctor (and the dev runner's hints) count them after every cycle,
// and a count that rises by a regular +k per cycle is a leak whatever its size.
//
// countResources() takes the counts now; growingCounts() is pure: given one count per cycle, it
// returns the keys that grow steadily. Reading the counts runs no user code: the emitters'
// listener tables are read as own data properties, never through a getter or a Proxy trap.
const fs = require('node:fs')
const { EventEmitter } = require('node:events')
const { types } = require('node:util')

/** Listener counts of `process`, by event name (a symbol's event is named by its description). */
function countProcessListeners() {
  const counts = {}
  for (const event of process.eventNames()) {
    const n = process.listenerCount(event)
    if (n > 0) counts[eventName(event)] = (counts[eventName(event)] || 0) + n
  }
  return counts
}

function eventName(event) {
  return typeof event === 'symbol' ? event.toString() : String(event)
}

/** `process.getActiveResourcesInfo()` counted by type ('Timeout', 'TCPServerWrap', 'FSReqCallback'…). */
function countActiveResources() {
  const counts = {}
  if (typeof process.getActiveResourcesInfo !== 'function') return counts
  for (const type of process.getActiveResourcesInfo()) counts[type] = (counts[type] || 0) + 1
  return counts
}

/** Entries of a /proc directory, or undefined where there is none (macOS, Windows). */
function countEntries(dir) {
  try {
    // The listing opens the directory itself: that descriptor is listed too, in every count alike.
    return fs.readdirSync(dir).length
  } catch {
    return undefined
  }
}

/**
 * The listener table of an EventEmitter, read without running user code, or undefined when the
 * value is not an emitter or its table is not plain data. A Proxy is never looked into (its traps
 * are user code), the prototype chain is walked with Object.getPrototypeOf on ordinary objects
 * only, and `_events` is read as an own data property.
 */
function listenerTable(value) {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return undefined
  if (types.isProxy(value)) return undefined
  let isEmitter = false
  for (let proto = Object.getPrototypeOf(value), depth = 0; proto !== null && depth < 32; depth++) {
    if (proto === EventEmitter.prototype) {
      isEmitter = true
      break
    }
    if (types.isProxy(proto)) return undefined
    proto = Object.getPrototypeOf(proto)
  }
  if (!isEmitter) return undefined
  const descriptor = Object.getOwnPropertyDescriptor(value, '_events')
  if (!descriptor || !('value' in descriptor)) return undefined
  const events = descriptor.value
  if (events === null || typeof events !== 'object' || types.isProxy(events)) return undefined
  return events
}

/** Listener counts of one emitter by event, from its table (see listenerTable), or undefined. */
function countEmitterListeners(emitter) {
  const events = listenerTable(emitter)
  if (events === undefined) return undefined
  const counts = {}
  for (const key of Reflect.ownKeys(events)) {
    const descriptor = Object.getOwnPropertyDescriptor(events, key)
    if (!descriptor || !('value' in descriptor)) continue
    const listeners = descriptor.value
    const n = typeof listeners === 'function' ? 1 : Array.isArray(listeners) ? listeners.length : 0
    if (n > 0) counts[eventName(key)] = n
  }
  return counts
}

/**
 * What a reload can leak, counted now.
 * @param {{ emitters?: Iterable<[string, object]> }} [options] emitters that stay loaded, each
 *   with a label: their listeners are counted as `emitterListeners['<label> <event>']`.
 * @returns {{ processListeners: Record<string, number>, activeResources: Record<string, number>,
 *   fds: number | undefined, threads: number | undefined,
 *   emitterListeners?: Record<string, number> }}
 */
function countResources(options = {}) {
  const counts = {
    processListeners: countProcessListeners(),
    activeResources: countActiveResources(),
    fds: countEntries('/proc/self/fd'),
    threads: countEntries('/proc/self/task'),
  }
  if (options.emitters) {
    const emitterListeners = {}
    for (const [label, emitter] of options.emitters) {
      const byEvent = countEmitterListeners(emitter)
      if (byEvent === undefined) continue
      for (const event of Object.keys(byEvent)) {
        const key = `${label} ${event}`
        emitterListeners[key] = (emitterListeners[key] || 0) + byEvent[event]
      }
    }
    counts.emitterListeners = emitterListeners
  }
  return counts
}

/**
 * One count set as flat keys: `fds`, `threads`, and `<group>:<name>` for the per-name groups
 * (`processListeners:SIGINT`, `activeResources:Timeout`, `emitterListeners:bus message`).
 */
function flatten(counts) {
  const flat = new Map()
  for (const group of Object.keys(counts)) {
    const value = counts[group]
    if (typeof value === 'number') {
      if (Number.isFinite(value)) flat.set(group, value)
    } else if (value !== null && typeof value === 'object') {
      for (const name of Object.keys(value)) {
        if (typeof value[name] === 'number' && Number.isFinite(value[name])) flat.set(`${group}:${name}`, value[name])
      }
    }
  }
  return flat
}

function median(values) {
  const sorted = Float64Array.from(values).sort()
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/** Theil–Sen slope: the median of the slopes between every pair of points (robust to outliers). */
function theilSen(values) {
  const slopes = []
  for (let i = 0; i < values.length; i++) {
    for (let j = i + 1; j < values.length; j++) slopes.push((values[j] - values[i]) / (j - i))
  }
  return slopes.length ? median(slopes) : 0
}

const GROWTH_DEFAULTS = {
  // Fewer points cannot tell a steady rise from a one-off step.
  minCycles: 4,
  // At least one more every two cycles.
  minPerCycle: 0.5,
  // The rise over the window, in units, and in noise widths (median absolute residual).
  minRise: 2,
  noiseWidths: 4,
  // The last half must still rise at this fraction of the whole slope: a count that climbs while a
  // pool warms up and then stays flat is not a leak.
  minLateRatio: 0.5,
}

/**
 * The keys whose count rises by a regular +k per cycle.
 * @param {Array<object>} series one countResources() result (or any object of numbers and
 *   objects of numbers) per cycle, oldest first; a key absent from a cycle counts 0 there, a key
 *   that is undefined in every cycle (no /proc) is skipped.
 * @param {Partial<typeof GROWTH_DEFAULTS>} [options]
 * @returns {Array<{ key: string, perCycle: number, first: number, last: number }>} steepest first.
 */
function growingCounts(series, options = {}) {
  if (!Array.isArray(series)) throw new TypeError('growingCounts: series must be an array of counts, one per cycle')
  const settings = { ...GROWTH_DEFAULTS, ...options }
  if (series.length < Math.max(3, settings.minCycles)) return []
  const flats = series.map(flatten)
  const keys = new Set()
  for (const flat of flats) for (const key of flat.keys()) keys.add(key)
  const growing = []
  for (const key of keys) {
    const values = flats.map((flat) => flat.get(key) ?? 0)
    const verdict = steadyRise(values, settings)
    if (verdict) growing.push({ key, ...verdict })
  }
  return growing.sort((a, b) => b.perCycle - a.perCycle || (a.key < b.key ? -1 : 1))
}

/** { perCycle, first, last } when `values` rise steadily (see GROWTH_DEFAULTS), else null. */
function steadyRise(values, settings) {
  const n = values.length
  const slope = theilSen(values)
  if (!(slope >= settings.minPerCycle)) return null
  const rise = slope * (n - 1)
  if (rise < settings.minRise) return null
  // Noise: how far the points stray from the fitted line, robustly.
  const intercept = median(values.map((v, i) => v - slope * i))
  const noise = median(values.map((v, i) => Math.abs(v - intercept - slope * i)))
  if (rise < settings.noiseWidths * noise) return null
  const late = values.slice(Math.floor(n / 2))
  if (late.length >= 2 && theilSen(late) < settings.minLateRatio * slope) return null
  // The first and last values, not the fit, as the user can check them against their own counts.
  return { perCycle: Math.round(slope * 100) / 100, first: values[0], last: values[n - 1] }
}

module.exports = {
  countResources,
  countProcessListeners,
  countActiveResources,
  countEmitterListeners,
  listenerTable,
  growingCounts,
  flatten,
  GROWTH_DEFAULTS,
}
