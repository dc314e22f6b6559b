'use strict'
// The module graph is exact on a warm process (API.md, "The module graph"): after the index was
// read, a plan is the plan of a full scan of the cache whatever other code did to the cache keys
// or the loader, and references made by hand count from the next rescan(). Each test is the
// regression test of one item of issue 16; docs/module-graph.md explains the rules.
const test = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const { spawnSync } = require('node:child_process')
const Module = require('node:module')
const { uncacheTree, invalidate, rescan, hot } = require('..')
const { state } = require('../lib/graph/state.js')
const engine = require('../lib/graph/engine.js')
const { writeTree, requiring } = require('./helpers/fixtures.cjs')

const cache = require.cache
const base = (ids) => ids.map((id) => path.basename(id))

/**
 * a.js requires shared.js; b.js requires nothing; both loaded. The index is warm: two unloads of
 * other modules ran first (the first plan of a process scans, the second reads the index).
 */
function warmGraph() {
  const t = writeTree({
    'a.js': requiring('a', ['./shared']),
    'b.js': requiring('b'),
    'shared.js': requiring('shared'),
    'w1.js': requiring('w1'),
    'w2.js': requiring('w2'),
  })
  require(t.file('a.js'))
  require(t.file('b.js'))
  require(t.file('w1.js'))
  require(t.file('w2.js'))
  uncacheTree(t.file('w1.js'))
  uncacheTree(t.file('w2.js'))
  assert.equal(state.graphIndex.readAtEpoch, state.loaderEpoch, 'the index is read')
  return { t, a: cache[t.file('a.js')], b: cache[t.file('b.js')], shared: cache[t.file('shared.js')] }
}

/** The plan of uncacheTree(keys) through the index and by a full scan, as comparable text. */
function bothPlans(keys, options = { shared: 'keep' }) {
  const text = ({ graph, plan }) =>
    JSON.stringify({
      removed: Array.from(plan.removed, (i) => graph.ids[i]).sort(),
      keys: graph.keys.filter((_, k) => Array.from(plan.removed).includes(graph.keyNode[k])).sort(),
      kept: Array.from(plan.kept, (i) => graph.ids[i]).sort(),
    })
  return [text(engine.planTrees(cache, keys, options)), text(engine.planTrees(cache, keys, options, true))]
}

test('item 1: an edge pushed by hand into a holder counts after rescan(), on a warm index as on the first call', () => {
  const { t, b, shared } = warmGraph()
  b.children.push(shared)
  rescan()
  const [fromIndex, fromScan] = bothPlans([t.file('a.js')])
  assert.equal(fromIndex, fromScan)
  const report = uncacheTree(t.file('a.js'))
  assert.deepEqual(base(report.removed), ['a.js'])
  assert.deepEqual(report.kept, [{ id: t.file('shared.js'), heldBy: [t.file('b.js')] }])
  assert.equal(cache[t.file('shared.js')], shared, 'shared.js stays, same identity')
})

test('item 1: a replaced children array counts after rescan()', () => {
  const { t, b, shared } = warmGraph()
  b.children = [shared]
  rescan()
  const report = uncacheTree(t.file('a.js'))
  assert.deepEqual(report.kept, [{ id: t.file('shared.js'), heldBy: [t.file('b.js')] }])
  assert.equal(cache[t.file('shared.js')], shared)
})

test('item 1: a holder moved to another cache key still holds, without rescan() (the changed key is seen)', () => {
  const { t, b, shared } = warmGraph()
  b.children.push(shared)
  rescan()
  delete cache[t.file('b.js')]
  const moved = path.join(t.dir, 'elsewhere', 'b.js')
  cache[moved] = b
  const [fromIndex, fromScan] = bothPlans([t.file('a.js')])
  assert.equal(fromIndex, fromScan)
  const report = uncacheTree(t.file('a.js'))
  assert.deepEqual(report.kept, [{ id: t.file('shared.js'), heldBy: [moved] }])
  assert.equal(cache[t.file('shared.js')], shared)
  delete cache[moved]
})

test('item 1: a target moved to another key is removed under that key, never disposed and left cached', () => {
  const { t, a } = warmGraph()
  let disposed = 0
  hot(a).dispose(() => disposed++)
  delete cache[t.file('a.js')]
  const moved = path.join(t.dir, 'elsewhere', 'a.js')
  cache[moved] = a
  const report = uncacheTree(moved)
  assert.deepEqual(report.removed, [moved, t.file('shared.js')])
  assert.equal(disposed, 1)
  assert.equal(cache[moved], undefined, 'not left cached')
  assert.deepEqual(a.children, [], 'emptied')
})

test('item 2: a module cached under two keys is removed under both after rescan(), and removed lists each', () => {
  const { t, a } = warmGraph()
  const alias = path.join(t.dir, 'alias', 'a.js')
  cache[alias] = a
  rescan()
  const [fromIndex, fromScan] = bothPlans([t.file('a.js')])
  assert.equal(fromIndex, fromScan)
  const report = uncacheTree(a)
  assert.deepEqual(report.removed.slice().sort(), [alias, t.file('a.js'), t.file('shared.js')].sort())
  assert.equal(cache[alias], undefined)
  assert.equal(cache[t.file('a.js')], undefined)
})

test('item 2: an alias the plan was named by is removed, even before a rescan()', () => {
  const { t, a } = warmGraph()
  const alias = path.join(t.dir, 'alias', 'a.js')
  cache[alias] = a
  const report = uncacheTree(alias)
  assert.ok(report.removed.includes(alias) && report.removed.includes(t.file('a.js')), report.removed.join(', '))
  assert.equal(cache[alias], undefined)
})

test('item 2: invalidate removes every key of an aliased importer', () => {
  const { t, a } = warmGraph()
  const alias = path.join(t.dir, 'alias', 'a.js')
  cache[alias] = a
  rescan()
  const report = invalidate(t.file('shared.js'))
  assert.deepEqual(report.removed.slice().sort(), [alias, t.file('a.js'), t.file('shared.js')].sort())
  assert.equal(cache[alias], undefined)
})

test("item 3: edges made while a library ran Node's own _load around ours are not lost", () => {
  const { t, b, shared } = warmGraph()
  const ours = Module._load
  Module._load = state.originalLoad // what another library saved before we patched
  try {
    b.require(t.file('shared.js')) // b -> shared: appended by Node, not seen by our _load
  } finally {
    Module._load = ours // and put back before our next call: install() sees nothing
  }
  assert.ok(b.children.includes(shared))
  const report = uncacheTree(t.file('a.js'))
  assert.deepEqual(report.kept, [{ id: t.file('shared.js'), heldBy: [t.file('b.js')] }])
  assert.equal(cache[t.file('shared.js')], shared, 'not unloaded from under b')
})

test("item 3: a snapshot restore cuts an edge made while a library ran Node's own _load around ours", () => {
  const { isolate } = require('..')
  const t = writeTree({ 'before.js': requiring('before'), 'since.js': requiring('since') })
  require(t.file('before.js'))
  const before = cache[t.file('before.js')]
  const epoch = state.loaderEpoch
  let report
  isolate(
    () => {
      require(t.file('since.js'))
      const ours = Module._load
      Module._load = state.originalLoad
      try {
        before.require(t.file('since.js')) // before -> since: not seen by our _load
      } finally {
        Module._load = ours
      }
    },
    { onRestore: (r) => (report = r) },
  )
  assert.ok(state.loaderEpoch > epoch, 'the gap was noticed as it happened')
  assert.deepEqual(report.removed, [t.file('since.js')])
  assert.equal(before.children.some((c) => c.id === t.file('since.js')), false, 'no stale edge left')
})

test('item 3: plain requires are no loader gap', () => {
  const t = writeTree({ 'p.js': requiring('p', ['./q', './r']), 'q.js': requiring('q', ['./r']), 'r.js': requiring('r') })
  const epoch = state.loaderEpoch
  require(t.file('p.js'))
  cache[t.file('p.js')].require(t.file('r.js'))
  assert.equal(state.loaderEpoch, epoch)
})

test('item 7: invalidate climbs through a module other code deleted from the cache to its live importers', () => {
  const t = writeTree({ 'app.js': requiring('app', ['./mid']), 'mid.js': requiring('mid', ['./leaf']), 'leaf.js': requiring('leaf') })
  require(t.file('app.js'))
  rescan()
  const mid = cache[t.file('mid.js')]
  let disposed = 0
  hot(mid).dispose(() => disposed++)
  delete cache[t.file('mid.js')] // decache-style
  const report = invalidate(t.file('leaf.js'))
  assert.deepEqual(base(report.removed), ['app.js', 'leaf.js'])
  assert.equal(cache[t.file('app.js')], undefined, 'the live importer above mid no longer serves the old code')
  assert.equal(disposed, 1, "mid's dispose handlers ran")
  assert.equal(require(t.file('app.js')).deps['./mid'].deps['./leaf'].name, 'leaf')
})

test('item 8: a synchronous loop of 100 reloads of a 1 MB plugin frees each generation as it goes', () => {
  const t = writeTree({
    'plugin.js': "module.exports = { data: Array.from({ length: 131072 }, (_, i) => i + 0.5), helper: require('./helper') }\n",
    'helper.js': 'module.exports = { helper: true }\n',
    'run.js': `
      const api = require(${JSON.stringify(path.join(__dirname, '..'))})
      const file = require('node:path').join(__dirname, 'plugin.js')
      require(file)
      for (let i = 0; i < 3; i++) api.reload(file)
      gc(); gc()
      const before = process.memoryUsage().heapUsed
      for (let i = 0; i < 100; i++) api.reload(file) // one job: nothing yields
      gc(); gc()
      console.log(JSON.stringify({ growth: process.memoryUsage().heapUsed - before }))
    `,
  })
  const out = spawnSync(process.execPath, ['--expose-gc', t.file('run.js')], { encoding: 'utf8' })
  assert.equal(out.status, 0, out.stderr)
  const { growth } = JSON.parse(out.stdout)
  assert.ok(growth <= 2 * 1024 * 1024, `heap grew ${(growth / 1048576).toFixed(1)} MB over 100 reloads of 1 MB (≤ 2 MB)`)
})

test('item 8: the live graph index creates no WeakRef per module', () => {
  const created = []
  const Original = globalThis.WeakRef
  globalThis.WeakRef = class extends Original {
    constructor(target) {
      super(target)
      created.push(target)
    }
  }
  try {
    const t = writeTree({ 'p.js': requiring('p', ['./q']), 'q.js': requiring('q') })
    rescan()
    for (let i = 0; i < 5; i++) {
      require(t.file('p.js'))
      uncacheTree(t.file('p.js'))
    }
  } finally {
    globalThis.WeakRef = Original
  }
  assert.equal(created.filter((m) => m instanceof Module).length, 0)
})

test('item 9: a target Proxy whose getPrototypeOf throws is removed as a non-Module entry, no raw Error', () => {
  const t = writeTree({})
  const make = () => new Proxy({}, { getPrototypeOf: () => { throw new Error('trap ran') } })
  cache[t.file('by-key.js')] = make()
  assert.deepEqual(uncacheTree(t.file('by-key.js')).removed, [t.file('by-key.js')])
  const proxy = make()
  cache[t.file('by-object.js')] = proxy
  assert.deepEqual(uncacheTree(proxy).removed, [t.file('by-object.js')])
  assert.equal(cache[t.file('by-object.js')], undefined)
  // invalidate's ES module check looked at it with instanceof, which runs the trap (found in review).
  cache[t.file('by-key.js')] = make()
  assert.deepEqual(invalidate(t.file('by-key.js')).removed, [t.file('by-key.js')])
  assert.equal(cache[t.file('by-key.js')], undefined)
})

test('item 9: the removed module of a stale entry in a frozen Module._pathCache is pinned (unwritable)', () => {
  const t = writeTree({ 'x.js': requiring('x') })
  require('./' + path.relative(__dirname, t.file('x.js'))) // a relative request: a _pathCache entry
  const saved = Module._pathCache
  Module._pathCache = Object.freeze({ ...saved })
  let report
  try {
    report = uncacheTree(t.file('x.js'))
  } finally {
    Module._pathCache = saved
  }
  assert.deepEqual(report.removed, [t.file('x.js')])
  assert.deepEqual(report.pinned, [{ id: t.file('x.js'), by: 'unwritable' }])
  assert.equal(report.pathCacheEntries, 0)
})

test('fuzz bug 5: a frozen Module._pathCache entry pins every removed module of its file (a copy moved to another key and the one loaded since)', () => {
  const t = writeTree({ 'x.js': requiring('x') })
  const request = './' + path.relative(__dirname, t.file('x.js')) // a relative request: a _pathCache entry
  require(request)
  const old = cache[t.file('x.js')]
  cache[t.file('moved-x.js')] = old // moved to another key, its filename still x.js
  delete cache[t.file('x.js')]
  require(request) // a fresh copy under x.js, resolved through the same _pathCache entry
  assert.notEqual(cache[t.file('x.js')], old)
  const saved = Module._pathCache
  Module._pathCache = Object.freeze({ ...saved })
  let report
  try {
    report = uncacheTree([t.file('x.js'), t.file('moved-x.js')])
  } finally {
    Module._pathCache = saved
  }
  const byId = (a, b) => (a.id < b.id ? -1 : 1)
  assert.deepEqual([...report.removed].sort(), [t.file('moved-x.js'), t.file('x.js')])
  assert.deepEqual([...report.pinned].sort(byId), [
    { id: t.file('moved-x.js'), by: 'unwritable' },
    { id: t.file('x.js'), by: 'unwritable' },
  ])
  assert.equal(report.pathCacheEntries, 0)
})

test("fuzz bug 1: a restore that unloads a dropped copy keeps the _pathCache entries of the module put back under its file (proxyquire), and drops them when none is", () => {
  const { isolate } = require('..')
  const t = writeTree({ 'a.js': requiring('a') })
  const file = t.file('a.js')
  const req = Module.createRequire(t.file('x.js'))
  const entriesOfA = () => Object.keys(Module._pathCache).filter((key) => Module._pathCache[key] === file)
  req('./a.js')
  const original = cache[file]
  const entries = entriesOfA()
  assert.equal(entries.length, 1)
  let report
  isolate(
    () => {
      delete cache[file]
      req('./a.js') // the fresh copy, dropped again below
      cache[file] = original // put back, as proxyquire does
    },
    { onRestore: (r) => (report = r) },
  )
  assert.deepEqual(report.removed, [file], 'the fresh copy is unloaded')
  assert.equal(cache[file], original)
  assert.equal(report.pathCacheEntries, 0)
  assert.deepEqual(entriesOfA(), entries, 'the entries of the original, still cached, stay')
  // Nothing put back: no module stays under a.js, so its entries go with the dropped copy.
  isolate(
    () => {
      delete cache[file]
      req('./a.js')
      delete cache[file]
    },
    { onRestore: (r) => (report = r) },
  )
  assert.deepEqual(report.removed, [file])
  assert.equal(cache[file], undefined)
  assert.equal(report.pathCacheEntries, 1)
  assert.deepEqual(entriesOfA(), [])
})

test('item 9: a getter-only parent that still reaches a removed module is reported unwritable (and last-parent on Node >= 22)', () => {
  const t = writeTree({ 'a.js': requiring('a', ['./shared']), 'b.js': requiring('b', ['./shared']), 'shared.js': requiring('shared') })
  require(t.file('a.js'))
  require(t.file('b.js'))
  const shared = cache[t.file('shared.js')]
  const parent = shared.parent
  Object.defineProperty(shared, 'parent', { get: () => parent, configurable: false, enumerable: true })
  const report = uncacheTree(t.file('a.js'))
  const major = Number(process.versions.node.split('.')[0])
  const expected = [{ id: t.file('a.js'), by: 'unwritable' }]
  if (major >= 22) expected.unshift({ id: t.file('a.js'), by: 'last-parent' })
  assert.deepEqual(report.pinned, expected)
})

test("item 9: a getter-only children accessor is never called, and what the index recorded for it still counts (clear-module's cycle)", () => {
  const t = writeTree({ 'a.js': "exports.b = require('./b')\n", 'b.js': "exports.a = require('./a')\n" })
  require(t.file('a.js'))
  rescan()
  const a = cache[t.file('a.js')]
  const children = a.children
  let called = 0
  Object.defineProperty(a, 'children', { get: () => (called++, children), configurable: false, enumerable: true })
  const report = uncacheTree(t.file('a.js'))
  assert.equal(called, 0, 'the accessor never ran')
  assert.deepEqual(base(report.removed), ['a.js', 'b.js'], 'b.js, which only the cycle holds, goes too')
  assert.equal(cache[t.file('b.js')], undefined)
})

test('item 9: a live holder whose children is a getter-only accessor holds what was recorded for it, and pins it (unwritable)', () => {
  const t = writeTree({ 'host.js': requiring('host', ['./dep']), 'dep.js': requiring('dep', ['./leaf']), 'leaf.js': requiring('leaf') })
  require(t.file('host.js'))
  rescan()
  const host = cache[t.file('host.js')]
  const children = host.children
  Object.defineProperty(host, 'children', { get: () => children, configurable: false, enumerable: true })
  // dep.js is held by host (recorded): unloading it as a target removes it, and host still
  // lists it in an array no cut can reach.
  const report = uncacheTree(t.file('dep.js'))
  assert.deepEqual(base(report.removed), ['dep.js', 'leaf.js'])
  assert.deepEqual(report.pinned, [{ id: t.file('dep.js'), by: 'unwritable' }])
  // And a module it holds stays when another tree that requires it goes.
  const u = writeTree({ 'user.js': requiring('user', [t.file('leaf.js')]) })
  require(t.file('dep.js'))
  require(u.file('user.js'))
  rescan()
  const kept = uncacheTree(u.file('user.js'))
  assert.deepEqual(kept.removed, [u.file('user.js')])
  assert.equal(cache[t.file('leaf.js')] !== undefined, true)
})

test('speed: an unload of a require-from-string module plans through the index, without reading the whole graph', () => {
  const t = writeTree({ 'dep.js': requiring('dep'), 'other.js': requiring('other', ['./dep']) })
  require(t.file('other.js'))
  rescan()
  const graphIndex = require('../lib/graph/graph-index.js')
  const rebuild = graphIndex.rebuild
  let reads = 0
  graphIndex.rebuild = (...args) => (reads++, rebuild(...args))
  try {
    fromStringUnloads(t, () => reads)
  } finally {
    graphIndex.rebuild = rebuild
  }
})

function fromStringUnloads(t, readsNow) {
  for (let k = 0; k < 3; k++) {
    const file = t.file(`from-string-${k}.js`)
    const holder = cache[t.file('other.js')]
    // What require-from-string does: compile by hand (parent given), then cache it by hand.
    const m = new Module(file, holder)
    m.filename = file
    m.paths = Module._nodeModulePaths(t.dir)
    m._compile("module.exports = require('./dep.js')\n", file)
    cache[file] = m
    const before = readsNow()
    const report = uncacheTree(file)
    assert.equal(readsNow(), before, 'the whole graph was not read anew')
    assert.deepEqual(report.removed, [file])
    assert.deepEqual(report.kept, [{ id: t.file('dep.js'), heldBy: [t.file('other.js')] }])
    assert.equal(holder.children.includes(m), false, "the edge new Module(id, parent) gave the parent is cut")
  }
}

test("reload's tree option cuts the edge to a removed module from a module other code deleted from the cache, when a live requirer also lists a target (fuzz, seed 1320265685)", () => {
  // proxy -> stale.js -> dep.js and proxy -> target.js -> dep.js; stale.js is deleted from the
  // cache by other code. stale.js is a leaf of the importers' graph (the proxy lists it next to
  // the target), and reloading target.js with its tree removes dep.js: stale.js, still reached
  // from the live proxy, must lose its edge to the old dep.js, as a full scan's plan says.
  const t = writeTree({ 'stale.js': requiring('stale', ['./dep']), 'target.js': requiring('target', ['./dep']), 'dep.js': requiring('dep') })
  const proxyRequire = Module.createRequire(t.file('proxy.js'))
  proxyRequire(t.file('stale.js'))
  proxyRequire(t.file('target.js'))
  rescan()
  const stale = cache[t.file('stale.js')]
  const oldDep = cache[t.file('dep.js')]
  delete cache[t.file('stale.js')]
  const { planInvalidation } = require('../lib/hot/invalidate.js')
  const cutsOf = (fullScan) => {
    const planned = planInvalidation(cache, [t.file('target.js')], { tree: true, shared: 'keep' }, { fullScan })
    return base(Array.from(planned.unloadPlan.cutChildrenOf, (i) => planned.graph.nodes[i].id)).sort()
  }
  assert.deepEqual(cutsOf(true), ['proxy.js', 'stale.js'], 'a full scan cuts both holders')
  assert.deepEqual(cutsOf(false), cutsOf(true), 'the plan through the index is the full scan plan')
  const { reload } = require('..')
  reload(t.file('target.js'), { tree: true })
  assert.notEqual(cache[t.file('dep.js')], oldDep, 'dep.js was reloaded with the tree')
  assert.equal(stale.children.includes(oldDep), false, 'the deleted module no longer holds the old dep.js')
})

test('an unload keeps in the graph the edge a frozen `children` of a module other code deleted from the cache still holds (fuzz, seed 20261210)', () => {
  // proxy -> top.js -> stale.js -> leaf.js; stale.js is deleted from the cache by other code and
  // its `children` frozen. Unloading leaf.js cannot cut stale.js's edge to it, and stale.js pins
  // nothing by itself (it is not live), but the live top.js still reaches it: the graph must keep
  // that edge, so that unloading top.js later plans the old leaf.js as a full scan does.
  const t = writeTree({ 'top.js': requiring('top', ['./stale']), 'stale.js': requiring('stale', ['./leaf']), 'leaf.js': requiring('leaf') })
  Module.createRequire(t.file('proxy.js'))(t.file('top.js'))
  rescan()
  const stale = cache[t.file('stale.js')]
  const oldLeaf = cache[t.file('leaf.js')]
  Object.freeze(stale.children)
  delete cache[t.file('stale.js')]
  const first = uncacheTree(t.file('leaf.js'))
  assert.deepEqual(first.removed, [t.file('leaf.js')])
  assert.deepEqual(first.pinned, [], 'a module no live holder lists is not pinned')
  assert.equal(stale.children[0], oldLeaf, 'the frozen array still lists the old leaf.js')
  const { planTree } = require('../lib/graph/tree-plan.js')
  const removedBy = (fullScan) => {
    const { graph, plan } = planTree(cache, [cache[t.file('top.js')]], { fullScan })
    return Array.from(plan.removed, (i) => graph.nodes[i])
  }
  const fromScan = removedBy(true)
  assert.deepEqual(base(fromScan.map((m) => m.id)).sort(), ['leaf.js', 'stale.js', 'top.js'])
  assert.deepEqual(removedBy(false), fromScan, 'the plan through the index is the full scan plan')
  assert.equal(fromScan.includes(oldLeaf), true)
})

/** The modules invalidate(key) would remove and cut, by file name: through the index or a full scan. */
function invalidationPlan(key, fullScan) {
  const { planInvalidation } = require('../lib/hot/invalidate.js')
  const { graph, unloadPlan } = planInvalidation(cache, [key], {}, { fullScan })
  const names = (list) => base(Array.from(list, (i) => graph.nodes[i].id)).sort()
  return { removed: names(unloadPlan.removed), cutChildrenOf: names(unloadPlan.cutChildrenOf) }
}

test('invalidate cuts the edge from a module whose load threw to a stale importer it required, found through a `parent` cycle (fuzz, seed 20261326)', () => {
  // proxy -> top.js -> mid.js -> leaf.js; top.js throws after requiring mid.js, so Node drops it
  // from the cache and from the proxy's `children`, but it still lists mid.js, and mid.js names it
  // as parent. Other code then deletes mid.js from the cache. Invalidating leaf.js removes mid.js
  // (a live module, leaf.js, still reaches it through `parent`) and must cut top.js's edge to it,
  // as a full scan does. The index found top.js only through mid.js's `parent`, and an earlier
  // search that met that cycle from the other side had remembered "not reachable" for top.js.
  const t = writeTree({
    'top.js': `require('./mid')\nthrow new Error('top.js fails to load')\n`,
    'mid.js': requiring('mid', ['./leaf']),
    'leaf.js': requiring('leaf'),
  })
  assert.throws(() => Module.createRequire(t.file('proxy.js'))(t.file('top.js')), /top\.js fails to load/)
  const mid = cache[t.file('mid.js')]
  const top = mid.parent
  assert.equal(base([top.id])[0], 'top.js')
  assert.equal(cache[t.file('top.js')], undefined, 'Node dropped the module whose load threw')
  delete cache[t.file('mid.js')]
  const planOf = (fullScan) => invalidationPlan(t.file('leaf.js'), fullScan)
  assert.deepEqual(planOf(true), { removed: ['leaf.js', 'mid.js'], cutChildrenOf: ['top.js'] }, 'a full scan cuts top.js')
  assert.deepEqual(planOf(false), planOf(true), 'the plan through the index is the full scan plan')
  invalidate(t.file('leaf.js'))
  assert.equal(top.children.includes(mid), false, 'top.js no longer lists the old mid.js')
})

test('invalidate does not climb through a module whose load threw: a stale importer only it reaches is cut, not removed (fuzz, seed 20261326)', () => {
  // proxy -> leaf.js; proxy -> top.js -> side.js and mid.js -> leaf.js; top.js throws after
  // requiring them, so Node drops it, but side.js (cached) and mid.js still name it as parent.
  // Other code deletes mid.js from the cache. Invalidating leaf.js: mid.js is reached from a live
  // module only through top.js, and an instance whose load threw passes no hold on (a full scan
  // does not flag mid.js stale), so mid.js is not climbed: its edge to leaf.js is cut.
  const t = writeTree({
    'top.js': `require('./side')\nrequire('./mid')\nthrow new Error('top.js fails to load')\n`,
    'side.js': requiring('side'),
    'mid.js': requiring('mid', ['./leaf']),
    'leaf.js': requiring('leaf'),
  })
  const proxyRequire = Module.createRequire(t.file('proxy.js'))
  proxyRequire(t.file('leaf.js'))
  assert.throws(() => proxyRequire(t.file('top.js')), /top\.js fails to load/)
  const mid = cache[t.file('mid.js')]
  const oldLeaf = cache[t.file('leaf.js')]
  assert.equal(cache[t.file('side.js')].parent, mid.parent, 'side.js and mid.js name the failed top.js')
  delete cache[t.file('mid.js')]
  const planOf = (fullScan) => invalidationPlan(t.file('leaf.js'), fullScan)
  assert.deepEqual(planOf(true), { removed: ['leaf.js'], cutChildrenOf: ['mid.js', 'proxy.js'] }, 'a full scan cuts mid.js')
  assert.deepEqual(planOf(false), planOf(true), 'the plan through the index is the full scan plan')
  assert.deepEqual(base(invalidate(t.file('leaf.js')).removed), ['leaf.js'])
  assert.equal(mid.children.includes(oldLeaf), false, 'mid.js no longer lists the old leaf.js')
})
