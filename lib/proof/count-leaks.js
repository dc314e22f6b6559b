'use strict'
// The doctor's counts (lib/proof/resources.js) put to work: which emitters stay loaded across
// cycles (their listeners are counted), where a growing count is added (one traced cycle), and the
// words and fix for each count that grows.
//
// Finding emitters that stay loaded: the exports of every module that survives the entry's unload
// (node_modules, --keep, --require), and their own data properties two levels down. Only own data
// properties are read, Proxies are never entered, and every walk is bounded, so no user code runs
// (no getter, no trap) and a huge exports object costs a bounded number of reads.
//
// Where a count is added: during one traced cycle an async hook notes the stack of every async
// resource created (a Timeout, a server handle, a Worker, a file request) and a 'newListener'
// listener on process and on each kept emitter notes the stack of every listener added. A stack
// gives the first frame in the user's code (`plugin.js:3:9`) and the package entered from there.
const fs = require('node:fs')
const path = require('node:path')
const asyncHooks = require('node:async_hooks')
const { EventEmitter } = require('node:events')
const { types } = require('node:util')
const { listenerTable } = require('./resources.js')
const { packageOf, knownPackage, resourceAdvice } = require('./advice.js')

const MAX_KEYS_PER_OBJECT = 200
const MAX_VISITS = 20_000
const OWN_DIR = path.join(__dirname, '..', '..') + path.sep
const isOwnFile = (file) => file.startsWith(OWN_DIR) && !file.slice(OWN_DIR.length).startsWith(`node_modules${path.sep}`) && !file.slice(OWN_DIR.length).startsWith(`examples${path.sep}`)

function ownDataValue(object, key) {
  const descriptor = Object.getOwnPropertyDescriptor(object, key)
  return descriptor !== undefined && 'value' in descriptor ? descriptor.value : undefined
}

/** A short label for a module file: its path from the last node_modules, else relative to cwd. */
function moduleLabel(id, cwd) {
  const pkg = packageOf(id)
  if (pkg !== undefined) return id.slice(id.lastIndexOf(`${path.sep}node_modules${path.sep}`) + 14)
  const rel = path.relative(cwd, id)
  return rel !== '' && !rel.startsWith('..') ? rel : id
}

/**
 * `[label, emitter]` for the EventEmitters reachable from the exports of the modules `ids`
 * (require.cache keys): the exports themselves and own data properties two levels down. Each
 * emitter once, under its first label (`bus.js exports`, `axios/index.js exports.default`).
 */
function keptEmitters(ids, cwd) {
  const found = new Map()
  const seen = new Set()
  let visits = 0
  const visit = (value, label, depth) => {
    if (visits++ > MAX_VISITS) return
    if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return
    if (types.isProxy(value) || seen.has(value)) return
    seen.add(value)
    if (listenerTable(value) !== undefined && !found.has(value)) found.set(value, label)
    if (depth === 0) return
    let keys
    try {
      keys = Object.getOwnPropertyNames(value)
    } catch {
      return
    }
    for (let i = 0; i < keys.length && i < MAX_KEYS_PER_OBJECT; i++) {
      const key = keys[i]
      if (key === '_events' || key === 'prototype' || key === 'constructor') continue
      visit(ownDataValue(value, key), `${label}.${key}`, depth - 1)
    }
  }
  for (const id of ids) {
    const module = require.cache[id]
    if (module === undefined || isOwnFile(id)) continue
    visit(ownDataValue(module, 'exports'), `${moduleLabel(id, cwd)} exports`, 2)
  }
  return [...found].map(([emitter, label]) => [label, emitter])
}

/** `{ file, line, column }` of each stack frame that names a file. */
function framesOf(stack) {
  const frames = []
  for (const line of String(stack).split('\n').slice(1)) {
    const match = /(?:\(|at )((?:\/|[A-Za-z]:\\|file:\/\/)[^()]*?):(\d+):(\d+)\)?\s*$/.exec(line)
    if (match) frames.push({ file: match[1].replace(/^file:\/\//, ''), line: Number(match[2]), column: Number(match[3]) })
  }
  return frames
}

/**
 * Where a stack says a resource was added: the first frame in the user's code (not Node's, not
 * this package's, not node_modules) and the package the user's code called into, if any.
 */
function siteOf(stack) {
  const frames = framesOf(stack).filter((f) => !isOwnFile(f.file))
  const userAt = frames.findIndex((f) => packageOf(f.file) === undefined)
  if (userAt === -1) {
    const first = frames[0]
    return first === undefined ? undefined : { at: `${first.file}:${first.line}:${first.column}`, file: first.file, package: packageOf(first.file) }
  }
  const user = frames[userAt]
  // The package entered from the user's frame: the frame just below it on the stack.
  const below = frames.slice(0, userAt).reverse().find((f) => packageOf(f.file) !== undefined)
  return { at: `${user.file}:${user.line}:${user.column}`, file: user.file, package: below === undefined ? undefined : packageOf(below.file) }
}

/** /proc/self/fd as Map(fd → what it points at), or undefined without /proc. */
function listFds() {
  let names
  try {
    names = fs.readdirSync('/proc/self/fd')
  } catch {
    return undefined
  }
  const fds = new Map()
  for (const name of names) {
    try {
      fds.set(name, fs.readlinkSync(`/proc/self/fd/${name}`))
    } catch {}
  }
  return fds
}

/** What an fd points at, in a word: the file, or its kind (socket, pipe, eventfd…). */
function fdKind(target) {
  const anon = /^anon_inode:\[?([^\]]+)\]?$/.exec(target)
  if (anon) return anon[1]
  const special = /^(socket|pipe):/.exec(target)
  return special ? special[1] : target
}

/** A key of resources.js's flat counts as the async-hook types that create it. */
const normalizeType = (type) => type.toLowerCase().replace(/[^a-z]/g, '')

/**
 * One traced cycle: `start()` before the unload and reload, `stop()` after; then `sitesFor(key)`
 * gives the places that added to a count key, most frequent first.
 */
class Tracer {
  constructor(emitters) {
    this.emitters = emitters
    this.sites = new Map()
    this.asyncSites = new Map()
    this.newFds = []
    this.started = false
  }

  note(map, key, stack) {
    const site = siteOf(stack)
    if (site === undefined) return
    let sites = map.get(key)
    if (sites === undefined) map.set(key, (sites = new Map()))
    const entry = sites.get(site.at)
    if (entry === undefined) sites.set(site.at, { ...site, count: 1 })
    else entry.count++
  }

  start() {
    this.stackLimit = Error.stackTraceLimit
    Error.stackTraceLimit = 40
    this.fdsBefore = listFds()
    this.onProcessListener = (event) => {
      if (event !== 'newListener') this.note(this.sites, `processListeners:${String(event)}`, new Error().stack)
    }
    process.on('newListener', this.onProcessListener)
    this.emitterHooks = this.emitters.map(([label, emitter]) => {
      const hook = (event) => {
        if (event !== 'newListener') this.note(this.sites, `emitterListeners:${label} ${String(event)}`, new Error().stack)
      }
      EventEmitter.prototype.on.call(emitter, 'newListener', hook)
      return [emitter, hook]
    })
    this.hook = asyncHooks.createHook({
      init: (asyncId, type) => this.note(this.asyncSites, normalizeType(type), new Error().stack),
    })
    this.hook.enable()
    this.started = true
  }

  stop() {
    if (!this.started) return
    this.started = false
    this.hook.disable()
    process.removeListener('newListener', this.onProcessListener)
    for (const [emitter, hook] of this.emitterHooks) EventEmitter.prototype.removeListener.call(emitter, 'newListener', hook)
    this.emitterHooks = []
    Error.stackTraceLimit = this.stackLimit
    const after = listFds()
    if (this.fdsBefore !== undefined && after !== undefined) {
      for (const [fd, target] of after) if (this.fdsBefore.get(fd) !== target) this.newFds.push(fdKind(target))
    }
    this.fdsBefore = undefined
  }

  /** The sites that added to `key` during the traced cycle, most frequent first. */
  sitesFor(key) {
    let sites
    if (key.startsWith('activeResources:')) sites = this.asyncSites.get(normalizeType(key.slice(16)))
    else if (key === 'threads') sites = this.asyncSites.get('worker')
    else if (key === 'fds') {
      sites = new Map()
      for (const type of ['worker', 'filehandle', 'fsreqcallback', 'tcpserverwrap', 'tcpwrap', 'pipewrap', 'pipeserverwrap', 'udpwrap', 'fsevent', 'statwatcher']) {
        for (const [at, s] of this.asyncSites.get(type) ?? []) if (!sites.has(at)) sites.set(at, s)
      }
    } else sites = this.sites.get(key)
    return [...(sites?.values() ?? [])].sort((a, b) => b.count - a.count)
  }
}

/** The best site for a key: a user's frame that entered a package if there is one, else the most frequent. */
function bestSite(sites, cwd) {
  const list = sites.filter((s) => s.file !== undefined)
  const pick = list.find((s) => s.package !== undefined && packageOf(s.file) === undefined) ?? list.find((s) => packageOf(s.file) === undefined) ?? list[0]
  if (pick === undefined) return undefined
  const rel = path.relative(cwd, pick.file)
  const shown = rel !== '' && !rel.startsWith('..') ? pick.at.replace(pick.file, rel) : pick.at
  return { at: shown, package: pick.package }
}

/** The resource a count key stands for, in words (RESOURCES in advice.js, for the known kinds). */
function resourceName(key, newFds) {
  if (key === 'fds') {
    const kinds = new Map()
    for (const kind of newFds) kinds.set(kind, (kinds.get(kind) ?? 0) + 1)
    const list = [...kinds].sort((a, b) => b[1] - a[1]).slice(0, 4).map(([kind, n]) => (n > 1 ? `${kind} ×${n}` : kind))
    return `${resourceAdvice(key).counted}${list.length > 0 ? ` (${list.join(', ')})` : ''}`
  }
  const counted = resourceAdvice(key)?.counted
  if (counted !== undefined) return counted
  if (key.startsWith('activeResources:')) return `active ${key.slice(16)} handles`
  return key
}

/** The fix for a growing count, the package's own release call first where one is known. */
function countFix(key, pkg) {
  const known = pkg === undefined ? undefined : knownPackage(pkg)
  if (known?.release !== undefined) return `Inside ${known.name}: ${known.release}.`
  return resourceAdvice(key)?.fix ?? 'Release what each load creates in a hot(module).dispose() handler.'
}

/** A growing count (from growingCounts), for people: resource, where it is added, the fix. */
function describeCountLeak(growth, tracer, cwd) {
  const site = tracer === undefined ? undefined : bestSite(tracer.sitesFor(growth.key), cwd)
  return {
    key: growth.key,
    resource: resourceName(growth.key, tracer?.newFds ?? []),
    perCycle: growth.perCycle,
    first: growth.first,
    last: growth.last,
    addedBy: site?.at,
    package: site?.package,
    fix: countFix(growth.key, site?.package),
  }
}

/**
 * A second load that throws from inside a package while the first load worked: the package keeps
 * process-wide state from the previous load (a registry) and refuses the same registration again.
 * Returns `{ package, registry, message, fix }`, or undefined when the error did not come from a
 * package.
 */
function refusalOf(error, cycle) {
  if (cycle === 0 || !(error instanceof Error)) return undefined
  const frames = framesOf(error.stack).filter((f) => !isOwnFile(f.file))
  const pkg = frames.length > 0 ? packageOf(frames[0].file) : undefined
  if (pkg === undefined) return undefined
  const known = knownPackage(pkg)
  const user = frames.find((f) => packageOf(f.file) === undefined)
  return {
    package: known?.name ?? pkg,
    registry: known?.registry ?? `${pkg}'s process-wide state`,
    message: error.message,
    addedBy: user === undefined ? undefined : `${user.file}:${user.line}:${user.column}`,
    fix:
      known?.release !== undefined
        ? `${known.release[0].toUpperCase()}${known.release.slice(1)}.`
        : `Release what the previous load registered with ${pkg} in a hot(module).dispose() handler (see ${pkg}'s documentation for its unregister call).`,
  }
}

module.exports = { keptEmitters, Tracer, describeCountLeak, refusalOf, siteOf, framesOf, resourceName, countFix, isOwnFile }
