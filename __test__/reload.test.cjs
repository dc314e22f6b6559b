'use strict'
// reload(): invalidate, then require again; when the new code throws, everything is put back
// exactly (cache keys and order, every children array element by element, parents, path-cache
// entries) and ERR_UNCACHE_RELOAD_FAILED is thrown with the original error as `cause`.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const Module = require('node:module')
const { reload, hot, UncacheError } = require('..')
const { writeTree } = require('./helpers/fixtures.cjs')

const PKG = JSON.stringify(require.resolve('..'))

/** Everything a rollback must put back, by identity. */
function captureState() {
  const keys = Object.keys(require.cache)
  const values = keys.map((key) => require.cache[key])
  const modules = values.filter((m) => m && Array.isArray(m.children))
  return {
    keys,
    values,
    children: new Map(modules.map((m) => [m, m.children.slice()])),
    parents: new Map(modules.map((m) => [m, m.parent])),
    pathCache: { ...Module._pathCache },
  }
}

function assertStateIs(before) {
  const keys = Object.keys(require.cache)
  assert.deepEqual(keys, before.keys, 'require.cache keys, in order')
  keys.forEach((key, i) => assert.equal(require.cache[key], before.values[i], `require.cache[${key}]`))
  for (const [m, children] of before.children) {
    assert.equal(m.children.length, children.length, `${m.filename}: children length`)
    children.forEach((child, i) => assert.equal(m.children[i], child, `${m.filename}: children[${i}]`))
  }
  for (const [m, parent] of before.parents) assert.equal(m.parent, parent, `${m.filename}: parent`)
  for (const [key, value] of Object.entries(before.pathCache)) {
    assert.equal(Module._pathCache[key], value, `_pathCache[${JSON.stringify(key)}]`)
  }
}

/** app -> routes/a -> (../shared, ./helper); app -> shared. routes/a is what we edit. */
function appTree() {
  return writeTree({
    'app.js': "exports.a = require('./routes/a')\nexports.shared = require('./shared')\n",
    'shared.js': 'module.exports = { hits: 0 }\n',
    'routes/helper.js': 'module.exports = { help: true }\n',
    'routes/a.js': `
      const { hot } = require(${PKG})
      const shared = require('../shared')
      require('./helper')
      globalThis.aDisposedBeforeLoad = globalThis.aDisposed === true
      hot(module).dispose((data) => { globalThis.aDisposed = true; data.version = 1 })
      module.exports = { version: 1, data: hot(module).data, shared }
    `,
    'routes/fresh.js': `
      const { hot } = require(${PKG})
      const timer = setInterval(() => {}, 1000)
      hot(module).dispose(() => { clearInterval(timer); globalThis.freshDisposed = true })
      module.exports = {}
    `,
  })
}

const BROKEN_A = `
  const { hot } = require(${PKG})
  require('./fresh')
  require('../shared')
  hot(module).dispose(() => { globalThis.brokenDisposed = true })
  throw new Error('broken a')
`

test('new code that throws: every module object is put back exactly, ERR_UNCACHE_RELOAD_FAILED is thrown', () => {
  const t = appTree()
  const app = require(t.file('app.js'))
  const oldA = app.a
  const before = captureState()
  const timersBefore = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length
  fs.writeFileSync(t.file('routes/a.js'), BROKEN_A)

  let error
  assert.throws(
    () => reload(t.file('routes/a.js')),
    (e) => {
      error = e
      return true
    },
  )
  assert.ok(error instanceof UncacheError)
  assert.equal(error.code, 'ERR_UNCACHE_RELOAD_FAILED')
  assert.equal(error.name, 'UncacheError')
  assert.equal(error.cause.message, 'broken a')
  assert.match(error.message, /routes[\\/]a\.js/)
  assert.match(error.message, /previous version was put back/)
  // The target's tree goes too (helper.js only routes/a requires); shared.js, which app.js
  // also requires, is kept.
  assert.deepEqual(error.report.removed, [t.file('app.js'), t.file('routes/a.js'), t.file('routes/helper.js')])
  assert.match(error.message, new RegExp(`threw \\(Error: broken a\\) at ${t.file('routes/a.js')}:\\d+`))
  assert.ok(error.report.pathCacheEntries > 0, 'path-cache entries were dropped, and must come back')

  assertStateIs(before)
  assert.equal(require(t.file('app.js')), app, 'the old version is served')
  assert.equal(require(t.file('routes/a.js')), oldA)
  assert.equal(require.cache[t.file('routes/fresh.js')], undefined, 'nothing half-loaded stays')
  assert.equal(globalThis.freshDisposed, true, 'a module the failed code loaded was disposed')
  assert.equal(globalThis.brokenDisposed, true, 'the instance that threw had its handlers run')
  assert.equal(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length, timersBefore)
})

test('a reload that succeeds after a failed one loads the fixed code; nothing is disposed twice', () => {
  const t = appTree()
  require(t.file('app.js'))
  globalThis.aDisposed = false
  globalThis.disposeCount = 0
  fs.writeFileSync(t.file('routes/a.js'), BROKEN_A)
  assert.throws(() => reload(t.file('routes/a.js')), { code: 'ERR_UNCACHE_RELOAD_FAILED' })
  assert.equal(globalThis.aDisposed, true, 'the old version was disposed before the new code ran')

  fs.writeFileSync(
    t.file('routes/a.js'),
    `
      const { hot } = require(${PKG})
      globalThis.aDisposedBeforeLoad = globalThis.aDisposed === true
      module.exports = { version: 2, data: hot(module).data }
    `,
  )
  globalThis.aDisposed = false
  const { exports, report } = reload(t.file('routes/a.js'))
  assert.equal(exports.version, 2)
  assert.deepEqual(exports.data, { version: 1 }, 'the data the old version handed over')
  assert.equal(globalThis.aDisposed, false, 'the restored (already disposed) instance was not disposed again')
  assert.deepEqual(report.removed, [t.file('app.js'), t.file('routes/a.js'), t.file('routes/helper.js')])
  assert.deepEqual(report.errors, [])
  assert.equal(require.cache[t.file('routes/a.js')].exports, exports)
  assert.equal(require.cache[t.file('routes/a.js')].parent, module, 'the new module is parented to the caller')
  assert.equal(require(t.file('app.js')).a, exports, 'the next require of the importer sees the new version')
})

test('dispose handlers of the old version run before the new code loads', () => {
  const t = appTree()
  require(t.file('app.js'))
  globalThis.aDisposed = false
  const { exports } = reload(t.file('routes/a.js'))
  assert.equal(exports.version, 1)
  assert.equal(globalThis.aDisposedBeforeLoad, true)
})

test('a syntax error in the new code rolls back too', () => {
  const t = appTree()
  const app = require(t.file('app.js'))
  const before = captureState()
  fs.writeFileSync(t.file('routes/a.js'), 'module.exports = {\n')
  assert.throws(
    () => reload(t.file('routes/a.js')),
    (e) => e.code === 'ERR_UNCACHE_RELOAD_FAILED' && e.cause instanceof SyntaxError,
  )
  assertStateIs(before)
  assert.equal(require(t.file('app.js')), app)
})

test('a throwing accept handler fails the reload and rolls it back', () => {
  const t = writeTree({
    'host.js': `
      const { hot } = require(${PKG})
      exports.dep = require('./dep')
      hot(module).accept('./dep', () => { exports.dep = require('./dep') })
    `,
    'dep.js': 'module.exports = { version: 1 }\n',
  })
  const host = require(t.file('host.js'))
  const dep = host.dep
  const before = captureState()
  fs.writeFileSync(t.file('dep.js'), "throw new Error('dep v2 broken')\n")
  assert.throws(
    () => reload(t.file('dep.js')),
    (e) => e.code === 'ERR_UNCACHE_RELOAD_FAILED' && e.cause.message === 'dep v2 broken',
  )
  assertStateIs(before)
  assert.equal(host.dep, dep)
  fs.writeFileSync(t.file('dep.js'), 'module.exports = { version: 2 }\n')
  const { exports } = reload(t.file('dep.js'))
  assert.equal(exports.version, 2)
  assert.equal(host.dep, exports, 'the handler required the same new instance')
})

test('reload of a module that is not loaded yet loads it; a specifier resolves from the caller', () => {
  const t = writeTree({ 'lazy.js': 'module.exports = { lazy: true }\n' })
  const { exports, report } = reload(t.file('lazy.js'))
  assert.deepEqual(exports, { lazy: true })
  assert.deepEqual(report.removed, [])
  assert.equal(require.cache[t.file('lazy.js')].parent, module)
  const again = reload('./lazy', { from: t.file('lazy.js') })
  assert.deepEqual(again.report.removed, [t.file('lazy.js')])
  assert.notEqual(again.exports, exports)
})

test('bad input throws before anything changes', () => {
  const t = writeTree({ 'x.js': 'module.exports = {}\n' })
  require(t.file('x.js'))
  const keys = Object.keys(require.cache)
  assert.throws(() => reload([t.file('x.js')]), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' })
  assert.throws(() => reload(42), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' })
  assert.throws(() => reload(__filename), { name: 'UncacheError', code: 'ERR_UNCACHE_MAIN' })
  assert.throws(() => reload('./missing', { from: t.file('x.js') }), { code: 'ERR_UNCACHE_UNRESOLVED' })
  assert.throws(() => reload(t.file('x.js'), { dryRun: true }), { name: 'RangeError', code: 'ERR_INVALID_ARG_VALUE' })
  assert.throws(() => reload(t.file('x.js'), { from: 7 }), { code: 'ERR_INVALID_ARG_TYPE' })
  assert.deepEqual(Object.keys(require.cache), keys)
})

test('a reload from inside the reloaded module never parents the new generation to the unloaded one', () => {
  const t = writeTree({
    'self.js': `
      const { reload } = require(${PKG})
      exports.generation = (globalThis.selfGenerations = (globalThis.selfGenerations ?? 0) + 1)
      exports.again = () => reload(__filename)
    `,
  })
  const first = require(t.file('self.js'))
  const firstModule = require.cache[t.file('self.js')]
  const { exports } = first.again()
  assert.equal(exports.generation, 2)
  const second = require.cache[t.file('self.js')]
  assert.notEqual(second, firstModule)
  assert.notEqual(second.parent, firstModule, 'no new generation records an unloaded one as its parent')
  assert.ok(hot(second))
})

// ---- issue 16, "Why — speed": a reload costs what it removes, not the cache size ----

test('I16-speed: a reload that succeeds never reads the whole key order; a failed one still puts the keys back in their place', () => {
  const keyOrder = require('../lib/graph/key-order.js')
  const t = appTree()
  // Modules loaded after app.js, and a key made by hand before it: the removed keys sit in the
  // middle of require.cache, between keys that stay.
  require.cache[t.file('mock.js')] = { exports: { mock: true }, loaded: true, children: [] }
  require(t.file('app.js'))
  fs.writeFileSync(t.file('later.js'), 'module.exports = 1\n')
  require(t.file('later.js'))
  reload(t.file('routes/a.js')) // ranks every key once (the first reload of these files)
  require(t.file('app.js'))
  fs.writeFileSync(t.file('later2.js'), 'module.exports = 2\n')
  require(t.file('later2.js'))

  const fullReads = []
  const rankAll = keyOrder.rankAll
  keyOrder.rankAll = (...args) => (fullReads.push(args), rankAll(...args))
  try {
    const ok = reload(t.file('routes/a.js'))
    assert.deepEqual(ok.report.removed, [t.file('app.js'), t.file('routes/a.js'), t.file('routes/helper.js')])
    assert.equal(fullReads.length, 0, 'the capture took ranks, not Object.keys(require.cache)')

    require(t.file('app.js'))
    fs.writeFileSync(t.file('later3.js'), 'module.exports = 3\n')
    require(t.file('later3.js')) // after the removed keys: they are in the middle again
    const before = captureState()
    const middle = before.keys.indexOf(t.file('routes/a.js'))
    assert.ok(middle > 0 && middle < before.keys.length - 1, 'routes/a.js is neither first nor last')
    fs.writeFileSync(t.file('routes/a.js'), BROKEN_A)
    assert.throws(() => reload(t.file('routes/a.js')), { code: 'ERR_UNCACHE_RELOAD_FAILED' })
    assert.equal(fullReads.length, 0, 'no full read at the capture of the failed reload either')
    assertStateIs(before)
  } finally {
    keyOrder.rankAll = rankAll
    delete require.cache[t.file('mock.js')]
  }
})
