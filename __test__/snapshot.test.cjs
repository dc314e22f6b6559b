'use strict'
// snapshot(): restore() unloads what was loaded since, keeps what was loaded before with its
// identity, cuts the edges from old modules to new ones, keeps .node addons, works with
// verifyCollected and dispose handlers, and costs what was loaded since (it reads neither the
// whole require.cache graph nor Module._pathCache). Against the API contract in
// README.md/index.d.ts, `snapshot`.
const test = require('node:test')
const assert = require('node:assert/strict')
const Module = require('node:module')
const path = require('node:path')
const { snapshot, uncacheTree, verifyCollected } = require('..')
const flatten = require('../lib/graph/flatten.js')
const { writeTree, requiring } = require('./helpers/fixtures.cjs')
const { state } = require('../lib/graph/state.js')
const { on } = require('../lib/graph/hooks.js')

const NODE_MAJOR = Number(process.versions.node.split('.')[0])

/**
 * host.js is loaded before every snapshot and requires things on demand (a test file, a
 * framework); single.js is a singleton loaded before; feature/ is what tests load.
 */
function tree(extra = {}) {
  return writeTree({
    'host.js': "exports.load = (id) => require(id)\nexports.old = require('./old')\nexports.single = require('./single')\n",
    'old.js': requiring('old'),
    'single.js': 'module.exports = { count: 0 }\n',
    'feature/index.js': requiring('feature', ['./a', './b']),
    'feature/a.js': requiring('a', ['./c', '../single']),
    'feature/b.js': requiring('b', ['./c']),
    'feature/c.js': 'module.exports = { buffer: new ArrayBuffer(1024) }\n',
    ...extra,
  })
}

const reportKeys = ['removed', 'kept', 'skipped', 'pinned', 'pathCacheEntries', 'errors']

test('restore() unloads exactly what was loaded since, importers first, and keeps the rest', () => {
  const t = tree()
  const host = require(t.file('host.js'))
  const single = require(t.file('single.js'))
  const snap = snapshot()
  const feature = host.load('./feature')

  assert.deepEqual(snap.loadedSince(), ['index', 'a', 'c', 'b'].map((f) => t.file(`feature/${f}.js`)))
  const report = snap.restore()
  assert.deepEqual(Object.keys(report), reportKeys)
  assert.equal(report.removed[0], t.file('feature/index.js'))
  assert.equal(report.removed.at(-1), t.file('feature/c.js'), 'c comes after both of its importers')
  assert.deepEqual(report.removed.slice().sort(), ['a', 'b', 'c', 'index'].map((f) => t.file(`feature/${f}.js`)))
  assert.deepEqual([report.kept, report.skipped, report.pinned, report.errors], [[], [], [], []])
  for (const id of report.removed) assert.equal(require.cache[id], undefined)
  assert.deepEqual(snap.loadedSince(), [])

  assert.equal(require(t.file('single.js')), single, 'the singleton loaded before keeps its identity')
  assert.equal(require(t.file('host.js')), host)
  const again = host.load('./feature')
  assert.notEqual(again, feature, 'the feature loads anew')
  assert.equal(again.deps['./a'].deps['../single'], single, 'and finds the same singleton')
})

test('a module loaded before that required new modules keeps its identity and loses those edges', () => {
  const t = tree()
  const hostModule = (require(t.file('host.js')), require.cache[t.file('host.js')])
  const oldChildren = hostModule.children.slice() // old.js and single.js
  const snap = snapshot()
  hostModule.exports.load('./feature')
  hostModule.exports.load('./old') // a cache hit: no new edge, nothing to cut
  const featureModule = require.cache[t.file('feature/index.js')]
  assert.ok(hostModule.children.includes(featureModule))

  const report = snap.restore()
  assert.ok(report.removed.includes(t.file('feature/index.js')))
  assert.equal(require.cache[t.file('host.js')], hostModule)
  assert.deepEqual(hostModule.children, oldChildren, 'old edges stay, new ones are cut')
  assert.deepEqual(featureModule.children, [], 'a removed module lets go of its children')
  assert.equal(featureModule.parent, undefined, 'and of its parent')
})

test('the report works with verifyCollected: nothing loaded since survives the restore', async () => {
  const t = tree()
  const host = require(t.file('host.js'))
  const snap = snapshot()
  host.load('./feature')
  require(t.file('feature/b.js')) // this test file too requires a new module
  const report = snap.restore()
  const { collected, alive } = await verifyCollected(report)
  assert.deepEqual(alive, [])
  assert.deepEqual(collected.slice().sort(), report.removed.slice().sort())
  assert.equal(module.children.includes(require.cache[t.file('feature/b.js')]), false)
})

test('restore() only unloads: modules unloaded since stay unloaded, replaced ones go', () => {
  const t = tree()
  require(t.file('host.js'))
  const before = require(t.file('feature/c.js'))
  require(t.file('single.js'))
  const snap = snapshot()
  delete require.cache[t.file('single.js')] // someone else unloads a module loaded before
  delete require.cache[t.file('feature/c.js')]
  const replaced = require(t.file('feature/c.js')) // and loads a new one under the same key
  assert.notEqual(replaced, before)

  const report = snap.restore()
  assert.deepEqual(report.removed, [t.file('feature/c.js')], 'the new object under an old key is new')
  assert.equal(require.cache[t.file('single.js')], undefined, 'nothing is brought back')
  assert.equal(require.cache[t.file('feature/c.js')], undefined)
})

test('a snapshot can be restored again and again (one snapshot, a restore after each test)', () => {
  const t = tree()
  const host = require(t.file('host.js'))
  const snap = snapshot()
  const seen = new Set()
  for (let i = 0; i < 3; i++) {
    const feature = host.load('./feature')
    assert.equal(seen.has(feature), false)
    seen.add(feature)
    const report = snap.restore()
    assert.equal(report.removed.length, 4)
    assert.deepEqual(snap.loadedSince(), [])
  }
})

test('snapshots restored out of order still restore what each one loaded since', () => {
  const t = tree()
  const host = require(t.file('host.js'))
  const outer = snapshot()
  host.load('./feature/b') // b and c
  const inner = snapshot()
  host.load('./feature') // index and a: loaded since both
  assert.equal(outer.restore().removed.length, 4, 'the older snapshot takes everything')
  assert.deepEqual(inner.loadedSince(), [])
  // The older restore cut host.js's children in front of the mark the newer snapshot took
  // (after b.js); c.js now lands before that mark, and the newer restore must still cut it.
  host.load('./feature/c')
  const report = inner.restore()
  assert.deepEqual(report.removed, [t.file('feature/c.js')])
  assert.equal(require.cache[t.file('host.js')].children.some((m) => m.filename === t.file('feature/c.js')), false)
})

test('an unload made inside the snapshot is collectable before the restore (weak tracking)', async () => {
  const t = tree()
  require(t.file('host.js'))
  const snap = snapshot()
  require(t.file('feature/index.js'))
  const inner = uncacheTree(t.file('feature/index.js'))
  assert.deepEqual((await verifyCollected(inner)).alive, [])
  require(t.file('feature/index.js'))
  // The unload above cut children arrays while we were recording: the restore reads whole
  // arrays from then on and still cuts every edge.
  const report = snap.restore()
  assert.equal(report.removed.length, 4)
  assert.equal(module.children.some((m) => m.filename?.startsWith(path.join(t.dir, 'feature'))), false)
})

test('a .node addon loaded since stays loaded (skipped, native-addon); its JS loader goes', () => {
  const snap = snapshot()
  const crc32 = require('@node-rs/crc32')
  const value = crc32.crc32('uncache-tree')
  const addonId = snap.loadedSince().find((id) => id.endsWith('.node'))
  assert.ok(addonId, 'the addon was loaded since the snapshot')
  const addonModule = require.cache[addonId]
  const loaderId = require.resolve('@node-rs/crc32')
  const loaderModule = require.cache[loaderId]

  const report = snap.restore()
  assert.deepEqual(report.skipped, [{ id: addonId, reason: 'native-addon' }])
  assert.ok(report.removed.includes(loaderId))
  assert.equal(report.removed.includes(addonId), false)
  assert.equal(require.cache[addonId], addonModule, 'the addon keeps its cache entry')
  assert.equal(addonModule.parent, undefined, 'and no longer points at its unloaded loader')
  if (NODE_MAJOR >= 22) {
    assert.ok(report.pinned.some((p) => p.by === 'last-parent'), 'Node >= 22 keeps one parent shell (reported)')
  }
  assert.deepEqual(snap.loadedSince(), [addonId], 'it still counts as loaded since the snapshot')

  const again = require('@node-rs/crc32') // the loader exports the addon's own exports object
  assert.notEqual(require.cache[loaderId], undefined)
  assert.notEqual(require.cache[loaderId], loaderModule, 'the JS loader loads anew')
  assert.equal(again, crc32, 'and finds the same addon')
  assert.equal(again.crc32('uncache-tree'), value, 'which still works')
  assert.equal(require.cache[addonId], addonModule, 'without loading the addon twice')
  assert.deepEqual(snap.restore().skipped, [{ id: addonId, reason: 'native-addon' }])
})

test('keep: modules kept by option stay, with what they loaded since; the rest goes', () => {
  const t = tree()
  require(t.file('host.js'))
  const snap = snapshot({ keep: /[\\/]feature[\\/]a\.js$/ })
  const feature = require(t.file('feature/index.js'))
  const report = snap.restore()
  assert.deepEqual(report.skipped, [{ id: t.file('feature/a.js'), reason: 'kept-by-option' }])
  assert.deepEqual(report.kept, [{ id: t.file('feature/c.js'), heldBy: [t.file('feature/a.js')] }])
  assert.deepEqual(report.removed.slice().sort(), [t.file('feature/b.js'), t.file('feature/index.js')])
  assert.equal(require(t.file('feature/a.js')), feature.deps['./a'])
  assert.throws(() => snapshot({ keep: 'feature' }), { code: 'ERR_INVALID_ARG_TYPE' })
})

test('dispose handlers (beforeCut) run once, with the removed modules in report order', () => {
  const t = tree()
  const host = require(t.file('host.js'))
  const calls = []
  const handler = (modules, report) => calls.push({ ids: modules.map((m) => m.id), removed: report.removed.slice() })
  const off = on('beforeCut', handler)
  try {
    const snap = snapshot()
    host.load('./feature')
    const featureModule = require.cache[t.file('feature/index.js')]
    const report = snap.restore()
    assert.equal(calls.length, 1)
    assert.deepEqual(calls[0].ids, report.removed)
    assert.deepEqual(calls[0].removed, report.removed)
    assert.equal(featureModule.exports.name, 'feature', 'handlers ran before the cuts')
  } finally {
    off()
  }
})

test('a createRequire() requirer made before the snapshot loses its edges to new modules', () => {
  const t = tree()
  const req = Module.createRequire(t.file('host.js'))
  req('./old')
  req('./single')
  const snap = snapshot()
  req('./feature')
  const report = snap.restore()
  assert.equal(report.removed.length, 4)
  const proxy = require.cache[t.file('old.js')].parent
  assert.ok(proxy && !require.cache[proxy.filename]?.children?.includes(proxy), 'the proxy is the outside requirer')
  assert.deepEqual(
    proxy.children.map((m) => m.filename),
    [t.file('old.js'), t.file('single.js')],
  )
})

test('Module._pathCache: the entries naming removed files go, found without reading the whole cache', () => {
  const t = tree({ 'feature/lazy.js': "exports.get = () => require('./c')\n" })
  const host = require(t.file('host.js'))
  require(t.file('feature/c.js')) // c is loaded before: its entries stay
  const snap = snapshot()
  host.load('./feature')
  host.load(t.file('feature/index.js')) // absolute request: its own key
  require(t.file('feature/lazy.js')).get()

  const pathCache = Module._pathCache
  const removedFiles = new Set(snap.loadedSince())
  const expected = Object.keys(pathCache).filter((k) => removedFiles.has(pathCache[k])).sort()
  assert.ok(expected.length >= 4, `entries were made: ${expected.length}`)

  // Counted by wrapping the enumeration functions, not with a Proxy: the engine never looks
  // inside Proxies (their traps are user code), so a Proxied _pathCache would not be read at all.
  let enumerations = 0
  const countEnumerations = () => {
    const saved = { keys: Object.keys, entries: Object.entries, values: Object.values, ownKeys: Reflect.ownKeys }
    for (const [holder, name] of [[Object, 'keys'], [Object, 'entries'], [Object, 'values'], [Reflect, 'ownKeys']]) {
      const original = holder[name]
      holder[name] = (target) => {
        if (target === pathCache) enumerations++
        return original(target)
      }
    }
    return () => {
      Object.keys = saved.keys
      Object.entries = saved.entries
      Object.values = saved.values
      Reflect.ownKeys = saved.ownKeys
    }
  }
  const flattenGraph = flatten.flattenGraph
  let flattened = 0
  let uncount = countEnumerations()
  flatten.flattenGraph = (...args) => {
    flattened++
    return flattenGraph(...args)
  }
  let report
  try {
    report = snap.restore()
  } finally {
    uncount()
    flatten.flattenGraph = flattenGraph
  }
  assert.equal(enumerations, 0, 'Module._pathCache was not enumerated')
  assert.equal(flattened, 0, 'the whole cache graph was not flattened')
  assert.equal(report.pathCacheEntries, expected.length)
  for (const key of expected) assert.equal(pathCache[key], undefined, JSON.stringify(key))
  const remaining = Object.keys(pathCache).filter((k) => removedFiles.has(pathCache[k]))
  assert.deepEqual(remaining, [], 'no entry names a removed file')
  assert.ok(Object.values(pathCache).includes(t.file('feature/c.js')), 'entries of a file loaded before stay')

  // uncacheTree finds the entries through the same index; replacing the _pathCache object
  // forces one rebuild of the index (a full read, which the same counter sees).
  require(t.file('feature/index.js'))
  uncount = countEnumerations()
  let unloaded
  try {
    unloaded = uncacheTree(t.file('feature/index.js'))
  } finally {
    uncount()
  }
  assert.equal(enumerations, 0, 'uncacheTree did not enumerate Module._pathCache either')
  const gone = new Set(unloaded.removed)
  assert.ok(unloaded.pathCacheEntries > 0)
  assert.deepEqual(Object.keys(pathCache).filter((k) => gone.has(pathCache[k])), [])

  // Another object put in place of Module._pathCache is indexed anew at the next call.
  Module._pathCache = { ...pathCache }
  try {
    require(t.file('feature/index.js'))
    const again = uncacheTree(t.file('feature/index.js'))
    const current = Module._pathCache
    assert.ok(again.pathCacheEntries > 0)
    assert.deepEqual(Object.keys(current).filter((k) => again.removed.includes(current[k])), [])
  } finally {
    Module._pathCache = pathCache
  }
})

test('a long children array of a module loaded before is read only past its mark', () => {
  const t = tree()
  const hostModule = (require(t.file('host.js')), require.cache[t.file('host.js')])
  const filler = require.cache[t.file('old.js')]
  // The 5,000 old elements are getters that count their reads (not a Proxy: the engine never
  // looks inside Proxies, whose traps are user code).
  let reads = 0
  const real = hostModule.children
  for (let i = 0; i < 5000; i++) {
    Object.defineProperty(real, real.length, {
      get: () => (reads++, filler),
      enumerable: true,
      configurable: true,
    })
  }
  try {
    const snap = snapshot()
    hostModule.exports.load('./feature')
    reads = 0
    const report = snap.restore()
    assert.equal(report.removed.length, 4)
    assert.ok(reads <= 4, `read ${reads} elements of 5003`)
    assert.equal(real.length, 5002)
    assert.equal(real.includes(require.cache[t.file('feature/index.js')]), false)
  } finally {
    real.length = 2
  }
})

test('CommonJS files loaded by import() since are removed and reported pinned by the ESM loader', async () => {
  const t = writeTree({ 'esm-loaded.cjs': "module.exports = { dep: require('./dep.cjs') }\n", 'dep.cjs': 'module.exports = {}\n' })
  const snap = snapshot()
  await import(t.file('esm-loaded.cjs'))
  assert.deepEqual(snap.loadedSince(), [t.file('esm-loaded.cjs'), t.file('dep.cjs')])
  const report = snap.restore()
  assert.deepEqual(report.removed, [t.file('esm-loaded.cjs'), t.file('dep.cjs')])
  // Node 24+ also loads the CommonJS dependencies of an imported CommonJS file through the ESM
  // loader; earlier versions through require().
  assert.deepEqual(report.pinned[0], { id: t.file('esm-loaded.cjs'), by: 'esm-loader' })
  for (const p of report.pinned) assert.ok(p.by === 'esm-loader' && report.removed.includes(p.id))
  assert.equal(require.cache[t.file('esm-loaded.cjs')], undefined)
})

test('an abandoned snapshot stops recording once it is garbage collected', async () => {
  const { settleGc } = require('../lib/proof/gc.js')
  // Earlier tests dropped their snapshots too; collect those first.
  await settleGc(4)
  const observersBefore = state.requireObservers.size
  ;(() => {
    snapshot()
  })()
  assert.equal(state.requireObservers.size, observersBefore + 1)
  for (let i = 0; i < 20 && state.requireObservers.size > observersBefore; i++) await settleGc(2)
  assert.equal(state.requireObservers.size, observersBefore)
  // A snapshot that is still referenced keeps recording.
  const kept = snapshot()
  await settleGc(4)
  assert.equal(state.requireObservers.size, observersBefore + 1)
  assert.deepEqual(kept.loadedSince(), [])
})

test('I16-removed-once: a restore that unloads a copy other code dropped and the module loaded under its key since lists the key once', async () => {
  const { hot } = require('..')
  const t = writeTree({ 'plugin.js': "exports.copy = Symbol('copy')\n" })
  const file = t.file('plugin.js')
  const disposed = []
  const snap = snapshot()
  require(file)
  const dropped = require.cache[file]
  hot(dropped).dispose(() => disposed.push('dropped'))
  delete require.cache[file] // other code drops it (decache, proxyquire), then it loads anew
  require(file)
  const fresh = require.cache[file]
  hot(fresh).dispose(() => disposed.push('fresh'))
  assert.notEqual(fresh, dropped)

  const report = snap.restore()
  assert.deepEqual(report.removed, [file], 'one key, listed once')
  assert.deepEqual(disposed.sort(), ['dropped', 'fresh'], 'both modules were unloaded')
  assert.equal(require.cache[file], undefined)
  // verifyCollected still tracks both objects under that key: the dropped copy, held here, is alive.
  const result = await verifyCollected(report, { timeoutMs: 200 })
  assert.deepEqual(result, { collected: [], alive: [file] })
  assert.equal(dropped.exports.copy.description, 'copy')
})
