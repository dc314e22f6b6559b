'use strict'
// The live graph index (lib/graph/graph-index.js, src/live_graph.rs): an unload finds the holders of a
// tree through it, it forgets what was unloaded, it never keeps a module alive, and rescan()
// brings in references made by hand. The property-based suite compares its plans with a full
// scan's on random graphs (__test__/fuzz, comparePlans).
const test = require('node:test')
const assert = require('node:assert/strict')
const { uncacheTree, invalidate, reload, rescan } = require('..')
const { state } = require('../lib/graph/state.js')
const { install, uninstall } = require('../lib/loader/patches.js')
const { on } = require('../lib/graph/hooks.js')
const graphIndex = require('../lib/graph/graph-index.js')
const { settleGc } = require('../lib/proof/gc.js')
const { planPaths } = require('../lib/graph/tree-plan.js')
const { writeTree, requiring, compileByHand } = require('./helpers/fixtures.cjs')

const index = state.graphIndex
const idOf = (file) => index.ids.get(require.cache[file])

/** What `fn()` returns, and how many plans took each way meanwhile (`[result, taken]`). */
function withPlanPaths(fn) {
  const before = { ...planPaths }
  const result = fn()
  const taken = {}
  for (const way of Object.keys(planPaths)) taken[way] = planPaths[way] - before[way]
  return [result, taken]
}

function hostAndPlugin() {
  return writeTree({
    'host.js': requiring('host', ['./lib']),
    'lib.js': requiring('lib'),
    'plugin/index.js': requiring('plugin', ['./a', '../lib']),
    'plugin/a.js': requiring('a'),
  })
}

test('a require() is recorded as it happens: the holders of a tree come from the index', () => {
  const t = hostAndPlugin()
  require(t.file('host.js'))
  require(t.file('plugin/index.js'))
  rescan() // a known starting point; what follows is recorded by the loader wrappers only
  const later = writeTree({ 'late.js': requiring('late', [t.file('plugin/a.js')]) })
  require(later.file('late.js'))
  graphIndex.flush(index)
  const referrers = Array.from(index.graph.referrersOf(Uint32Array.of(idOf(t.file('plugin/a.js')))))
  assert.ok(referrers.includes(idOf(later.file('late.js'))), 'late.js, loaded after the rescan, is a referrer')
  assert.ok(referrers.includes(idOf(t.file('plugin/index.js'))))
  const report = uncacheTree(t.file('plugin/index.js'))
  assert.deepEqual(report.removed, [t.file('plugin/index.js')])
  assert.deepEqual(
    report.kept.sort((a, b) => a.id.localeCompare(b.id)),
    [
      { id: t.file('lib.js'), heldBy: [t.file('host.js')] },
      { id: t.file('plugin/a.js'), heldBy: [later.file('late.js')] },
    ].sort((a, b) => a.id.localeCompare(b.id)),
  )
})

test('unloaded modules leave the index: reloading a plugin 200 times does not grow it', () => {
  const t = hostAndPlugin()
  require(t.file('host.js'))
  const before = graphIndex.stats(index)
  for (let i = 0; i < 200; i++) {
    require(t.file('plugin/index.js'))
    uncacheTree(t.file('plugin/index.js'))
  }
  const after = graphIndex.stats(index)
  assert.equal(after.modules, before.modules, 'known modules')
  assert.equal(after.edges, before.edges, 'edges')
})

test('the index holds no module: one removed by other code is collected', async () => {
  const t = writeTree({ 'gone.js': 'module.exports = { big: new ArrayBuffer(1 << 16) }\n' })
  require(t.file('gone.js'))
  let collected = false
  const watcher = new FinalizationRegistry(() => (collected = true))
  watcher.register(require.cache[t.file('gone.js')], 'gone')
  // Other code removes it (plain delete, and the edge from this test file's module).
  delete require.cache[t.file('gone.js')]
  const self = require.cache[__filename]
  self.children.splice(self.children.findIndex((c) => c.id === t.file('gone.js')), 1)
  for (let round = 0; round < 20 && !collected; round++) await settleGc()
  assert.equal(collected, true, 'the module was collected: nothing in the index holds it')
})

test('ids of modules that other code removed do not pile up: the index drops itself at twice its size', () => {
  // A private index (not the process's): 100 modules read, then loads of modules that other code
  // deletes again, as a program that never calls uncache-tree would do.
  const own = graphIndex.attach({})
  const cache = {}
  for (let i = 0; i < 100; i++) cache[`/m${i}.js`] = { children: [] }
  graphIndex.rebuild(own, cache, [], (m) => [m.children, undefined], 0)
  assert.equal(own.readSize, 100)
  let loads = 0
  while (own.readAtEpoch === 0 && loads < 10000) {
    graphIndex.noteLoad(own, { children: [] }, `/gone${loads}.js`, null, cache)
    loads++
  }
  // Dropped by the first load that finds more than 2 x 100 + 4096 modules known.
  assert.equal(100 + loads - 1, 2 * 100 + 4096 + 1)
  assert.equal(own.keys.size, 0)
  assert.equal(own.graph.stats().nodes, 0)
  graphIndex.noteLoad(own, { children: [] }, '/after.js', null, cache)
  assert.equal(own.keys.size, 0, 'nothing is recorded until the next full read')
})

test('an index that grew because the program loaded more code goes on recording (checked once per doubling)', () => {
  // The same private index, but the loaded modules stay cached: a program that loads most of its
  // code after the first read (the require-overhead bench found the index dropped after 4,196
  // loads of a 30k graph, so only those were recorded).
  const own = graphIndex.attach({})
  const cache = {}
  for (let i = 0; i < 100; i++) cache[`/m${i}.js`] = { children: [] }
  graphIndex.rebuild(own, cache, [], (m) => [m.children, undefined], 0)
  const load = (key, cached) => {
    const m = { children: [] }
    if (cached) cache[key] = m
    graphIndex.noteLoad(own, m, key, null, cache)
  }
  // The load that finds 2 x 100 + 4096 + 1 ids counts the cache: nearly all are cached.
  for (let i = 0; i < 4198; i++) load(`/late${i}.js`, true)
  assert.equal(own.readAtEpoch, 0, 'still recording')
  assert.equal(own.keys.size, 100 + 4198)
  assert.equal(own.readSize, 100 + 4197, 'the next count comes when it has doubled from there')
  assert.equal(graphIndex.isKnown(own, cache['/late4197.js']), true)
  // Other code deletes them again and loads modules it deletes: at the next doubling, most ids
  // are dead weight, and the index is dropped.
  for (let i = 0; i < 4198; i++) delete cache[`/late${i}.js`]
  let loads = 0
  while (own.readAtEpoch === 0 && loads < 20000) load(`/gone${loads++}.js`, false)
  assert.equal(own.readAtEpoch, -1, 'dropped')
  assert.equal(100 + 4198 + loads - 1, 2 * (100 + 4197) + 4096 + 1, 'at the next doubling, not before')
})

test('an edge pushed into children by hand is seen after rescan(), and only then', () => {
  const t = writeTree({ 'holder.js': requiring('holder'), 'target.js': requiring('target', ['./dep']), 'dep.js': requiring('dep') })
  require(t.file('holder.js'))
  require(t.file('target.js'))
  rescan()
  const holder = require.cache[t.file('holder.js')]
  holder.children.push(require.cache[t.file('dep.js')])
  // The loader never saw this edge: the index does not know holder.js holds dep.js.
  assert.deepEqual(uncacheTree(t.file('target.js'), { dryRun: true }).removed, [t.file('target.js'), t.file('dep.js')])
  const summary = rescan()
  assert.deepEqual(Object.keys(summary).sort(), ['edges', 'modules'])
  assert.ok(summary.modules >= 3 && summary.edges >= 2, JSON.stringify(summary))
  const report = uncacheTree(t.file('target.js'))
  assert.deepEqual(report.removed, [t.file('target.js')])
  assert.deepEqual(report.kept, [{ id: t.file('dep.js'), heldBy: [t.file('holder.js')] }])
  assert.equal(require.cache[t.file('dep.js')], holder.children.at(-1), 'dep.js stays, same object')
})

test('after another library put back Module._load, the next call reads the graph anew and sees the edge made in the gap', () => {
  const Module = require('node:module')
  const t = writeTree({ 'x.js': requiring('x'), 'y.js': requiring('y', ['./x']) })
  require(t.file('x.js'))
  const epoch = state.loaderEpoch
  Module._load = state.originalLoad
  try {
    require(t.file('y.js')) // y -> x is not seen by the wrapper
  } finally {
    install() // what every public function does first
  }
  assert.equal(Module._load, state.loadWrapper, 'the wrapper is back')
  // (Noticed twice: by the require() wrapper as y was required, and when _load was re-installed.)
  assert.ok(state.loaderEpoch > epoch, 'the gap was noticed')
  const [dry, taken] = withPlanPaths(() => uncacheTree(t.file('x.js'), { dryRun: true }))
  assert.deepEqual(dry.removed, [t.file('x.js')])
  assert.deepEqual(dry.kept, [])
  assert.deepEqual(taken, { plans: 1, rounds: 1, reads: 1, scans: 0 }, 'one read of the graph, then one plan')
  assert.equal(index.readAtEpoch, state.loaderEpoch, 'read anew by the first call')
  const [report, again] = withPlanPaths(() => uncacheTree(t.file('x.js')))
  assert.deepEqual(again, { plans: 1, rounds: 1, reads: 0, scans: 0 }, 'the next call plans on what was read')
  assert.deepEqual(report.removed, [t.file('x.js')])
  assert.equal(require.cache[t.file('y.js')].children.length, 0, "y's edge to x was cut")
})

test('one hook mechanism: on(event, fn) returns its off(); an unknown event is refused', () => {
  const t = writeTree({ 'h.js': requiring('h') })
  const seen = []
  const off = on('require', (parent, request) => seen.push(request))
  require(t.file('h.js'))
  off()
  require(t.file('h.js'))
  assert.deepEqual(seen, [t.file('h.js')], 'called once, then not after off()')
  assert.throws(() => on('unload', () => {}), /unknown hook 'unload'/)
})

test('uninstall() puts the loader back in one place; the next calls re-install it and read the graph anew', () => {
  const Module = require('node:module')
  const { originalLoad, originalModuleLoad } = state
  const t = writeTree({ 'w.js': requiring('w', ['./v']), 'u.js': requiring('u', ['./v']), 'v.js': requiring('v') })
  require(t.file('w.js'))
  const epoch = state.loaderEpoch
  uninstall()
  try {
    assert.equal(Module._load, originalLoad)
    assert.equal(Module.prototype.load, originalModuleLoad)
    require(t.file('u.js')) // u -> v: no wrapper sees it
    const scanned = uncacheTree(t.file('w.js'), { dryRun: true })
    assert.equal(Module._load, state.loadWrapper, 're-installed')
    assert.notEqual(Module._load, originalLoad)
    // (Noticed twice: by the require() wrapper as y was required, and when _load was re-installed.)
  assert.ok(state.loaderEpoch > epoch, 'the gap was noticed')
    const report = uncacheTree(t.file('w.js'), { dryRun: true })
    assert.equal(index.readAtEpoch, state.loaderEpoch, 'the index was read anew')
    for (const r of [scanned, report]) {
      assert.deepEqual(r.removed, [t.file('w.js')])
      assert.deepEqual(r.kept, [{ id: t.file('v.js'), heldBy: [t.file('u.js')] }], 'the edge made in the gap is known')
    }
  } finally {
    install()
  }
})

// Regression tests from the property-based suite's differential check (index plan vs full scan).

const engine = require('../lib/graph/engine.js')
const { planInvalidation } = require('../lib/hot/invalidate.js')

/** The plan of uncacheTree(keys) from the index and from a full scan, as comparable text. */
function bothTreePlans(keys) {
  const show = ({ graph, plan }) =>
    JSON.stringify({
      removed: Array.from(plan.removed, (i) => graph.ids[i]).sort(),
      kept: Array.from(plan.kept, (i, k) => [graph.ids[i], Array.from(plan.holders.subarray(plan.holderOffsets[k], plan.holderOffsets[k + 1]), (h) => graph.ids[h]).sort()]),
      cut: Array.from(plan.cutChildrenOf, (i) => graph.ids[i]).sort(),
    })
  install()
  const options = { shared: 'keep' }
  return [show(engine.planTrees(require.cache, keys, options)), show(engine.planTrees(require.cache, keys, options, true))]
}

test('a plugin that uses a deep library keeps the library by its holder in one plan, and reads none of what the library requires', () => {
  // host -> lib -> d1 -> ... -> d300; the plugin requires lib too. The unload climbs from lib to
  // host (held: this file's module, the main one, lists it) instead of walking d1..d300.
  const files = { 'host.js': requiring('host', ['./lib']), 'lib.js': requiring('lib', ['./d1']) }
  for (let i = 1; i < 300; i++) files[`d${i}.js`] = requiring(`d${i}`, [`./d${i + 1}`])
  files['d300.js'] = requiring('d300')
  files['plugin/index.js'] = requiring('plugin', ['./a', '../lib'])
  files['plugin/a.js'] = requiring('a', ['./b'])
  files['plugin/b.js'] = requiring('b', ['./a']) // a cycle inside the plugin: it goes whole
  const t = writeTree(files)
  require(t.file('host.js'))
  rescan()
  require(t.file('plugin/index.js'))
  const [fromIndex, fromScan] = bothTreePlans([t.file('plugin/index.js')])
  assert.equal(fromIndex, fromScan)
  const [report, taken] = withPlanPaths(() => uncacheTree(t.file('plugin/index.js')))
  assert.deepEqual(taken, { plans: 1, rounds: 1, reads: 0, scans: 0 })
  assert.deepEqual([...report.removed].sort(), [t.file('plugin/a.js'), t.file('plugin/b.js'), t.file('plugin/index.js')].sort())
  assert.deepEqual(report.kept, [{ id: t.file('lib.js'), heldBy: [t.file('host.js')] }])
  assert.equal(require.cache[t.file('d300.js')].loaded, true, 'the library is untouched')
})

test('a tree that is a large part of the graph is planned in one round on the graph, like a small one', () => {
  // A root that requires 300 modules nothing else requires.
  const files = { 'root.js': requiring('root', Array.from({ length: 300 }, (_, i) => `./leaf${i}`)) }
  for (let i = 0; i < 300; i++) files[`leaf${i}.js`] = requiring(`leaf${i}`)
  const t = writeTree(files)
  rescan()
  require(t.file('root.js'))
  const [fromIndex, fromScan] = bothTreePlans([t.file('root.js')])
  assert.equal(fromIndex, fromScan)
  const [report, taken] = withPlanPaths(() => uncacheTree(t.file('root.js')))
  assert.deepEqual(taken, { plans: 1, rounds: 1, reads: 0, scans: 0 })
  assert.equal(report.removed.length, 301)
  assert.equal(report.removed[0], t.file('root.js'))
  assert.equal(Object.keys(require.cache).filter((key) => key.startsWith(t.dir)).length, 0, 'every module of the tree left the cache')
})

test('F-index-1: a cycle that leaves the removed set through a module only it reaches is removed whole', () => {
  // m1 -> m0 -> m3 -> m0: m3 holds m0, but only m0 reaches m3, so both go with m1.
  const t = writeTree({
    'm0.js': requiring('m0', ['./m3']),
    'm1.js': requiring('m1', ['./m0']),
    'm3.js': requiring('m3', ['./m0']),
  })
  rescan()
  require(t.file('m1.js'))
  const [fromIndex, fromScan] = bothTreePlans([t.file('m1.js')])
  assert.equal(fromIndex, fromScan)
  const report = uncacheTree(t.file('m1.js'))
  assert.deepEqual([...report.removed].sort(), [t.file('m0.js'), t.file('m1.js'), t.file('m3.js')].sort())
  assert.deepEqual(report.kept, [])
})

test('F-index-2: a module deleted from the cache by other code, still required by a kept one, keeps what it requires', () => {
  // m3 -> m2 -> m1 -> m0 -> m2, a requirer holds m1, and other code deletes m0 from the cache:
  // m1 stays (held), m0 stays with it (in use by m1), and m0 keeps m2.
  const t = writeTree({
    'm0.js': requiring('m0', ['./m2']),
    'm1.js': requiring('m1', ['./m0']),
    'm2.js': requiring('m2', ['./m1']),
    'm3.js': requiring('m3', ['./m2']),
  })
  const holder = writeTree({ 'holder.js': requiring('holder', [t.file('m1.js')]) })
  require(t.file('m3.js'))
  require(holder.file('holder.js'))
  rescan()
  delete require.cache[t.file('m0.js')]
  const [fromIndex, fromScan] = bothTreePlans([t.file('m3.js')])
  assert.equal(fromIndex, fromScan)
  // m0 is no live holder (no cache key holds it): the first plan names it as m2's holder, the
  // check of that reference finds it deleted from the cache, and the plan is made again.
  const [report, taken] = withPlanPaths(() => uncacheTree(t.file('m3.js')))
  assert.deepEqual(taken, { plans: 1, rounds: 2, reads: 0, scans: 0 })
  assert.deepEqual(report.removed, [t.file('m3.js')])
  assert.deepEqual(report.kept, [{ id: t.file('m2.js'), heldBy: [] }], 'kept through m0, which no cache holds')
})

test('F-index-3: invalidate walks up through a module that also names the changed one as its parent', () => {
  // m0 -> m3 -> m1 -> m0 (m3 loaded m1, so m1's parent is m3), and another requirer holds m1.
  const t = writeTree({
    'm0.js': requiring('m0', ['./m3']),
    'm1.js': requiring('m1', ['./m0']),
    'm3.js': requiring('m3', ['./m1']),
  })
  const holder = writeTree({ 'holder.js': requiring('holder', [t.file('m1.js')]) })
  require(t.file('m0.js'))
  require(holder.file('holder.js'))
  install()
  const keys = [t.file('m3.js')]
  const show = ({ graph, plan }) => JSON.stringify([Array.from(plan.removed, (i) => graph.ids[i]).sort(), Array.from(plan.cutChildrenOf, (i) => graph.ids[i]).sort()])
  assert.equal(show(planInvalidation(require.cache, keys, {})), show(planInvalidation(require.cache, keys, {}, { fullScan: true })))
  const report = invalidate(t.file('m3.js'))
  assert.ok(report.removed.includes(holder.file('holder.js')), 'the requirer of m1 is an importer too')
  assert.deepEqual(holder.file('holder.js') in require.cache, false)
})

test('F-index-4: invalidate still cuts an unloaded module whose frozen children could not be cut', () => {
  // A module compiled by hand (loaded === false) requires leaf; its children array is frozen, so
  // unloading it cannot cut them, and the index forgets it. It still lists leaf: invalidating
  // leaf must plan the cut of its children, as a full scan does.
  const t = writeTree({ 'leaf.js': requiring('leaf') })
  const handFile = t.file('hand.js')
  const hand = compileByHand(handFile, "module.exports = require('./leaf.js')\n")
  const leaf = require(t.file('leaf.js'))
  assert.equal(hand.exports, leaf)
  Object.freeze(hand.children)
  uncacheTree(handFile)
  assert.equal(handFile in require.cache, false)
  assert.deepEqual(hand.children, [require.cache[t.file('leaf.js')]], 'the frozen children were not cut')
  const keys = [t.file('leaf.js')]
  const show = ({ graph, plan }) => JSON.stringify(Array.from(plan.cutChildrenOf, (i) => graph.ids[i] ?? graph.nodes[i].id).sort())
  const fromIndex = show(planInvalidation(require.cache, keys, {}))
  assert.equal(fromIndex, show(planInvalidation(require.cache, keys, {}, { fullScan: true })))
  assert.ok(fromIndex.includes(JSON.stringify(handFile)), 'the hand-compiled module is among the cuts')
})

test('F-index-5: a requirer compiled outside the cache and put into it later is a cached module, not an anchor', () => {
  // m0 -> m1 -> hand -> m1. hand was compiled by hand (a requirer outside the cache, loaded ===
  // false), then cached; only m0 reaches the cycle, so it goes with m0.
  const t = writeTree({ 'm0.js': requiring('m0', ['./m1']), 'm1.js': requiring('m1') })
  require(t.file('m0.js'))
  const handFile = t.file('hand.js')
  const hand = compileByHand(handFile, "module.exports = require('./m1.js')\n")
  require.cache[t.file('m1.js')].children.push(hand)
  rescan()
  const [fromIndex, fromScan] = bothTreePlans([t.file('m0.js')])
  assert.equal(fromIndex, fromScan)
  const report = uncacheTree(t.file('m0.js'))
  assert.deepEqual([...report.removed].sort(), [t.file('hand.js'), t.file('m0.js'), t.file('m1.js')].sort())
  assert.deepEqual(report.kept, [])
})

test('F-index-6: reload plans the tree on its own graph: a module the tree reaches through a kept one is not removed', () => {
  // m3 -> m0 <-> m1; a createRequire proxy holds m1. Reloading m3 reloads m3 only: m0 stays
  // (m1 requires it) and so does m1. Read anew among the joined graphs' nodes, the edge m0 -> m1
  // had put m1 inside the tree without its holder.
  const Module = require('node:module')
  const t = writeTree({
    'm0.js': requiring('m0', ['./m1']),
    'm1.js': requiring('m1', ['./m0']),
    'm3.js': requiring('m3', ['./m0']),
  })
  const proxy = Module.createRequire(t.file('proxy.js'))
  proxy(t.file('m1.js'))
  require(t.file('m3.js'))
  install()
  const options = { tree: true, shared: 'keep' }
  const show = (p) => JSON.stringify([Array.from(p.unloadPlan.removed, (i) => p.graph.ids[i]).sort(), Array.from(p.unloadPlan.kept, (i) => p.graph.ids[i]).sort()])
  const fromIndex = show(planInvalidation(require.cache, [t.file('m3.js')], options))
  assert.equal(fromIndex, show(planInvalidation(require.cache, [t.file('m3.js')], options, { fullScan: true })))
  const m0 = require.cache[t.file('m0.js')]
  const { report } = reload(t.file('m3.js'))
  assert.deepEqual(report.removed, [t.file('m3.js')])
  assert.deepEqual(report.kept, [{ id: t.file('m0.js'), heldBy: [t.file('m1.js')] }])
  assert.equal(require.cache[t.file('m0.js')], m0, 'm0 kept its identity')
})

test('F-index-7: reload cuts a removed module out of an old instance that other code deleted from the cache', () => {
  // A proxy holds m1 (old instance, then deleted from the cache by other code); a fresh m1 is
  // loaded. Both list m2. Reloading m1's tree removes m2 (the old instance holds nothing), and
  // the old instance, still reached from the proxy, loses m2 from its children, as after a
  // flatten of the whole cache.
  const Module = require('node:module')
  const t = writeTree({ 'm1.js': requiring('m1', ['./m2']), 'm2.js': requiring('m2') })
  const proxy = Module.createRequire(t.file('proxy.js'))
  proxy(t.file('m1.js'))
  const old = require.cache[t.file('m1.js')]
  delete require.cache[t.file('m1.js')]
  require(t.file('m1.js'))
  const m2 = require.cache[t.file('m2.js')]
  assert.ok(old.children.includes(m2))
  install()
  const options = { tree: true, shared: 'keep' }
  const show = (p) => JSON.stringify(Array.from(p.unloadPlan.cutChildrenOf, (i) => p.graph.nodes[i] === old ? 'old m1' : p.graph.ids[i]).sort())
  const fromIndex = show(planInvalidation(require.cache, [t.file('m1.js')], options))
  assert.equal(fromIndex, show(planInvalidation(require.cache, [t.file('m1.js')], options, { fullScan: true })))
  assert.ok(fromIndex.includes('old m1'))
  const { report } = reload(t.file('m1.js'))
  assert.deepEqual([...report.removed].sort(), [t.file('m1.js'), t.file('m2.js')].sort())
  assert.equal(old.children.includes(m2), false, 'cut out of the old instance')
})

test('F-index-8: after a failed reload, a module compiled by hand and cached later keeps its cache key in the index', () => {
  // hand.js requires m0 while being compiled outside the cache, then goes into it. A reload of m0
  // that throws (hand kept by the option) rolls back and re-reads hand into the index: under its
  // cache key, so that unloading hand then deletes that key.
  const fs = require('node:fs')
  const t = writeTree({ 'm0.js': requiring('m0') })
  rescan()
  const handFile = t.file('hand.js')
  const hand = compileByHand(handFile, "module.exports = require('./m0.js')\n")
  fs.writeFileSync(t.file('m0.js'), "throw new Error('m0 v2 is broken')\n")
  assert.throws(() => reload(t.file('m0.js'), { keep: /hand\.js$/ }), { code: 'ERR_UNCACHE_RELOAD_FAILED' })
  assert.equal(require.cache[handFile], hand, 'rolled back')
  const report = uncacheTree(handFile)
  assert.deepEqual(report.removed, [handFile, t.file('m0.js')], 'hand, and m0 which only hand requires')
  assert.equal(handFile in require.cache, false)
})

test('invalidate finds importers through the index: a requirer loaded after the first read is found', () => {
  const t = writeTree({ 'leaf.js': requiring('leaf'), 'mid.js': requiring('mid', ['./leaf']) })
  require(t.file('mid.js'))
  rescan()
  const late = writeTree({ 'late.js': requiring('late', [t.file('mid.js')]) })
  require(late.file('late.js'))
  const report = invalidate(t.file('leaf.js'))
  assert.deepEqual([...report.removed].sort(), [t.file('leaf.js'), t.file('mid.js'), late.file('late.js')].sort())
})

test('F-index-9: a removed module that a frozen children array still lists stays in the graph, so the next plan sees that edge as a full scan does', () => {
  // m1 requires m0, and m1's children are frozen: unloading m0 cannot cut that edge (pinned).
  const t = writeTree({ 'm0.js': requiring('m0'), 'm1.js': requiring('m1', ['./m0']) })
  require(t.file('m1.js'))
  rescan()
  const old = require.cache[t.file('m0.js')]
  Object.freeze(require.cache[t.file('m1.js')].children)
  const first = uncacheTree(t.file('m0.js'))
  assert.deepEqual(first.pinned, [{ id: t.file('m0.js'), by: 'unwritable' }])
  // The old m0 is out of the cache, still listed by m1: unloading m1 takes it too.
  const [fromIndex, fromScan] = bothTreePlans([t.file('m1.js')])
  assert.equal(fromIndex, fromScan)
  assert.match(fromIndex, /m0\.js/, 'the old m0 is part of the plan')
  assert.equal(require.cache[t.file('m1.js')].children[0], old)
})

test('F-index-10: of the references to a module that was unloaded, only those no cut could change stay in the graph', () => {
  // m0 (frozen children) and holder.js both require m1; unloading m1 cuts holder's edge, not m0's.
  const t = writeTree({ 'm0.js': requiring('m0', ['./m1']), 'm1.js': requiring('m1'), 'holder.js': requiring('holder', ['./m1']) })
  require(t.file('m0.js'))
  require(t.file('holder.js'))
  rescan()
  Object.freeze(require.cache[t.file('m0.js')].children)
  uncacheTree(t.file('m1.js'))
  assert.equal(require.cache[t.file('holder.js')].children.length, 0, "holder's edge was cut")
  // The next plan of m0 cuts nothing in holder.js, as a full scan finds.
  const [fromIndex, fromScan] = bothTreePlans([t.file('m0.js')])
  assert.equal(fromIndex, fromScan)
  assert.doesNotMatch(fromIndex, /holder\.js/)
})

test('F-index-11: with shared: "remove", a module deleted from the cache that a kept boundary holds is relied on by its reference only (the plan settles)', () => {
  // m0 -> m3 <-> m1 -> m2; other code deletes m1 from the cache; m2 is kept by the option.
  const t = writeTree({
    'm0.js': requiring('m0', ['./m3']),
    'm1.js': requiring('m1', ['./m3', './m2']),
    'm2.js': requiring('m2', ['./m1']),
    'm3.js': requiring('m3', ['./m1']),
  })
  require(t.file('m0.js'))
  rescan()
  delete require.cache[t.file('m1.js')]
  const options = { shared: 'remove', keep: (id) => id.endsWith('m2.js') }
  const show = ({ graph, plan }) => JSON.stringify([Array.from(plan.removed, (i) => graph.ids[i]).sort(), Array.from(plan.kept, (i) => graph.ids[i])])
  const fromIndex = show(engine.planTrees(require.cache, [t.file('m0.js')], options))
  assert.equal(fromIndex, show(engine.planTrees(require.cache, [t.file('m0.js')], options, true)))
  const report = uncacheTree(t.file('m0.js'), { ...options, dryRun: true })
  assert.deepEqual(report.removed, [t.file('m0.js')])
  assert.deepEqual(report.kept.map(({ id }) => id), [t.file('m3.js')])
})

test('loaded into a small cache the package records every load, so the first unload reads nothing; loaded late into a large one, the first unload reads the graph', () => {
  const { spawnSync } = require('node:child_process')
  const path = require('node:path')
  const { EAGER_READ_LIMIT } = require('../lib/graph/rescan.js')
  // A plugin with one dependency, and enough filler modules to pass the limit.
  const files = { 'plugin.js': requiring('plugin', ['./dep']), 'dep.js': requiring('dep') }
  const filler = []
  for (let k = 0; k <= EAGER_READ_LIMIT; k++) filler.push(`require('./f${k}.js')`), (files[`f${k}.js`] = 'module.exports = 1\n')
  files['filler.js'] = filler.join('\n') + '\n'
  const t = writeTree(files)
  const ROOT = path.join(__dirname, '..')
  const run = (packageFirst) => {
    const code = `
      const root = ${JSON.stringify(ROOT)}
      ${packageFirst ? 'const api = require(root)' : ''}
      require(${JSON.stringify(t.file('filler.js'))})
      require(${JSON.stringify(t.file('plugin.js'))})
      ${packageFirst ? '' : 'const api = require(root)'}
      const { planPaths } = require(root + '/lib/graph/tree-plan.js')
      const report = api.uncacheTree(${JSON.stringify(t.file('plugin.js'))})
      console.log(JSON.stringify({ cached: Object.keys(require.cache).length, reads: planPaths.reads, removed: report.removed }))`
    const out = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8' })
    assert.equal(out.status, 0, out.stderr)
    return JSON.parse(out.stdout.trim().split('\n').at(-1))
  }
  const first = run(true)
  const late = run(false)
  assert.ok(late.cached > EAGER_READ_LIMIT, `the late run's cache holds ${late.cached} modules`)
  assert.deepEqual(first.removed, [t.file('plugin.js'), t.file('dep.js')])
  assert.deepEqual(late.removed, first.removed)
  assert.equal(first.reads, 0, 'loaded first: the graph was read when the package loaded, and recorded since')
  assert.equal(late.reads, 1, 'loaded late: the first unload read the graph')
})
