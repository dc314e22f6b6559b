'use strict'
// invalidate(): a changed module and its importers are unloaded (the walk up runs in the native
// core), up to accepting modules; declining modules refuse; main is never unloaded; the
// dependencies of what was unloaded stay loaded with their identity.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { invalidate, hot, UncacheError } = require('..')
const { binaryName } = require('../lib/platform.js')
const { writeTree, requiring } = require('./helpers/fixtures.cjs')

const ADDON = path.join(__dirname, '..', binaryName())

function emptyReport() {
  return { removed: [], kept: [], skipped: [], pinned: [], pathCacheEntries: 0, errors: [] }
}

test('a diamond where one branch changed: that branch and its importers go, the rest keeps its identity', () => {
  const t = writeTree({
    'app.js': requiring('app', ['./left', './right']),
    'left.js': requiring('left', ['./shared']),
    'right.js': requiring('right', ['./shared']),
    'shared.js': 'module.exports = { state: [] }\n',
  })
  const app = require(t.file('app.js'))
  const right = require.cache[t.file('right.js')]
  const shared = require.cache[t.file('shared.js')]
  fs.writeFileSync(t.file('left.js'), "module.exports = { name: 'left v2', shared: require('./shared') }\n")

  const report = invalidate(t.file('left.js'))

  assert.deepEqual(report.removed, [t.file('app.js'), t.file('left.js')], 'importers before what they import')
  assert.deepEqual(report.skipped, [{ id: __filename, reason: 'main' }])
  assert.deepEqual(report.kept, [])
  assert.deepEqual(report.errors, [])
  assert.equal(require.cache[t.file('app.js')], undefined)
  assert.equal(require.cache[t.file('right.js')], right, 'the unchanged branch stays loaded')
  assert.equal(require.cache[t.file('shared.js')], shared)
  assert.ok(!module.children.some((m) => m.filename === t.file('app.js')), "main's edge to the old app is cut")

  const app2 = require(t.file('app.js'))
  assert.notEqual(app2, app)
  assert.equal(app2.deps['./left'].name, 'left v2', 'the new code is seen')
  assert.equal(app2.deps['./right'], right.exports, 'the same right instance')
  assert.equal(app2.deps['./left'].shared, shared.exports, 'the same shared instance, state included')
})

test('a cycle containing the changed file is unloaded whole; its other dependencies stay', () => {
  const t = writeTree({
    'a.js': "exports.b = require('./b')\n",
    'b.js': "exports.c = require('./c')\n",
    'c.js': "exports.a = require('./a')\nexports.leaf = require('./leaf')\n",
    'leaf.js': 'module.exports = {}\n',
  })
  require(t.file('a.js'))
  const leaf = require.cache[t.file('leaf.js')]
  const report = invalidate(t.file('c.js'))
  assert.deepEqual([...report.removed].sort(), [t.file('a.js'), t.file('b.js'), t.file('c.js')])
  assert.deepEqual(report.skipped, [{ id: __filename, reason: 'main' }])
  for (const name of ['a.js', 'b.js', 'c.js']) assert.equal(require.cache[t.file(name)], undefined)
  assert.equal(require.cache[t.file('leaf.js')], leaf)
  assert.equal(require(t.file('a.js')).b.c.leaf, leaf.exports)
})

test('accept(deps, callback) stops the walk at that edge; the callback gets the updated ids at once', () => {
  const t = writeTree({
    'host.js': `
      const { hot } = require(${JSON.stringify(require.resolve('..'))})
      exports.plugin = require('./plugin')
      exports.calls = []
      hot(module).accept('./plugin', (updated) => {
        exports.calls.push(updated)
        exports.plugin = require('./plugin')
      })
    `,
    'plugin.js': "module.exports = { version: 1, lib: require('./lib') }\n",
    'lib.js': 'module.exports = { version: 1 }\n',
  })
  const host = require(t.file('host.js'))
  const hostModule = require.cache[t.file('host.js')]
  const oldPlugin = host.plugin
  fs.writeFileSync(t.file('lib.js'), 'module.exports = { version: 2 }\n')

  const report = invalidate(t.file('lib.js'))

  assert.deepEqual(report.removed, [t.file('plugin.js'), t.file('lib.js')])
  assert.deepEqual(report.skipped, [], 'the walk stopped at host: main was never reached')
  assert.deepEqual(host.calls, [[t.file('plugin.js')]], 'called once, synchronously, with the accepted dependency')
  assert.equal(require.cache[t.file('host.js')], hostModule, 'the acceptor stays')
  assert.notEqual(host.plugin, oldPlugin)
  assert.equal(host.plugin.lib.version, 2)
  assert.equal(require.cache[t.file('plugin.js')].parent, hostModule, 'the callback re-required it: host is its parent')
  assert.deepEqual(
    hostModule.children.filter((m) => m.filename.startsWith(t.dir)),
    [require.cache[t.file('plugin.js')]],
    'host holds the new plugin only',
  )
})

test('acceptance is per edge: an update reaching the acceptor through another dependency unloads it', () => {
  const t = writeTree({
    'host.js': `
      const { hot } = require(${JSON.stringify(require.resolve('..'))})
      exports.plugin = require('./plugin')
      exports.other = require('./other')
      hot(module).accept('./plugin', () => { exports.called = true })
    `,
    'plugin.js': requiring('plugin', ['./lib']),
    'other.js': requiring('other', ['./lib']),
    'lib.js': requiring('lib'),
  })
  const host = require(t.file('host.js'))
  const report = invalidate(t.file('lib.js'))
  assert.deepEqual(
    [...report.removed].sort(),
    [t.file('host.js'), t.file('lib.js'), t.file('other.js'), t.file('plugin.js')],
  )
  assert.equal(report.removed[0], t.file('host.js'))
  assert.equal(host.called, undefined, 'an acceptor that is unloaded itself is not called')
  assert.deepEqual(report.skipped, [{ id: __filename, reason: 'main' }])
})

test('a self-accepting module is unloaded and required again by the library; its importers keep their state', () => {
  const t = writeTree({
    'app.js': "exports.widget = require('./widget')\nexports.loads = 0\n",
    'widget.js': `
      const { hot } = require(${JSON.stringify(require.resolve('..'))})
      hot(module).accept()
      globalThis.widgetLoads = (globalThis.widgetLoads ?? 0) + 1
      module.exports = { util: require('./util') }
    `,
    'util.js': 'module.exports = { version: 1 }\n',
  })
  const app = require(t.file('app.js'))
  const appModule = require.cache[t.file('app.js')]
  const oldWidget = require.cache[t.file('widget.js')]
  fs.writeFileSync(t.file('util.js'), 'module.exports = { version: 2 }\n')

  const report = invalidate(t.file('util.js'))

  assert.deepEqual(report.removed, [t.file('widget.js'), t.file('util.js')])
  assert.deepEqual(report.skipped, [], 'the walk stopped at the widget')
  assert.equal(require.cache[t.file('app.js')], appModule)
  assert.equal(globalThis.widgetLoads, 2, 'required again before invalidate returned')
  const newWidget = require.cache[t.file('widget.js')]
  assert.ok(newWidget !== undefined && newWidget !== oldWidget)
  assert.equal(newWidget.exports.util.version, 2)
  assert.equal(newWidget.parent, appModule, 'through its importer, so the graph has the same edges')
  assert.deepEqual(appModule.children, [newWidget])
  assert.equal(app.widget, oldWidget.exports, "the importer's own reference is its business (it was not unloaded)")

  const again = invalidate(t.file('widget.js'))
  assert.deepEqual(again.removed, [t.file('widget.js')], 'a changed self-accepting module: just itself')
  assert.equal(globalThis.widgetLoads, 3)
})

test('a failing re-require of a self-accepting module is reported; with accept(errorHandler) it goes there', () => {
  const t = writeTree({
    'app.js': "require('./quiet')\nrequire('./loud')\n",
    'quiet.js': `
      const { hot } = require(${JSON.stringify(require.resolve('..'))})
      hot(module).accept((error, info) => { globalThis.quietError = [error.message, info.moduleId] })
    `,
    'loud.js': `
      const { hot } = require(${JSON.stringify(require.resolve('..'))})
      hot(module).accept()
    `,
  })
  require(t.file('app.js'))
  fs.writeFileSync(t.file('quiet.js'), "throw new Error('quiet broke')\n")
  fs.writeFileSync(t.file('loud.js'), "throw new Error('loud broke')\n")
  const report = invalidate([t.file('quiet.js'), t.file('loud.js')])
  assert.deepEqual([...report.removed].sort(), [t.file('loud.js'), t.file('quiet.js')])
  assert.deepEqual(globalThis.quietError, ['quiet broke', t.file('quiet.js')])
  assert.deepEqual(report.errors.map((e) => e.message), ['loud broke'])
  assert.equal(require.cache[t.file('loud.js')], undefined, 'nothing half-loaded stays')
})

test('a declining module refuses the update: nothing on that path is unloaded, the report says what it blocked', () => {
  const t = writeTree({
    'store.js': `
      const { hot } = require(${JSON.stringify(require.resolve('..'))})
      hot(module).decline()
      exports.model = require('./model')
    `,
    'model.js': requiring('model', ['./schema']),
    'schema.js': requiring('schema'),
    'view.js': requiring('view', ['./style']),
    'style.js': requiring('style'),
  })
  require(t.file('store.js'))
  require(t.file('view.js'))
  const before = Object.fromEntries(['store.js', 'model.js', 'schema.js'].map((n) => [n, require.cache[t.file(n)]]))

  const report = invalidate([t.file('schema.js'), t.file('style.js')])

  assert.deepEqual(report.removed, [t.file('view.js'), t.file('style.js')], 'the other change goes through')
  assert.deepEqual(report.skipped, [
    { id: __filename, reason: 'main' },
    { id: t.file('store.js'), reason: 'declined', blocked: [t.file('schema.js')] },
  ])
  for (const [name, m] of Object.entries(before)) assert.equal(require.cache[t.file(name)], m, `${name} stays`)
  assert.ok(before['model.js'].children.includes(before['schema.js']), 'no edge on the refused path is cut')

  const self = invalidate(t.file('store.js'))
  assert.deepEqual(self.removed, [])
  assert.deepEqual(self.skipped, [{ id: t.file('store.js'), reason: 'declined', blocked: [t.file('store.js')] }])
})

test('decline(deps) refuses only updates arriving through those dependencies', () => {
  const t = writeTree({
    'page.js': `
      const { hot } = require(${JSON.stringify(require.resolve('..'))})
      hot(module).decline('./config')
      exports.config = require('./config')
      exports.widget = require('./widget')
    `,
    'config.js': requiring('config'),
    'widget.js': requiring('widget'),
  })
  require(t.file('page.js'))
  const refused = invalidate(t.file('config.js'))
  assert.deepEqual(refused.removed, [])
  assert.deepEqual(refused.skipped, [{ id: t.file('page.js'), reason: 'declined', blocked: [t.file('config.js')] }])
  const applied = invalidate(t.file('widget.js'))
  assert.deepEqual(applied.removed, [t.file('page.js'), t.file('widget.js')])
})

test('the main module is never unloaded: reported skipped main, not thrown', () => {
  const report = invalidate(__filename)
  assert.deepEqual(report.removed, [])
  assert.deepEqual(report.skipped, [{ id: __filename, reason: 'main' }])
  assert.equal(require.cache[__filename], module)
  const viaModule = invalidate(module)
  assert.deepEqual(viaModule.skipped, [{ id: __filename, reason: 'main' }])
})

test('keep: matching importers stay (kept-by-option); a matching changed module is skipped', () => {
  const t = writeTree({
    'vendor/lib.js': requiring('lib', ['../leaf']),
    'leaf.js': requiring('leaf'),
  })
  require(t.file('vendor/lib.js'))
  const report = invalidate(t.file('leaf.js'), { keep: /[\\/]vendor[\\/]/ })
  assert.deepEqual(report.removed, [t.file('leaf.js')])
  assert.deepEqual(report.skipped, [{ id: t.file('vendor/lib.js'), reason: 'kept-by-option' }])
  const self = invalidate(t.file('vendor/lib.js'), { keep: (id) => id.includes('vendor') })
  assert.deepEqual(self.removed, [])
  assert.deepEqual(self.skipped, [{ id: t.file('vendor/lib.js'), reason: 'kept-by-option' }])
})

test('dryRun reports the same and changes nothing, no dispose handler runs', () => {
  const t = writeTree({
    'a.js': `
      const { hot } = require(${JSON.stringify(require.resolve('..'))})
      hot(module).dispose(() => { globalThis.disposedInDryRun = true })
      require('./b')
    `,
    'b.js': requiring('b'),
  })
  require(t.file('a.js'))
  const keys = Object.keys(require.cache)
  const report = invalidate('./b', { dryRun: true, from: t.file('a.js') })
  assert.deepEqual(report.removed, [t.file('a.js'), t.file('b.js')])
  assert.deepEqual(Object.keys(require.cache), keys)
  assert.equal(globalThis.disposedInDryRun, undefined)
})

test('a throwing accept handler is reported; the unload completes', () => {
  const t = writeTree({
    'host.js': `
      const { hot } = require(${JSON.stringify(require.resolve('..'))})
      require('./dep')
      hot(module).accept(['./dep'], () => { throw new Error('handler failed') })
    `,
    'dep.js': requiring('dep'),
  })
  require(t.file('host.js'))
  const report = invalidate(t.file('dep.js'))
  assert.deepEqual(report.removed, [t.file('dep.js')])
  assert.deepEqual(report.errors.map((e) => e.message), ['handler failed'])
  assert.equal(require.cache[t.file('dep.js')], undefined)
})

test('targets: file: URL, Module; not cached: an empty report; bad input throws before anything changes', () => {
  const t = writeTree({ 'x.js': requiring('x'), 'y.js': requiring('y') })
  require(t.file('x.js'))
  require(t.file('y.js'))
  const notLoaded = writeTree({ 'z.js': requiring('z') })
  assert.deepEqual(invalidate(notLoaded.file('z.js')), emptyReport())
  const keys = Object.keys(require.cache)
  assert.throws(() => invalidate([t.file('x.js'), 42]), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' })
  assert.throws(
    () => invalidate([t.file('x.js'), ADDON]),
    (e) => e instanceof UncacheError && e.code === 'ERR_UNCACHE_NATIVE_ADDON',
  )
  assert.throws(() => invalidate([t.file('x.js'), './nope'], { from: t.file('x.js') }), {
    code: 'ERR_UNCACHE_UNRESOLVED',
  })
  assert.throws(() => invalidate('fs'), { code: 'ERR_UNCACHE_BUILTIN' })
  assert.throws(() => invalidate(t.file('x.js'), { keep: 'x' }), { code: 'ERR_INVALID_ARG_TYPE' })
  assert.throws(() => invalidate(t.file('x.js'), 'opts'), { code: 'ERR_INVALID_ARG_TYPE' })
  assert.deepEqual(Object.keys(require.cache), keys, 'nothing was unloaded')

  const viaUrl = invalidate(new URL(`file://${t.file('x.js')}`))
  assert.deepEqual(viaUrl.removed, [t.file('x.js')])
  const viaModule = invalidate(require.cache[t.file('y.js')])
  assert.deepEqual(viaModule.removed, [t.file('y.js')])
})

test('hot handles leave Module objects untouched (no own properties added)', () => {
  const t = writeTree({ 'plain.js': requiring('plain') })
  require(t.file('plain.js'))
  const m = require.cache[t.file('plain.js')]
  const keys = Reflect.ownKeys(m)
  hot(m).accept()
  hot(m).dispose(() => {})
  invalidate(m)
  assert.deepEqual(Reflect.ownKeys(m), keys)
})
