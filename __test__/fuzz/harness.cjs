'use strict'
// The property-based suite's generator and interpreter: random module graphs written to disk,
// random operation sequences run against the live package, every API call checked against the
// reference model (model.cjs). One process runs many sequences; each gets its own temp
// directory and is fully cleaned up after (cache keys, children edges, Module._pathCache).
//
// A sequence is plain JSON (graph + ops), so fast-check shrinks it and a failure is written out
// as a standalone script that replays it (`replay`) with a step-by-step log.
const fc = require('fast-check')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const Module = require('node:module')
const { pathToFileURL } = require('node:url')
const api = require('../..')
const engine = require('../../lib/graph/engine.js')
const invalidation = require('../../lib/hot/invalidate.js')
const { state } = require('../../lib/graph/state.js')
const { install } = require('../../lib/loader/patches.js')
const graphIndexLib = require('../../lib/graph/graph-index.js')
const { rescan } = require('../../lib/graph/rescan.js')
const { binaryName } = require('../../lib/platform.js')
const model = require('./model.cjs')
const keyOrder = require('../../lib/graph/key-order.js')

const ADDON = path.join(__dirname, '..', '..', binaryName())
// Loaded afresh after every sequence's cleanup (see Sequence.cleanup).
const SENTINEL = path.join(__dirname, 'sentinel.cjs')
const BEHAVIOURS = ['throw', 'lazy', 'async', 'replace', 'reenter-uncacheTree', 'reenter-invalidate', 'reenter-reload', 'reenter-restore']
const NODE_MAJOR = Number(process.versions.node.split('.')[0])
const { fail, Violation } = model

/**
 * Whether this version of the package rejects unknown option names (API.md, Robustness: an
 * ERR_INVALID_ARG_VALUE RangeError). Until it does, the suite does not generate them: a typo
 * would really unload.
 */
const REJECTS_UNKNOWN_OPTIONS = (() => {
  try {
    api.uncacheTree(path.join(os.tmpdir(), 'uncache-fuzz-probe-not-a-file.js'), { dryrun: true })
  } catch (error) {
    return error instanceof RangeError && error.code === 'ERR_INVALID_ARG_VALUE'
  }
  return false
})()

/** A plan of engine.planTrees as text that does not depend on node numbering. */
function describePlan({ graph, plan }) {
  const ids = (list) => Array.from(list, (i) => graph.ids[i]).sort()
  const kept = Array.from(plan.kept, (i, k) => `${graph.ids[i]} <- ${ids(plan.holders.subarray(plan.holderOffsets[k], plan.holderOffsets[k + 1])).join('+')}`).sort()
  const skipped = Array.from(plan.skipped, (i) => `${graph.ids[i]} (${graph.reasons.get(i)})`).sort()
  return JSON.stringify({ removed: ids(plan.removed), kept, skipped, cutChildrenOf: ids(plan.cutChildrenOf), resetParentOf: ids(plan.resetParentOf) })
}

/** A plan of invalidation.planInvalidation as text that does not depend on node numbering. */
function describeInvalidation({ graph, plan }) {
  const ids = (list) => Array.from(list, (i) => graph.ids[i]).sort()
  const pairs = (list) => {
    const out = []
    for (let k = 0; k < list.length; k += 2) out.push(`${graph.ids[list[k]]} -> ${graph.ids[list[k + 1]]}`)
    return out.sort()
  }
  const blocked = Array.from(plan.declined, (d, k) => `${graph.ids[d]}: ${ids(plan.blocked.subarray(plan.blockedOffsets[k], plan.blockedOffsets[k + 1])).join('+')}`).sort()
  return JSON.stringify({
    removed: ids(plan.removed),
    skipped: Array.from(plan.skipped, (i) => `${graph.ids[i]} (${graph.reasons.get(i)})`).sort(),
    blocked,
    accepted: pairs(plan.accepted),
    selfAccepted: ids(plan.selfAccepted),
    cutChildrenOf: ids(plan.cutChildrenOf),
    resetParentOf: ids(plan.resetParentOf),
  })
}

/** What the runs did, so that a passing run can be seen to exercise something. */
const stats = {
  invalidateComparisons: 0,
  reloadComparisons: 0,
  planComparisons: 0,
  rebuiltComparisons: 0,
  sequences: 0,
  apiCalls: 0,
  removedModules: 0,
  callsRemoving: 0,
  thrown: 0,
  kept: 0,
  skipped: 0,
  pinned: 0,
  disposeErrors: 0,
  reloadsOk: 0,
  reloadsRolledBack: 0,
  restores: 0,
  isolates: 0,
  // Modules other code dropped from the cache since a snapshot that its restore had to unload.
  droppedRestored: 0,
  edits: 0,
  codes: {},
  // How the plans were made (lib/graph/tree-plan.js): rounds beyond the first checked a changed graph.
  planPaths: require('../../lib/graph/tree-plan.js').planPaths,
}

// UNCACHE_FUZZ_SKIP=feature,feature… leaves out features with a known, reported bug, so that a
// run can look for the next one (features: an op `t`, an edit `e`, a mock shape, a dispose
// behaviour, `thenThrows`, `tree`). Never set in npm test.
const SKIP = new Set((process.env.UNCACHE_FUZZ_SKIP ?? '').split(',').filter(Boolean))
function skipped(op) {
  return SKIP.has(op.t) || (op.t === 'edit' && (SKIP.has(op.e) || SKIP.has(op.shape))) ||
    (op.t === 'isolate' && SKIP.has(op.ending)) || (op.t === 'reload' && op.tree !== false && SKIP.has('tree'))
}

// ---------------------------------------------------------------- generators

/** `arb` once in `n` draws, else null (fc.option's `freq` is the other way round). */
const rarely = (arb, n) => fc.oneof({ weight: n - 1, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: arb })

const moduleArb = fc.record({
  kind: fc.constantFrom('js', 'js', 'js', 'js', 'js', 'json', 'addon'),
  deps: fc.array(fc.nat(7), { maxLength: 3 }),
  behaviours: fc.oneof(
    { weight: 3, arbitrary: fc.constant([]) },
    { weight: 1, arbitrary: fc.subarray(BEHAVIOURS, { maxLength: 2 }) },
  ),
})

const graphArb = fc.array(moduleArb, { minLength: 2, maxLength: 8 })
// The requires that load the graph before the operations (a graph with nothing loaded tests little).
const preludeArb = fc.array(fc.record({ t: fc.constant('require'), via: fc.nat(2), m: fc.nat(7) }), { minLength: 1, maxLength: 4 })
const ref = fc.nat(11) // an entity: a generated module, else a mock or hand-compiled entry (modulo)
const keepArb = rarely(fc.record({ kind: fc.constantFrom('regexp', 'function'), mods: fc.array(ref, { minLength: 1, maxLength: 2 }) }), 4)
const sharedArb = fc.constantFrom(undefined, 'keep', 'remove')

const leafOps = [
  { weight: 8, arbitrary: fc.record({ t: fc.constant('require'), via: fc.nat(2), m: ref }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('lazy'), from: ref, m: ref }) },
  {
    weight: 6,
    arbitrary: fc.record({
      t: fc.constant('uncache'),
      targets: fc.array(ref, { minLength: 1, maxLength: 3 }),
      bad: rarely(fc.constantFrom('addon', 'builtin', 'missing'), 10),
      typo: rarely(fc.constantFrom('dryrun', 'Shared', 'keeps'), 12),
      form: fc.constantFrom('path', 'path', 'fileUrl', 'URL', 'module', 'relative'),
      shared: sharedArb,
      keep: keepArb,
      dryRun: rarely(fc.constant(true), 4),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant('invalidate'),
      targets: fc.array(ref, { minLength: 1, maxLength: 2 }),
      keep: keepArb,
      dryRun: rarely(fc.constant(true), 4),
      form: fc.constantFrom('path', 'path', 'fileUrl', 'URL', 'module', 'relative'),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant('reload'),
      m: ref,
      deps: fc.array(fc.nat(7), { maxLength: 3 }),
      throws: rarely(fc.constant(true), 3),
      depThrows: rarely(fc.nat(7), 6),
      tree: fc.constantFrom(undefined, true, false),
      shared: sharedArb,
      keep: keepArb,
    }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('snapshot') }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('restore'), s: fc.nat(1) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('edit'), e: fc.constant('delete'), m: ref }) },
  // rewire's and proxyquire's pattern: a copy loaded and dropped from the cache at once (inside
  // a snapshot or an isolate, the case a restore must still unload).
  { weight: 1, arbitrary: fc.record({ t: fc.constant('edit'), e: fc.constant('requireDrop'), via: fc.nat(2), m: ref }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('edit'), e: fc.constant('push'), from: ref, m: ref }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('edit'), e: fc.constant('replaceChildren'), m: ref, extra: rarely(ref, 2) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('edit'), e: fc.constant('freezeChildren'), m: ref }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('edit'), e: fc.constant('parentGetter'), m: ref }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('edit'), e: fc.constant('proxyExports'), m: ref, revoked: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('edit'), e: fc.constant('mock'), shape: fc.constantFrom('plain', 'moduleShaped', 'nullChildren') }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('edit'), e: fc.constant('handCompiled'), deps: fc.array(fc.nat(7), { maxLength: 2 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('edit'), e: fc.constant('freezePathCache') }) },
  // On a warm graph: a second key for a module (rescan()), a module moved to another key (no
  // rescan: the changed key is seen), a require() made while another library ran Node's own
  // _load around ours and put ours back.
  { weight: 1, arbitrary: fc.record({ t: fc.constant('edit'), e: fc.constant('alias'), m: ref }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('edit'), e: fc.constant('moveKey'), m: ref }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('edit'), e: fc.constant('bypassLoad'), from: ref, m: ref }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('edit'), e: fc.constant('unpatchLoader'), which: fc.constantFrom('_load', 'load', '_findPath', 'all') }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('edit'), e: fc.constant('rewrite'), m: ref, deps: fc.array(fc.nat(7), { maxLength: 3 }), throws: rarely(fc.constant(true), 3) }) },
]

const { ops: opsArb } = fc.letrec((tie) => ({
  op: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    ...leafOps,
    {
      weight: 2,
      arbitrary: fc.record({
        t: fc.constant('isolate'),
        async: fc.boolean(),
        ending: fc.constantFrom('return', 'return', 'throw', 'thenThrows'),
        body: fc.array(tie('op'), { maxLength: 5 }),
      }),
    },
  ),
  ops: fc.array(tie('op'), { minLength: 1, maxLength: 14 }),
}))

// ---------------------------------------------------------------- the fixtures on disk

function sourceOf(spec, i, version, deps, throws) {
  if (spec.kind === 'json') return JSON.stringify({ name: `m${i}`, version })
  const lines = ["'use strict'", `globalThis.__uncacheFuzz.register(module, ${JSON.stringify(spec.behaviours)})`]
  if (spec.kind === 'addon') lines.push(`const deps = [require(${JSON.stringify(ADDON)})]`)
  else lines.push(`const deps = [${deps.map((d) => `require('./${fileName(d)}')`).join(', ')}]`)
  lines.push(`module.exports = { name: 'm${i}', version: ${version}, deps }`)
  if (throws) lines.push(`throw Object.assign(new Error('m${i} v${version} throws while loading'), { fuzzKind: 'load:' + __filename })`)
  return lines.join('\n') + '\n'
}

let graphForNames = null
function fileName(i) {
  return `m${i}${graphForNames[i].kind === 'json' ? '.json' : '.js'}`
}

// ---------------------------------------------------------------- the sequence context

const behaviours = new WeakMap() // module → { list, ran }
let current = null // the running sequence's context

globalThis.__uncacheFuzz = {
  register(m, list) {
    list = list.filter((kind) => !SKIP.has(kind) && !(kind.startsWith('reenter') && SKIP.has('reenter')))
    const record = { list, ran: false }
    behaviours.set(m, record)
    const file = m.filename
    for (const kind of list) {
      api.hot(m).dispose(() => {
        record.ran = true
        if (current !== null && current.disposeRuns !== null) current.disposeRuns.add(m)
        if (kind === 'throw') throw Object.assign(new Error(`dispose handler of ${file} throws`), { fuzzKind: `throw:${file}` })
        if (kind === 'lazy') m.require(`./cleanup-${path.basename(file)}`)
        if (kind === 'replace' && require.cache[file] === m) {
          // A fresh instance under the key the unload is about to delete: it must stay.
          delete require.cache[file]
          if (current !== null) current.replaced.add(file)
          try {
            m.require(file)
          } catch {
            // new code that throws: Node drops the failed instance; nothing to keep
          }
        }
        if (kind === 'async') return Promise.reject(Object.assign(new Error(`async dispose of ${file} rejects`), { fuzzKind: `async:${file}` }))
        if (kind.startsWith('reenter-')) {
          // Dispose handlers only ever run inside an unload, reload (its rollback included) or
          // restore: a call back in must throw ERR_UNCACHE_REENTRANT, whatever ran the handler.
          try {
            if (kind === 'reenter-uncacheTree') api.uncacheTree(file)
            if (kind === 'reenter-invalidate') api.invalidate(file)
            if (kind === 'reenter-reload') api.reload(file, { from: file })
            if (kind === 'reenter-restore') api.snapshot().restore()
          } catch (error) {
            if (error?.code !== 'ERR_UNCACHE_REENTRANT' && current !== null) {
              current.reentryFailures.push(`${kind} from the dispose handler of ${file} threw ${error?.code ?? error}`)
            }
            throw error
          }
          if (current !== null) current.reentryFailures.push(`${kind} from the dispose handler of ${file} ran (no ERR_UNCACHE_REENTRANT)`)
        }
        return undefined
      })
    }
  },
}

const unhandled = []
process.on('unhandledRejection', (reason) => {
  unhandled.push(reason)
})

/** The Module object behind a createRequire function (its first require goes through Module.prototype.require). */
function moduleOfRequire(req) {
  const original = Module.prototype.require
  let mod
  Module.prototype.require = function probe(id) {
    mod = this
    return original.call(this, id)
  }
  try {
    req('node:path')
  } finally {
    Module.prototype.require = original
  }
  return mod
}

class Sequence {
  constructor(graph, ops, log) {
    if (SKIP.has('addon')) graph = graph.map((m) => (m.kind === 'addon' ? { ...m, kind: 'js' } : m))
    this.graph = graph
    this.ops = ops
    this.log = log
    this.dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'uncache-fuzz-')))
    this.versions = graph.map(() => 1)
    this.sources = graph.map((spec, i) => ({ deps: spec.deps.map((d) => d % graph.length), throws: false }))
    graphForNames = graph
    for (let i = 0; i < graph.length; i++) {
      fs.writeFileSync(this.file(i), sourceOf(graph[i], i, 1, this.sources[i].deps, false))
      fs.writeFileSync(path.join(this.dir, `cleanup-${fileName(i)}`), 'module.exports = { cleanup: true }\n')
    }
    this.requires = []
    this.proxies = []
    for (let k = 0; k < 3; k++) {
      const req = Module.createRequire(path.join(this.dir, `proxy-${k}.js`))
      this.requires.push(req)
      this.proxies.push(moduleOfRequire(req))
    }
    this.behaviours = behaviours
    this.extras = [] // mock and hand-compiled entries: { key, kind }
    this.snapshots = []
    this.openIsolates = 0
    // One per open snapshot and running isolate (see openRecording): the modules a hand edit
    // (dropFromCache) took out of the cache after they loaded since it began, which its restore
    // must unload.
    this.recordings = new Set()
    this.disposeRuns = null
    this.replaced = new Set()
    this.reentryFailures = []
    this.asyncChecks = []
    this.step = 0
    this.aliases = 0
  }

  file(i) {
    return path.join(this.dir, fileName(i))
  }

  /** Entity `r`: a generated module's file, else an extra entry's key. */
  entity(r) {
    const n = this.graph.length + this.extras.length
    const k = r % n
    return k < this.graph.length ? this.file(k) : this.extras[k - this.graph.length].key
  }

  say(text) {
    if (this.log) this.log(`  [${this.step}] ${text}`)
  }

  keepOf(spec) {
    if (spec === null || spec === undefined || SKIP.has('keep')) return { option: undefined, predicate: undefined }
    const ids = new Set(spec.mods.map((r) => this.entity(r)))
    if (spec.kind === 'function') return { option: (id) => ids.has(id), predicate: (id) => ids.has(id) }
    const escaped = [...ids].map((id) => path.basename(id).replace(/[.]/g, '\\.'))
    const re = new RegExp(`[\\\\/](${escaped.join('|')})$`)
    return { option: re, predicate: (id) => re.test(id) }
  }

  capture() {
    const dropped = new Set()
    for (const r of this.recordings) for (const m of r.dropped.keys()) dropped.add(m)
    return model.capture({ proxies: this.proxies, behaviours: this.behaviours, dropped })
  }

  /**
   * What the test knows of a snapshot's recording that the live graph does not show: the cache
   * values when it began (a module not among them that is cached now loaded since: the suite
   * puts no module into the cache by hand while a snapshot is open), and the modules loaded since
   * that a hand edit then dropped from the cache, each with the key it loaded with.
   */
  openRecording(state) {
    const recording = { baseline: new Set(state.values), dropped: new Map() }
    this.recordings.add(recording)
    return recording
  }

  /** After its restore a recording starts afresh: what stayed is loaded before it now. */
  renewRecording(recording, state) {
    recording.baseline = new Set(state.values)
    recording.dropped.clear()
  }

  /**
   * An API call unloaded `removed` (a failed reload too: its rollback puts back what was cached,
   * never a module out of the cache): a snapshot's restore no longer unloads those (an unload
   * drops what it removes from every recording).
   */
  forgetUnloaded(removed) {
    for (const r of this.recordings) for (const m of removed) r.dropped.delete(m)
  }

  snapshotOpen() {
    return this.snapshots.length > 0 || this.openIsolates > 0
  }

  /** One API call checked against the model. */
  checked(label, modelOp, call, { dryRun = false, loads = false, restore = false } = {}) {
    const before = this.capture()
    const plan = model.expectedPlan(before, modelOp)
    this.disposeRuns = new Set()
    this.replaced = new Set()
    let result
    let thrown
    let threw = false
    try {
      result = call()
    } catch (error) {
      threw = true
      thrown = error
    }
    const runs = this.disposeRuns
    this.disposeRuns = null
    const after = this.capture()
    if (plan.throws !== undefined) {
      if (!threw) fail(`${label}: the contract says it throws ${plan.throws}, but it returned ${model.show(result)}`)
      if (thrown?.code !== plan.throws) fail(`${label}: threw ${thrown?.code ?? ''} ${thrown?.stack ?? thrown} instead of ${plan.throws}`)
      const diff = model.diffStates(before, after)
      if (diff.length > 0) fail(`${label}: threw ${plan.throws} but changed the graph:\n    ${diff.join('\n    ')}`)
      if (runs.size > 0) fail(`${label}: threw ${plan.throws} after running dispose handlers`)
      stats.apiCalls++
      stats.thrown++
      stats.codes[plan.throws] = (stats.codes[plan.throws] ?? 0) + 1
      return { threw: thrown }
    }
    if (threw) {
      if (thrown instanceof Violation) throw thrown
      const diff = model.diffStates(before, after)
      fail(`${label}: threw ${thrown?.stack ?? thrown}${diff.length ? `\n  and changed the graph:\n    ${diff.join('\n    ')}` : ''}`)
    }
    const report = loads ? result.report : result
    if (!dryRun) this.forgetUnloaded(plan.removed)
    this.acceptReplaced(plan)
    model.checkReport(before, plan, report, label)
    if (dryRun) {
      const diff = model.diffStates(before, after)
      if (diff.length > 0) fail(`${label}: dryRun changed the graph:\n    ${diff.join('\n    ')}`)
      if (runs.size > 0) fail(`${label}: dryRun ran dispose handlers`)
      if (report.errors.length > 0) fail(`${label}: dryRun report has errors`)
      return { report }
    }
    this.checkDispose(label, plan, runs, report)
    model.checkLive(before, after, plan, report, label, { loads, restore, replaced: this.replaced, allowedNewKeys: (k) => path.basename(k).startsWith('cleanup-') || this.replaced.size > 0 })
    this.checkLazyParents(label, plan, before, after)
    count(report)
    return { report, result, before, after, plan }
  }

  /**
   * Keys that a dispose handler filled with a fresh instance during the call (`replace`): the
   * contract's identity rule keeps the fresh one, and the report does not list the key.
   */
  acceptReplaced(plan) {
    if (this.replaced.size === 0) return
    // (When the fresh instance threw, the key is simply gone: other code deleted it, not the unload.)
    plan.removedKeys = plan.removedKeys.filter((k) => !this.replaced.has(k))
    // Not listed, so not listable as pinned either.
    plan.pinnedMust = new Set([...plan.pinnedMust].filter((k) => !this.replaced.has(k)))
    // The handler's require() may have made new _pathCache entries for the files being removed;
    // the unload drops those too, so the count is at least what the state before it had.
    plan.pathCacheAtLeast = true
  }

  checkDispose(label, plan, runs, report) {
    const expected = new Set(plan.dispose.runs)
    for (const m of runs) if (!expected.has(m)) fail(`${label}: the dispose handlers of ${m.filename} ran, but it was not unloaded`)
    for (const m of expected) if (!runs.has(m)) fail(`${label}: ${m.filename} was unloaded, but its dispose handlers did not run`)
    model.checkErrors(plan, report, label)
    if (plan.dispose.asyncKinds.length > 0) this.asyncChecks.push({ label, report, kinds: plan.dispose.asyncKinds })
  }

  /** Modules that dispose handlers required lazily must not name a removed module as parent. */
  checkLazyParents(label, plan, before, after) {
    for (let i = 0; i < after.keys.length; i++) {
      if (!path.basename(after.keys[i]).startsWith('cleanup-')) continue
      const m = after.values[i]
      const p = model.slotParent(m)
      if (plan.removed.has(p)) fail(`${label}: ${after.keys[i]}, required by a dispose handler, has the unloaded ${p.filename} as parent`)
    }
  }

  // ------------------------------------------------------------ ops

  run(op, canAwait) {
    this.step++
    if (skipped(op)) return undefined
    switch (op.t) {
      case 'require':
        return this.opRequire(op)
      case 'lazy':
        return this.opLazy(op)
      case 'uncache':
        return this.opUncache(op)
      case 'invalidate':
        return this.opInvalidate(op)
      case 'reload':
        return this.opReload(op)
      case 'snapshot':
        return this.opSnapshot()
      case 'restore':
        return this.opRestore(op)
      case 'isolate':
        return this.opIsolate(op, canAwait)
      case 'edit':
        return this.opEdit(op)
      default:
        throw new Error(`unknown op ${op.t}`)
    }
  }

  tryRequire(fn, text) {
    try {
      fn()
      this.say(text)
    } catch (error) {
      this.say(`${text} → threw ${String(error && error.message).split('\n')[0]}`)
    }
  }

  opRequire(op) {
    const file = this.entity(op.m)
    if (!fs.existsSync(file)) return
    this.tryRequire(() => this.requires[op.via](file), `proxy-${op.via} requires ${path.basename(file)}`)
  }

  opLazy(op) {
    const from = require.cache[this.entity(op.from)]
    const file = this.entity(op.m)
    if (!(from instanceof Module) || !Array.isArray(from.children) || !fs.existsSync(file)) return
    this.tryRequire(() => from.require(file), `${path.basename(from.filename)} requires ${path.basename(file)} lazily`)
  }

  badTarget(bad) {
    if (bad === 'addon') return ADDON
    if (bad === 'builtin') return 'node:fs'
    return path.join(this.dir, 'missing.js')
  }

  /**
   * A target key in the form `form` (every form the contract accepts names the same key): an
   * absolute path, a file: URL string or URL object, the cached Module object, or a relative
   * specifier resolved from `options.from`. Keys that are not files of this sequence, and
   * entries that are not Modules, stay paths.
   */
  targetIn(form, key, options) {
    if (!key.startsWith(this.dir + path.sep)) return key
    // A file that is no cache key (its module was moved to another key, or unloaded) is resolved
    // by the call, which makes a Module._pathCache entry for it: made here once, so that it is in
    // the state the model plans on.
    if (require.cache[key] === undefined && fs.existsSync(key) && !Object.isFrozen(Module._pathCache)) Module.createRequire(key).resolve(key)
    if (form === 'fileUrl') return pathToFileURL(key).href
    if (form === 'URL') return pathToFileURL(key)
    if (form === 'module' && require.cache[key] instanceof Module) return require.cache[key]
    if (form === 'relative' && fs.existsSync(key) && !Object.isFrozen(Module._pathCache)) {
      options.from = path.join(this.dir, 'proxy-0.js')
      // Resolved once here as the call will resolve it, so that the _pathCache entry the
      // resolution makes is in the state the model plans on.
      Module.createRequire(options.from).resolve(`./${path.basename(key)}`)
      return `./${path.basename(key)}`
    }
    return key
  }

  opUncache(op) {
    const targets = op.targets.map((r) => this.entity(r))
    if (op.bad !== null && op.bad !== undefined) targets.push(this.badTarget(op.bad))
    const keep = this.keepOf(op.keep)
    const options = {}
    if (op.shared !== undefined) options.shared = op.shared
    if (keep.option !== undefined) options.keep = keep.option
    if (op.dryRun) options.dryRun = true
    if (op.typo && REJECTS_UNKNOWN_OPTIONS) options[op.typo] = true
    const given = targets.map((k) => this.targetIn(op.form, k, options))
    const target = given.length === 1 ? given[0] : given
    const label = `step ${this.step}: uncacheTree(${describeTargets(this, targets)}${op.form && op.form !== 'path' ? ` as ${op.form}` : ''}, ${describeOptions(options)})`
    this.say(label)
    if (op.bad === null || op.bad === undefined) {
      const planOptions = { shared: op.shared ?? 'keep', keep: keep.predicate }
      this.compareWithScan(label, 'uncacheTree', targets, keep.predicate, (roots, fullScan) => describePlan(engine.planTrees(require.cache, roots, planOptions, fullScan)))
    }
    this.checked(label, { api: 'uncacheTree', targets, shared: op.shared, keep: keep.predicate, dryRun: op.dryRun, unknownOption: options[op.typo] === true ? op.typo : undefined }, () => api.uncacheTree(target, options), { dryRun: op.dryRun })
  }

  /**
   * The differential check of the live graph index (ISSUES #9): for the same roots, the plan
   * made from the index must be the plan made from a scan of every cached module.
   * `plan(roots, fullScan)` returns the plan as text (describePlan, describeInvalidation).
   */
  compareWithScan(label, what, targets, keep, plan) {
    const cache = require.cache
    const roots = [...new Set(targets)].filter((key) => cache[key] !== undefined && !(keep !== undefined && keep(key)))
    if (roots.length === 0) return
    stats[what === 'uncacheTree' ? 'planComparisons' : what === 'reload' ? 'reloadComparisons' : 'invalidateComparisons']++
    // As every public function does first: a loader wrapper that other code put back is
    // re-installed, and the gap it left makes the index read everything anew.
    install()
    const describe = (fullScan) => {
      try {
        return plan(roots, fullScan)
      } catch (error) {
        return `throws ${error?.code ?? ''} ${error?.message}`
      }
    }
    const fromIndex = describe(false)
    const fromScan = describe(true)
    if (fromIndex !== fromScan) fail(`${label}: the ${what} plan from the live graph index differs from a full scan's\n  index: ${fromIndex}\n  scan:  ${fromScan}`)
    // The same planner on an index rebuilt from a scan (what rescan() makes): the incremental
    // index, warmed by this sequence's history, must plan as a fresh one does. The live index
    // is put back after, so that the next steps still run on the incremental one.
    const incremental = state.graphIndex
    delete state.graphIndex
    let fromRebuilt
    try {
      graphIndexLib.attach(state)
      rescan(cache)
      fromRebuilt = describe(false)
    } finally {
      state.graphIndex = incremental
    }
    stats.rebuiltComparisons++
    if (fromIndex !== fromRebuilt) fail(`${label}: the ${what} plan from the incremental index differs from one on an index rebuilt from a scan\n  incremental: ${fromIndex}\n  rebuilt:     ${fromRebuilt}`)
  }

  opInvalidate(op) {
    const targets = op.targets.map((r) => this.entity(r))
    const keep = this.keepOf(op.keep)
    const options = {}
    if (keep.option !== undefined) options.keep = keep.option
    if (op.dryRun) options.dryRun = true
    const given = targets.map((k) => this.targetIn(op.form, k, options))
    const label = `step ${this.step}: invalidate(${describeTargets(this, targets)}${op.form && op.form !== 'path' ? ` as ${op.form}` : ''}, ${describeOptions(options)})`
    this.say(label)
    this.compareWithScan(label, 'invalidate', targets, keep.predicate, (roots, fullScan) =>
      describeInvalidation(invalidation.planInvalidation(require.cache, roots, { keep: keep.predicate }, { fullScan })),
    )
    this.checked(label, { api: 'invalidate', targets, keep: keep.predicate, dryRun: op.dryRun }, () => api.invalidate(given.length === 1 ? given[0] : given, options), { dryRun: op.dryRun })
  }

  /**
   * A fresh cached module to reload from (`options.from`): the new module's parent. A fresh one
   * per reload, because the previous one requires the previous version and is one of its
   * importers, which a reload unloads.
   */
  ensureAnchor() {
    const anchor = path.join(this.dir, `anchor-${this.step}.js`)
    fs.writeFileSync(anchor, 'module.exports = { anchor: true }\n')
    try {
      this.requires[0](anchor)
    } catch (error) {
      // A frozen Module._pathCache: Node cannot resolve a new request, nor could the reload.
      this.say(`proxy-0 cannot load ${path.basename(anchor)}: ${error.message}; no reload`)
      return undefined
    }
    return anchor
  }

  rewrite(i, deps, throws) {
    this.versions[i]++
    this.sources[i] = { deps: deps.map((d) => d % this.graph.length), throws: throws && this.graph[i].kind === 'js' }
    fs.writeFileSync(this.file(i), sourceOf(this.graph[i], i, this.versions[i], this.sources[i].deps, this.sources[i].throws))
  }

  /** Whether require(file) after the unload of `removedKeys` runs code that throws (the sources on disk). */
  predictThrows(state, plan, file) {
    const cached = new Set(state.keys.filter((k) => !plan.removedKeys.includes(k)))
    const visiting = new Set()
    const index = new Map(this.graph.map((_, i) => [this.file(i), i]))
    const exec = (f) => {
      if (cached.has(f) || visiting.has(f)) return false
      visiting.add(f)
      const i = index.get(f)
      if (i === undefined || this.graph[i].kind !== 'js') {
        cached.add(f)
        return false
      }
      for (const d of this.sources[i].deps) if (exec(this.file(d))) return true
      if (this.sources[i].throws) return true
      cached.add(f)
      return false
    }
    return exec(file)
  }

  opReload(op) {
    const k = op.m % (this.graph.length + this.extras.length)
    if (k >= this.graph.length) return // reload of a mock: nothing to write
    const file = this.file(k)
    if (!(require.cache[file] instanceof Module)) return
    const anchor = this.ensureAnchor()
    if (anchor === undefined) return
    this.rewrite(k, op.deps, op.throws)
    if (op.depThrows !== null && op.depThrows !== undefined) {
      const d = op.depThrows % this.graph.length
      if (d !== k) this.rewrite(d, this.sources[d].deps, true)
    }
    const keep = this.keepOf(op.keep)
    const options = { from: anchor }
    if (op.tree !== undefined) options.tree = op.tree
    if (op.shared !== undefined) options.shared = op.shared
    if (keep.option !== undefined) options.keep = keep.option
    const label = `step ${this.step}: reload(${path.basename(file)} v${this.versions[k]}${this.sources[k].throws ? ' (throws)' : ''}, ${describeOptions(options)})`
    this.say(label)
    // reload() plans like invalidate (through the index unless the tree option is given).
    const planOptions = { keep: keep.predicate, tree: options.tree, shared: options.shared }
    this.compareWithScan(label, 'reload', [file], keep.predicate, (roots, fullScan) => {
      const planned = invalidation.planInvalidation(require.cache, roots, planOptions, { fullScan })
      return `${describeInvalidation(planned)}\n  then ${describePlan({ graph: planned.graph, plan: planned.unloadPlan })}`
    })
    const before = this.capture()
    const modelOp = { api: 'reload', target: file, tree: op.tree, shared: op.shared, keep: keep.predicate }
    const plan = model.expectedPlan(before, modelOp)
    if (plan.throws !== undefined) {
      this.checked(label, modelOp, () => api.reload(file, options))
      return
    }
    if (keep.predicate !== undefined && keep.predicate(file)) {
      // A kept target is skipped, and require() returns the cached module: not a reload.
      return
    }
    const predicted = this.predictThrows(before, plan, file)
    // A 'replace' dispose handler loads the new version while the modules being unloaded are
    // still cached (a dependency that now throws is not executed again): either outcome is right.
    const either = before.pathCacheFrozen || this.graph.some((g) => g.behaviours.includes('replace'))
    const old = require.cache[file]
    // The keys whose insertion the package did not see (made by hand, or loaded during a loader
    // gap, since the last full read): a rollback's key order is exact only among the others.
    const unseen = new Set(before.keys.filter((k, i) => keyOrder.rankOf(k, before.values[i]) === undefined))
    this.disposeRuns = new Set()
    this.replaced = new Set()
    let result
    let thrown
    let threw = false
    try {
      result = api.reload(file, options)
    } catch (error) {
      threw = true
      thrown = error
    }
    const runs = this.disposeRuns
    this.disposeRuns = null
    const after = this.capture()
    if (threw && thrown instanceof Violation) throw thrown
    this.forgetUnloaded(plan.removed)
    if (threw) {
      if (!predicted && !either) fail(`${label}: threw ${thrown?.stack ?? thrown}, but the new code does not throw`)
      if (thrown?.code !== 'ERR_UNCACHE_RELOAD_FAILED') fail(`${label}: threw ${thrown?.code} ${thrown?.stack} instead of ERR_UNCACHE_RELOAD_FAILED`)
      if (predicted && !(thrown.cause && typeof thrown.cause.fuzzKind === 'string' && thrown.cause.fuzzKind.startsWith('load:'))) {
        fail(`${label}: ERR_UNCACHE_RELOAD_FAILED without the loading error as cause: ${thrown.cause?.stack ?? thrown.cause}`)
      }
      const diff = model.diffStates(before, after, { removed: plan.removedKeys, unseen })
      if (diff.length > 0) fail(`${label}: the reload failed, and the rollback left the graph changed:\n    ${diff.join('\n    ')}`)
      stats.reloadsRolledBack++
      return
    }
    if (predicted && !either) fail(`${label}: the new code throws, but reload() returned`)
    const report = result.report
    this.acceptReplaced(plan)
    model.checkReport(before, plan, report, label)
    this.checkDispose(label, plan, runs, report)
    model.checkLive(before, after, plan, report, label, { loads: true, replaced: this.replaced })
    const fresh = require.cache[file]
    if (fresh === old) fail(`${label}: require.cache still holds the old module`)
    if (!(fresh instanceof Module)) fail(`${label}: ${file} is not cached after the reload`)
    if (this.graph[k].kind !== 'addon' && fresh.exports.version !== this.versions[k]) fail(`${label}: the reloaded exports are version ${fresh.exports.version}, not ${this.versions[k]}`)
    if (!this.replaced.has(file) && model.slotParent(fresh) !== require.cache[anchor]) fail(`${label}: the new module's parent is not the calling file (options.from)`)
    stats.reloadsOk++
    count(report)
  }

  opSnapshot() {
    if (this.snapshots.length >= 2) return
    const snap = api.snapshot()
    const state = this.capture()
    this.snapshots.push({ snap, baseline: new Map(state.keys.map((k, i) => [k, state.values[i]])), recording: this.openRecording(state) })
    this.say(`snapshot #${this.snapshots.length - 1}`)
  }

  opRestore(op) {
    if (this.snapshots.length === 0) return
    const s = this.snapshots[op.s % this.snapshots.length]
    const label = `step ${this.step}: snapshot #${this.snapshots.indexOf(s)}.restore()`
    this.say(label)
    const out = this.checked(label, { api: 'restore', baseline: s.baseline, dropped: [...s.recording.dropped] }, () => s.snap.restore(), { restore: true })
    s.baseline = new Map(out.after.keys.map((k, i) => [k, out.after.values[i]]))
    this.renewRecording(s.recording, out.after)
    stats.droppedRestored += out.plan.detached.size
    stats.restores++
  }

  opIsolate(op, canAwait) {
    const isAsync = op.async && canAwait
    const label = `step ${this.step}: isolate(${isAsync ? 'async ' : ''}fn ending by ${op.ending}, ${op.body.length} ops)`
    this.say(`${label} {`)
    const start = this.capture()
    const baseline = new Map(start.keys.map((k, i) => [k, start.values[i]]))
    const recording = this.openRecording(start)
    let expectation
    let restoreReport
    let restoreRuns
    const marker = Object.assign(new Error('isolate body throws'), { fuzzKind: 'isolate' })
    const finishBody = () => {
      const before = this.capture()
      expectation = { before, plan: model.expectedPlan(before, { api: 'restore', baseline, dropped: [...recording.dropped] }) }
      this.disposeRuns = new Set()
      this.replaced = new Set()
      this.say(`} restore of ${label}`)
      if (op.ending === 'throw') throw marker
      if (op.ending === 'thenThrows') {
        return {
          get then() {
            throw marker
          },
        }
      }
      return 'isolate result'
    }
    const onRestore = (report) => {
      restoreReport = report
    }
    this.openIsolates++
    const verify = (threw, value) => {
      this.openIsolates--
      this.recordings.delete(recording)
      restoreRuns = this.disposeRuns ?? new Set()
      this.disposeRuns = null
      if (threw && value instanceof Violation) throw value
      if (expectation === undefined) {
        if (threw) throw value
        fail(`${label}: the body never finished`)
      }
      if (restoreReport === undefined) fail(`${label}: isolate ${threw ? `threw ${value?.stack ?? value}` : 'returned'} without restoring (onRestore never called)`)
      if (op.ending === 'throw' && (!threw || value !== marker)) fail(`${label}: fn threw, isolate must rethrow it; got ${threw ? value?.stack ?? value : 'a return'}`)
      if (op.ending === 'return' && threw) fail(`${label}: isolate threw ${value?.stack ?? value}`)
      if (op.ending === 'return' && value !== 'isolate result') fail(`${label}: isolate returned ${model.show(value)}`)
      if (op.ending === 'thenThrows' && threw && value !== marker) fail(`${label}: isolate threw ${value?.stack ?? value}`)
      const after = this.capture()
      const { before, plan } = expectation
      this.forgetUnloaded(plan.removed)
      if (plan.detached.size > 0) stats.droppedRestored += plan.detached.size
      this.acceptReplaced(plan)
      model.checkReport(before, plan, restoreReport, `${label} (its restore)`)
      this.checkDispose(`${label} (its restore)`, plan, restoreRuns, restoreReport)
      model.checkLive(before, after, plan, restoreReport, `${label} (its restore)`, { restore: true, replaced: this.replaced, allowedNewKeys: (k) => path.basename(k).startsWith('cleanup-') || this.replaced.size > 0 })
      stats.isolates++
      count(restoreReport)
    }
    if (isAsync) {
      let promise
      try {
        promise = api.isolate(async () => {
          for (const inner of op.body) await this.run(inner, true)
          await null
          return finishBody()
        }, { onRestore })
      } catch (error) {
        verify(true, error)
        return undefined
      }
      return Promise.resolve(promise).then(
        (value) => verify(false, value),
        (error) => verify(true, error),
      )
    }
    let value
    try {
      value = api.isolate(() => {
        for (const inner of op.body) this.run(inner, false)
        return finishBody()
      }, { onRestore })
    } catch (error) {
      verify(true, error)
      return undefined
    }
    verify(false, value)
    return undefined
  }

  /** `delete require.cache[file]` by hand (other code's delete), noted by every open recording. */
  dropFromCache(file) {
    const m = require.cache[file]
    if (m === undefined) return
    // Loaded during a loader gap that is still open (another library put back
    // Module.prototype.load, and no call of the package has re-installed it since): no wrapper saw
    // it load, and once out of the cache no scan finds it. Like the gap's documented limits
    // (docs/api.md, Patched loaders), a restore cannot unload it; see /work/notes/fuzz-bugs.md.
    const state = globalThis[Symbol.for('uncache-tree.state.v1')]
    const unseen = this.gapCached !== undefined && Module.prototype.load !== state.moduleLoadWrapper && !this.gapCached.has(m)
    // Loaded since a recording began (and finished loading): its restore must unload it.
    if (!unseen) for (const r of this.recordings) if (!r.baseline.has(m) && model.isModuleish(m) && m.loaded === true) r.dropped.set(m, file)
    delete require.cache[file]
    this.say(`delete require.cache[${path.basename(file)}]${unseen ? ' (it loaded during the loader gap: no recording saw it)' : ''}`)
  }

  opEdit(op) {
    stats.edits++
    const cache = require.cache
    switch (op.e) {
      case 'delete': {
        const k = op.m % (this.graph.length + this.extras.length)
        if (k >= this.graph.length) return // hand-compiled and mock entries are never deleted by hand
        this.dropFromCache(this.file(k))
        return
      }
      case 'requireDrop': {
        const k = op.m % (this.graph.length + this.extras.length)
        if (k >= this.graph.length) return
        const file = this.file(k)
        if (cache[file] === undefined) this.tryRequire(() => this.requires[op.via](file), `proxy-${op.via} requires ${path.basename(file)}`)
        this.dropFromCache(file)
        return
      }
      case 'push': {
        const from = cache[this.entity(op.from)]
        const m = cache[this.entity(op.m)]
        // Not while a snapshot records: a restore cuts the edges that require() made since, and
        // cannot see an edge pushed by hand into a module loaded before (not a contract case).
        if (this.snapshotOpen()) return
        if (!(from instanceof Module) || !(m instanceof Module) || !Array.isArray(from.children) || Object.isFrozen(from.children)) return
        from.children.push(m)
        // An edge made by hand is not seen by the loader: the contract asks for a rescan().
        api.rescan()
        this.say(`${path.basename(from.filename)}.children.push(${path.basename(m.filename)}); rescan()`)
        return
      }
      case 'replaceChildren': {
        const m = cache[this.entity(op.m)]
        if (!(m instanceof Module) || !Array.isArray(m.children)) return
        const next = m.children.slice()
        const extra = op.extra === null || op.extra === undefined || this.snapshotOpen() ? undefined : cache[this.entity(op.extra)]
        if (extra instanceof Module && !next.includes(extra)) next.push(extra)
        m.children = next
        if (extra instanceof Module) api.rescan()
        this.say(`${path.basename(m.filename)}.children = a new array${extra instanceof Module ? ` + ${path.basename(extra.filename)}; rescan()` : ''}`)
        return
      }
      case 'freezeChildren': {
        const m = cache[this.entity(op.m)]
        if (!(m instanceof Module) || !Array.isArray(m.children) || Object.isFrozen(m.children)) return
        Object.freeze(m.children)
        this.say(`Object.freeze(${path.basename(m.filename)}.children)`)
        return
      }
      case 'parentGetter': {
        const m = cache[this.entity(op.m)]
        if (!(m instanceof Module) || Object.getOwnPropertyDescriptor(m, 'parent') !== undefined) return
        const p = model.slotParent(m)
        Object.defineProperty(m, 'parent', { get: constantGetter(p), enumerable: true, configurable: false })
        this.say(`${path.basename(m.filename)}.parent becomes a getter-only accessor (${p ? path.basename(p.filename ?? '?') : p})`)
        return
      }
      case 'proxyExports': {
        const m = cache[this.entity(op.m)]
        if (!(m instanceof Module)) return
        if (op.revoked) {
          const { proxy, revoke } = Proxy.revocable({}, {})
          revoke()
          m.exports = proxy
        } else {
          m.exports = new Proxy({}, throwingHandler(m.filename))
        }
        this.say(`${path.basename(m.filename)}.exports = ${op.revoked ? 'a revoked Proxy' : 'a Proxy that throws on every trap'}`)
        return
      }
      case 'mock': {
        if (this.snapshotOpen() || this.extras.length >= 4) return
        const key = path.join(this.dir, `mock-${this.extras.length}.js`)
        let value
        if (op.shape === 'plain') value = { exports: { mock: true }, loaded: true }
        else if (op.shape === 'moduleShaped') value = { id: key, filename: key, loaded: true, exports: {}, children: [], paths: [] }
        else {
          value = new Module(key, undefined)
          value.filename = key
          value.loaded = true
          value.children = null
        }
        cache[key] = value
        this.extras.push({ key, kind: op.shape })
        this.say(`require.cache[${path.basename(key)}] = a ${op.shape} mock`)
        return
      }
      case 'handCompiled': {
        if (this.snapshotOpen() || this.extras.length >= 4) return
        const key = path.join(this.dir, `hand-${this.extras.length}.js`)
        const m = new Module(key, undefined)
        m.filename = key
        m.paths = Module._nodeModulePaths(this.dir)
        const deps = op.deps.map((d) => d % this.graph.length)
        const state = globalThis[Symbol.for('uncache-tree.state.v1')]
        const loadGap = Module._load !== state.loadWrapper
        try {
          m._compile(`module.exports = [${deps.map((d) => `require('./${fileName(d)}')`).join(', ')}]\n`, key)
        } catch (error) {
          if (loadGap) {
            // Its requires went through a Module._load that another library put back: no
            // wrapper saw this requirer, and it is in no cache, so nothing can find it (README,
            // Patched loaders). Nobody keeps it: it is garbage, as it would be in a program.
            this.say(`hand-compiled ${path.basename(key)} threw ${error.message} during a Module._load gap (dropped)`)
            return
          }
          // Never cached, yet it required what it got before throwing: a requirer outside the
          // cache like a createRequire proxy (require-from-string), alive as long as the test
          // keeps it, which it does, so that what it holds does not depend on the GC.
          this.proxies.push(m)
          this.say(`hand-compiled ${path.basename(key)} threw ${error.message} (kept as a requirer outside the cache)`)
          return
        }
        cache[key] = m
        this.extras.push({ key, kind: 'handCompiled' })
        this.say(`require.cache[${path.basename(key)}] = new Module + _compile (requires ${deps.map((d) => fileName(d)).join(', ')}; loaded === false)`)
        return
      }
      case 'unpatchLoader': {
        // Another library that saved the loader before uncache-tree patched it puts it back
        // (mock-require's stopAll()): requires made from now on are not seen by the wrappers.
        const state = globalThis[Symbol.for('uncache-tree.state.v1')]
        const restored = []
        if ((op.which === '_load' || op.which === 'all') && typeof state.originalLoad === 'function' && Module._load !== state.originalLoad) {
          Module._load = state.originalLoad
          restored.push('Module._load')
        }
        if ((op.which === 'load' || op.which === 'all') && typeof state.originalModuleLoad === 'function' && Module.prototype.load !== state.originalModuleLoad) {
          Module.prototype.load = state.originalModuleLoad
          restored.push('Module.prototype.load')
          // What was cached when the gap opened: a module not among these loaded unseen.
          this.gapCached = new Set(Object.values(cache))
        }
        if ((op.which === '_findPath' || op.which === 'all') && typeof state.originalFindPath === 'function' && Module._findPath !== state.originalFindPath) {
          Module._findPath = state.originalFindPath
          restored.push('Module._findPath')
        }
        if (restored.length > 0) this.say(`another library puts back the unpatched ${restored.join(', ')}`)
        return
      }
      case 'alias': {
        const m = cache[this.entity(op.m)]
        if (!(m instanceof Module) || this.snapshotOpen() || this.aliases >= 2) return
        const key = path.join(this.dir, 'aliases', `alias-${this.aliases++}-${path.basename(m.filename)}`)
        cache[key] = m
        // A key made by hand: the contract asks for a rescan().
        api.rescan()
        this.say(`require.cache[${path.relative(this.dir, key)}] = ${path.basename(m.filename)} (a second key); rescan()`)
        return
      }
      case 'moveKey': {
        const k = op.m % (this.graph.length + this.extras.length)
        if (k >= this.graph.length || this.snapshotOpen()) return
        const file = this.file(k)
        const m = cache[file]
        if (!(m instanceof Module)) return
        const key = path.join(this.dir, 'moved', `moved-${this.step}-${path.basename(file)}`)
        delete cache[file]
        cache[key] = m
        this.say(`${path.basename(file)} moved to require.cache[${path.relative(this.dir, key)}] (no rescan)`)
        return
      }
      case 'bypassLoad': {
        const from = cache[this.entity(op.from)]
        const file = this.entity(op.m)
        const state = globalThis[Symbol.for('uncache-tree.state.v1')]
        if (!(from instanceof Module) || !Array.isArray(from.children) || !fs.existsSync(file) || typeof state.originalLoad !== 'function') return
        const ours = Module._load
        Module._load = state.originalLoad
        try {
          this.tryRequire(() => from.require(file), `${path.basename(from.filename)} requires ${path.basename(file)} through Node's own _load, then ours is put back`)
        } finally {
          Module._load = ours
        }
        return
      }
      case 'freezePathCache':
        if (Object.isFrozen(Module._pathCache)) return
        Object.freeze(Module._pathCache)
        this.say('Object.freeze(Module._pathCache)')
        return
      case 'rewrite': {
        const k = op.m % this.graph.length
        this.rewrite(k, op.deps, op.throws)
        this.say(`write ${fileName(k)} v${this.versions[k]} (requires ${this.sources[k].deps.map((d) => fileName(d)).join(', ') || 'nothing'}${this.sources[k].throws ? ', throws' : ''})`)
        return
      }
      default:
        throw new Error(`unknown edit ${op.e}`)
    }
  }

  async finish() {
    if (this.reentryFailures.length > 0) fail(`re-entrant calls not refused: ${this.reentryFailures.slice(0, 3).join('; ')}`)
    // Async dispose rejections land in their report's errors; none may be unhandled.
    await new Promise((resolve) => setImmediate(resolve))
    for (const { label, report, kinds } of this.asyncChecks) {
      const got = report.errors.map(model.errorKind).filter((k) => k.startsWith('async:')).sort()
      if (model.show(got) !== model.show(kinds)) fail(`${label}: the async dispose rejections ${model.show(kinds)} are not in report.errors (${model.show(got)})`)
    }
    const mine = unhandled.splice(0).filter((r) => r && typeof r.fuzzKind === 'string')
    if (mine.length > 0) fail(`unhandled rejections from async dispose handlers: ${mine.map((r) => r.fuzzKind).join(', ')}`)
    // Every isolate of the sequence has ended: a new one must start (no ghost of a finished one).
    try {
      api.isolate(() => undefined)
    } catch (error) {
      fail(`after the sequence, isolate() fails: ${error && error.message}`)
    }
  }

  /** Leaves the process as the sequence found it: no fixture in the cache, in any children array or in Module._pathCache. */
  cleanup() {
    const prefix = this.dir + path.sep
    const under = (v) => typeof v === 'string' && v.startsWith(prefix)
    const pathCache = Module._pathCache
    if (Object.isFrozen(pathCache)) {
      // A frozen object cannot be unfrozen; Node reads Module._pathCache on every lookup (Node 20-26).
      const fresh = { __proto__: null }
      for (const key of Object.keys(pathCache)) if (!under(pathCache[key])) fresh[key] = pathCache[key]
      Module._pathCache = fresh
    } else {
      for (const key of Object.keys(pathCache)) if (under(pathCache[key])) delete pathCache[key]
    }
    const cache = require.cache
    for (const key of Object.keys(cache)) if (under(key)) delete cache[key]
    for (const key of Object.keys(cache)) {
      const m = cache[key]
      if (m === null || typeof m !== 'object' || !Array.isArray(m.children) || Object.isFrozen(m.children)) continue
      const kept = m.children.filter((c) => !(c && under(c.filename)))
      if (kept.length !== m.children.length) m.children.splice(0, m.children.length, ...kept)
    }
    for (const p of this.proxies) if (Array.isArray(p.children) && !Object.isFrozen(p.children)) p.children.length = 0
    this.snapshots.length = 0
    // A failed sequence may leave an isolate marked running (reported above as a violation):
    // clear it so the following sequences, and the shrinking, start from a clean process.
    const running = globalThis[Symbol.for('uncache-tree.state.v1')]?.snapshots?.running
    if (running !== undefined && running.size > 0) running.clear()
    fs.rmSync(this.dir, { recursive: true, force: true })
    // The loader wrappers as the sequence found them: a loader that another library put back
    // (unpatchLoader) must not carry into the next sequence, or a shrunk sequence, replayed
    // alone, would not fail as it did.
    install()
    // The fixtures deleted above by hand were the last modules Node loaded. A program has live
    // recently loaded modules; a snapshot whose every mark is deleted during a loader gap is a
    // documented limit (README, Patched loaders) that the cleanup must not set up for the next
    // sequence: load one module afresh, as a program would.
    const previous = require.cache[SENTINEL]
    delete require.cache[SENTINEL]
    if (module.children.includes(previous)) module.children.splice(module.children.indexOf(previous), 1)
    require(SENTINEL)
  }
}

function count(report) {
  stats.apiCalls++
  stats.removedModules += report.removed.length
  if (report.removed.length > 0) stats.callsRemoving++
  stats.kept += report.kept.length
  stats.skipped += report.skipped.length
  stats.pinned += report.pinned.length
  stats.disposeErrors += report.errors.length
}

function describeTargets(seq, targets) {
  const names = targets.map((t) => (t.startsWith(seq.dir) ? path.basename(t) : t === ADDON ? '<addon>' : t))
  return names.length === 1 ? names[0] : `[${names.join(', ')}]`
}

function describeOptions(options) {
  const parts = []
  for (const [k, v] of Object.entries(options)) {
    if (k === 'from') parts.push(`from: ${path.basename(v)}`)
    else if (typeof v === 'function') parts.push(`${k}: fn`)
    else parts.push(`${k}: ${v instanceof RegExp ? String(v) : JSON.stringify(v)}`)
  }
  return `{ ${parts.join(', ')} }`
}

// Thousands of sequences leave thousands of dead createRequire proxies, stand-ins and snapshot
// recorders that the package's registry holds weakly until a GC; collect every so often so that
// sequence N costs what sequence 1 did (a real process does not make 3 proxies per 50 ms).
require('node:v8').setFlagsFromString('--expose-gc')
const collect = require('node:vm').runInNewContext('gc')
const GC_EVERY = 50

// Closures that hand-edited modules keep (a getter-only `parent`, an exports Proxy's traps) are made
// here, at the top level, so that they hold only what they return: made inside a Sequence method,
// V8's context chain kept the Sequence alive through them, with its open snapshots, whose
// recorders then recorded every later sequence (2026-12-07: from ~11,000 sequences on, one
// recorder held 4,700 modules and the run slowed to 6 sequences/s).
const constantGetter = (value) => () => value
function throwingHandler(filename) {
  const handler = {}
  for (const name of ['get', 'set', 'has', 'ownKeys', 'getOwnPropertyDescriptor', 'getPrototypeOf', 'defineProperty', 'deleteProperty', 'isExtensible', 'preventExtensions', 'setPrototypeOf', 'apply', 'construct']) {
    handler[name] = () => {
      throw new Error(`fuzz: the exports Proxy of ${filename} was touched (${name})`)
    }
  }
  return handler
}

/** Runs one sequence; throws a Violation (or any error) when a check fails. */
async function runSequence(graph, ops, log) {
  stats.sequences++
  if (stats.sequences % GC_EVERY === 0) {
    // Back to the event loop first, as a program does between requests or tests: every sequence
    // is synchronous, so one fc.check would otherwise be a single job, in which no
    // FinalizationRegistry callback runs (the one that stops the recording of a dropped snapshot)
    // and every WeakRef the package dereferences keeps its target.
    await new Promise((resolve) => setImmediate(resolve))
    collect()
  }
  const seq = new Sequence(graph, ops, log)
  current = seq
  try {
    for (const op of ops) {
      const pending = seq.run(op, true)
      if (pending !== undefined) await pending
    }
    await seq.finish()
  } finally {
    current = null
    seq.cleanup()
  }
}

function sequenceProperty() {
  return fc.asyncProperty(graphArb, preludeArb, opsArb, (graph, prelude, ops) => runSequence(graph, [...prelude, ...ops], null))
}

/** A standalone script that replays one sequence with a step-by-step log. */
function reproScript(graph, ops, { seed, error }) {
  const lines = []
  lines.push('#!/usr/bin/env node')
  lines.push(`// uncache-tree property-based suite: a failing sequence, shrunk (Node ${process.version}, seed ${seed}).`)
  lines.push(`// ${String(error && error.message).split('\n')[0]}`)
  lines.push('// Run: node <this file>   (prints every step; exits 1 on the violation)')
  lines.push(`const { replay } = require(${JSON.stringify(__filename)})`)
  lines.push(`const graph = ${JSON.stringify(graph)}`)
  lines.push(`const ops = ${JSON.stringify(ops, null, 1).replace(/\n\s*/g, ' ')}`)
  lines.push('replay(graph, ops)')
  return lines.join('\n') + '\n'
}

async function replay(graph, ops) {
  const lines = graph.map((m, i) => `m${i}: ${m.kind}${m.kind === 'js' ? ` requires ${m.deps.map((d) => `m${d % graph.length}`).join(', ') || 'nothing'}` : ''}${m.behaviours.length ? `, dispose: ${m.behaviours.join(', ')}` : ''}`)
  console.log(`graph:\n  ${lines.join('\n  ')}\nsteps:`)
  try {
    await runSequence(graph, ops, (text) => console.log(text))
    console.log('passed: no violation')
  } catch (error) {
    console.log(`\nVIOLATION: ${error && error.stack}`)
    process.exitCode = 1
  }
}

/**
 * Runs `runs` sequences from `seed`; on failure writes the shrunk sequence as a script under
 * `reproDir` and returns { failed, seed, runs, ms, script, message }.
 */
async function fuzz({ runs, seed, reproDir = path.join(os.tmpdir(), 'uncache-fuzz-repros') }) {
  const started = process.hrtime.bigint()
  const details = await fc.check(sequenceProperty(), { numRuns: runs, seed, endOnFailure: process.env.FUZZ_NO_SHRINK === '1', interruptAfterTimeLimit: undefined })
  const ms = Number(process.hrtime.bigint() - started) / 1e6
  const out = { failed: details.failed, seed, runs: details.numRuns, ms, shrinks: details.numShrinks }
  if (details.failed) {
    const [graph, prelude, rest] = details.counterexample
    const ops = [...prelude, ...rest]
    fs.mkdirSync(reproDir, { recursive: true })
    const script = path.join(reproDir, `repro-${process.versions.node.split('.')[0]}-${seed}-${Date.now()}.cjs`)
    fs.writeFileSync(script, reproScript(graph, ops, { seed, error: details.errorInstance }))
    out.script = script
    out.message = String(details.errorInstance && details.errorInstance.message)
    out.contents = fs.readFileSync(script, 'utf8')
  }
  return out
}

module.exports = { fuzz, replay, runSequence, graphArb, opsArb, stats, NODE_MAJOR, ADDON, REJECTS_UNKNOWN_OPTIONS }
