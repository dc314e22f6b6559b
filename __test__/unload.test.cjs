'use strict'
// uncacheTree(): the reference-counted unload, every cut of docs/node-internals.md §5, the report,
// the guards and the errors, line by line against the API contract in README.md/index.d.ts.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const Module = require('node:module')
const path = require('node:path')
const { uncacheTree, UncacheError } = require('..')
const { binaryName } = require('../lib/platform.js')
const { writeTree, requiring } = require('./helpers/fixtures.cjs')

const NODE_MAJOR = Number(process.versions.node.split('.')[0])
const ADDON = path.join(__dirname, '..', binaryName())

/** host.js stays loaded all test long; plugin/ is the tree we unload. */
function pluginTree(extra = {}) {
  return writeTree({
    'host.js': requiring('host', ['./lib']),
    'lib.js': requiring('lib', ['./util']),
    'util.js': requiring('util'),
    'plugin/index.js': requiring('plugin', ['./a', './b']),
    'plugin/a.js': requiring('a', ['./shared']),
    'plugin/b.js': requiring('b', ['./shared', '../lib']),
    'plugin/shared.js': 'module.exports = { buffer: new ArrayBuffer(1024) }\n',
    ...extra,
  })
}

function emptyReport() {
  return { removed: [], kept: [], skipped: [], pinned: [], pathCacheEntries: 0, errors: [] }
}

test('unloads the tree, keeps what a live module still requires, and says who holds it', () => {
  const t = pluginTree()
  const host = require(t.file('host.js'))
  const plugin = require(t.file('plugin/index.js'))
  const lib = host.deps['./lib']
  const report = uncacheTree(t.file('plugin/index.js'))

  assert.deepEqual(report.removed.slice().sort(), [
    t.file('plugin/a.js'),
    t.file('plugin/b.js'),
    t.file('plugin/index.js'),
    t.file('plugin/shared.js'),
  ])
  assert.equal(report.removed[0], t.file('plugin/index.js'), 'importers come first')
  assert.equal(report.removed.at(-1), t.file('plugin/shared.js'), 'shared comes after both importers')
  assert.deepEqual(report.kept, [{ id: t.file('lib.js'), heldBy: [t.file('host.js')] }])
  assert.deepEqual(report.skipped, [])
  assert.deepEqual(report.errors, [])
  for (const id of report.removed) assert.equal(require.cache[id], undefined)
  assert.equal(require(t.file('lib.js')), lib, 'the kept dependency keeps its identity')
  assert.notEqual(require(t.file('plugin/index.js')), plugin, 'the tree loads anew')
  assert.equal(require(t.file('plugin/index.js')).deps['./b'].deps['../lib'], lib)
})

test('cuts the removed modules out of every surviving children array, not just the first parent', () => {
  const t = pluginTree({ 'second.js': requiring('second', ['./plugin/shared']) })
  require(t.file('plugin/index.js'))
  const shared = require.cache[t.file('plugin/shared.js')]
  const thisModule = module
  require(t.file('plugin/shared.js')) // a cache hit: this test file now lists shared too
  assert.ok(thisModule.children.includes(shared))
  const report = uncacheTree(t.file('plugin/index.js'), { shared: 'remove' })
  assert.ok(report.removed.includes(t.file('plugin/shared.js')))
  for (const key of Object.keys(require.cache)) {
    const m = require.cache[key]
    if (!Array.isArray(m.children)) continue
    for (const id of report.removed) {
      assert.ok(!m.children.some((c) => c.filename === id), `${key} still lists ${id}`)
    }
  }
  assert.equal(shared.children.length, 0, 'removed modules drop their own children')
})

test("with shared: 'keep' a shared module required by a live module outside the tree stays", () => {
  const t = pluginTree()
  require(t.file('host.js'))
  require(t.file('plugin/index.js'))
  const shared = require(t.file('plugin/shared.js')) // this test file is a live holder now
  const report = uncacheTree(t.file('plugin/index.js'))
  assert.deepEqual(report.kept.map((k) => k.id).sort(), [t.file('lib.js'), t.file('plugin/shared.js')].sort())
  const heldShared = report.kept.find((k) => k.id === t.file('plugin/shared.js'))
  assert.deepEqual(heldShared.heldBy, [__filename])
  assert.equal(require(t.file('plugin/shared.js')), shared)
})

test("shared: 'remove' unloads everything reachable, even what live code uses", () => {
  const t = pluginTree()
  require(t.file('host.js'))
  require(t.file('plugin/index.js'))
  const report = uncacheTree(t.file('plugin/index.js'), { shared: 'remove' })
  assert.deepEqual(report.kept, [])
  assert.ok(report.removed.includes(t.file('lib.js')))
  assert.ok(report.removed.includes(t.file('util.js')))
  const host = require.cache[t.file('host.js')]
  assert.deepEqual(host.children, [], "the host's edge to lib is cut")
})

test('keep: a RegExp or a function never unloads matching modules, and their dependencies stay', () => {
  for (const keep of [/lib\.js$/, (id) => id.endsWith('lib.js')]) {
    const t = pluginTree()
    require(t.file('plugin/index.js'))
    const report = uncacheTree(t.file('plugin/index.js'), { keep, shared: 'remove' })
    assert.deepEqual(report.skipped, [{ id: t.file('lib.js'), reason: 'kept-by-option' }])
    assert.ok(require.cache[t.file('lib.js')])
    assert.ok(require.cache[t.file('util.js')], 'a skipped module is a boundary: its dependencies stay')
    assert.deepEqual(report.kept, [], 'util is reached only through lib, which is not walked')
    assert.equal(report.removed.length, 4)
  }
})

test('a target that matches keep is skipped, not an error, and nothing is unloaded', () => {
  const t = pluginTree()
  require(t.file('plugin/index.js'))
  const before = Object.keys(require.cache).length
  const report = uncacheTree(t.file('plugin/index.js'), { keep: /plugin/ })
  assert.deepEqual(report, { ...emptyReport(), skipped: [{ id: t.file('plugin/index.js'), reason: 'kept-by-option' }] })
  assert.equal(Object.keys(require.cache).length, before)
})

test('a /g RegExp in keep gives the same answer for every module', () => {
  const t = pluginTree()
  require(t.file('plugin/index.js'))
  const report = uncacheTree(t.file('plugin/index.js'), { keep: /shared/g })
  assert.deepEqual(report.skipped, [{ id: t.file('plugin/shared.js'), reason: 'kept-by-option' }])
})

test('dryRun computes the same report and changes nothing', () => {
  const t = pluginTree()
  require(t.file('host.js'))
  const plugin = require(t.file('plugin/index.js'))
  const keys = Object.keys(require.cache)
  const children = new Map(keys.map((k) => [k, require.cache[k].children.slice()]))
  const dry = uncacheTree(t.file('plugin/index.js'), { dryRun: true })
  assert.deepEqual(Object.keys(require.cache), keys)
  for (const k of keys) assert.deepEqual(require.cache[k].children, children.get(k))
  assert.equal(require(t.file('plugin/index.js')), plugin)
  const real = uncacheTree(t.file('plugin/index.js'))
  assert.deepEqual(dry, real)
})

test('cycles and diamonds are unloaded once each, importers first', () => {
  const t = writeTree({
    'a.js': requiring('a', ['./b', './c']),
    'b.js': requiring('b', ['./d', './a']),
    'c.js': requiring('c', ['./d']),
    'd.js': requiring('d', ['./b']),
  })
  require(t.file('a.js'))
  const report = uncacheTree(t.file('a.js'))
  assert.equal(report.removed.length, 4)
  assert.equal(new Set(report.removed).size, 4)
  assert.equal(report.removed[0], t.file('a.js'))
  assert.ok(report.removed.indexOf(t.file('c.js')) < report.removed.indexOf(t.file('d.js')))
})

test('a native addon inside the tree stays loaded and is reported skipped', () => {
  const t = writeTree({ 'uses-addon.js': `module.exports = require(${JSON.stringify(ADDON)})\n` })
  const addon = require(t.file('uses-addon.js'))
  const report = uncacheTree(t.file('uses-addon.js'))
  assert.deepEqual(report.removed, [t.file('uses-addon.js')])
  assert.deepEqual(report.skipped, [{ id: ADDON, reason: 'native-addon' }])
  assert.equal(require(ADDON), addon)
})

test('errors: a .node target, a built-in, the main module', () => {
  const expectCode = (fn, code, pattern) =>
    assert.throws(fn, (error) => {
      assert.ok(error instanceof UncacheError)
      assert.equal(error.name, 'UncacheError')
      assert.equal(error.code, code)
      assert.match(error.message, pattern)
      return true
    })
  expectCode(() => uncacheTree(ADDON), 'ERR_UNCACHE_NATIVE_ADDON', /native addon: native code cannot be unloaded/)
  expectCode(() => uncacheTree(require.cache[ADDON]), 'ERR_UNCACHE_NATIVE_ADDON', /uncache-tree\.linux/)
  expectCode(() => uncacheTree('fs'), 'ERR_UNCACHE_BUILTIN', /'fs' is a Node\.js built-in/)
  expectCode(() => uncacheTree('node:fs'), 'ERR_UNCACHE_BUILTIN', /'node:fs'/)
  expectCode(() => uncacheTree(__filename), 'ERR_UNCACHE_MAIN', /main module/)
  expectCode(() => uncacheTree(module), 'ERR_UNCACHE_MAIN', new RegExp(path.basename(__filename)))
  assert.match(String(new UncacheError('ERR_X', 'm')), /^UncacheError \[ERR_X\]: m$/)
})

test('a module that is still loading: an error as target, skipped inside a tree', () => {
  const t = writeTree({
    'self.js': `const { uncacheTree } = require(${JSON.stringify(path.join(__dirname, '..'))})\n` +
      'try { uncacheTree(__filename) } catch (error) { module.exports = error }\n',
    'outer.js': `module.exports = require('./middle')\n`,
    'middle.js': `const { uncacheTree } = require(${JSON.stringify(path.join(__dirname, '..'))})\n` +
      "require('./tree')\nmodule.exports = uncacheTree(require.resolve('./tree'))\n",
    'tree.js': "module.exports = require('./outer')\n",
  })
  const error = require(t.file('self.js'))
  assert.equal(error.code, 'ERR_UNCACHE_LOADING')
  assert.match(error.message, /self\.js is still being loaded/)
  const report = require(t.file('outer.js'))
  assert.deepEqual(report.removed, [t.file('tree.js')])
  assert.deepEqual(report.skipped, [{ id: t.file('outer.js'), reason: 'loading' }])
})

test('not cached: an empty report, and a second call is a no-op', () => {
  const t = pluginTree()
  assert.deepEqual(uncacheTree(t.file('plugin/index.js')), emptyReport())
  require(t.file('plugin/index.js'))
  assert.equal(uncacheTree(t.file('plugin/index.js')).removed.length, 6, 'plugin/ plus lib and util')
  assert.deepEqual(uncacheTree(t.file('plugin/index.js')), emptyReport())
})

test('a cache entry that is not a Module is deleted and listed; there is nothing below it', () => {
  const t = writeTree({ 'data.json': '{"a":1}' })
  const key = t.file('data.json')
  require.cache[key] = { exports: { a: 1 }, loaded: true } // what the ESM loader puts there for JSON
  const report = uncacheTree(key)
  assert.deepEqual(report, { ...emptyReport(), removed: [key] })
  assert.equal(require.cache[key], undefined)
})

test('arrays: validated whole before anything changes; one report for all', () => {
  const t = pluginTree({ 'other.js': requiring('other', ['./util']) })
  require(t.file('plugin/index.js'))
  require(t.file('other.js'))
  const keys = Object.keys(require.cache)
  for (const bad of [ADDON, __filename, 42, 'fs', t.file('missing.js')]) {
    assert.throws(() => uncacheTree([t.file('plugin/index.js'), bad]))
    assert.deepEqual(Object.keys(require.cache), keys, `nothing unloaded when ${bad} is rejected`)
  }
  const report = uncacheTree([t.file('plugin/index.js'), t.file('other.js'), t.file('other.js')])
  assert.deepEqual(report.removed.map((id) => path.relative(t.dir, id)).sort(), [
    'lib.js', 'other.js', 'plugin/a.js', 'plugin/b.js', 'plugin/index.js', 'plugin/shared.js', 'util.js',
  ])
})

test('survivors whose first parent was removed get their parent reset; Node >= 22 pins it', () => {
  const t = writeTree({ 'p.js': requiring('p', ['./dep']), 'dep.js': requiring('dep') })
  require(t.file('p.js'))
  const dep = require.cache[t.file('dep.js')]
  require(t.file('dep.js')) // this test file holds dep, so it stays
  assert.equal(dep.parent, require.cache[t.file('p.js')])
  const report = uncacheTree(t.file('p.js'))
  assert.deepEqual(report.removed, [t.file('p.js')])
  assert.equal(dep.parent, undefined)
  assert.deepEqual(report.pinned, NODE_MAJOR >= 22 ? [{ id: t.file('p.js'), by: 'last-parent' }] : [])
})

test('Module._pathCache entries that resolve to removed files are dropped, so renames are seen', async () => {
  const t = writeTree({ 'user.js': "module.exports = () => require('./dep')\n", 'dep.js': 'module.exports = "js"\n' })
  const load = require(t.file('user.js'))
  assert.equal(load(), 'js')
  const report = uncacheTree(t.file('dep.js'))
  assert.ok(report.pathCacheEntries >= 1)
  for (const value of Object.values(Module._pathCache)) assert.notEqual(value, t.file('dep.js'))
  fs.rmSync(t.file('dep.js'))
  fs.writeFileSync(t.file('dep.json'), '"json"')
  // docs/node-internals.md §1b row 18: a re-require must come on a later tick than the entry's
  // top level.
  await new Promise((resolve) => setImmediate(resolve))
  assert.equal(load(), 'json')
})

test('requirers outside the cache hold modules: a createRequire proxy keeps what it required', () => {
  const t = pluginTree()
  const hostRequire = Module.createRequire(t.file('host-proxy.js'))
  require(t.file('plugin/index.js'))
  const shared = hostRequire('./plugin/shared.js')
  const report = uncacheTree(t.file('plugin/index.js'))
  const kept = report.kept.find((k) => k.id === t.file('plugin/shared.js'))
  assert.deepEqual(kept, { id: t.file('plugin/shared.js'), heldBy: [t.file('host-proxy.js')] })
  assert.equal(hostRequire('./plugin/shared.js'), shared)
})

test('a module loaded through createRequire only is cut from the proxy when unloaded', () => {
  const t = pluginTree()
  const hostRequire = Module.createRequire(t.file('host-proxy.js'))
  hostRequire('./plugin/index.js')
  const plugin = require.cache[t.file('plugin/index.js')]
  assert.equal(plugin.parent.filename, t.file('host-proxy.js'))
  const proxy = plugin.parent
  uncacheTree(t.file('plugin/index.js'))
  assert.deepEqual(proxy.children, [])
})

test('a require made by an unloaded module gets a stand-in parent, never the old module', () => {
  const t = writeTree({ 'self-reload.js': "module.exports = { next: () => require('./self-reload.js') }\n" })
  const first = require(t.file('self-reload.js'))
  const old = require.cache[t.file('self-reload.js')]
  uncacheTree(t.file('self-reload.js'))
  first.next() // old code requires the next generation
  const fresh = require.cache[t.file('self-reload.js')]
  assert.notEqual(fresh, old)
  assert.notEqual(fresh.parent, old)
  assert.equal(fresh.parent.filename, old.filename, 'the stand-in resolves like the old module')
  assert.ok(!old.children.includes(fresh))
  const report = uncacheTree(t.file('self-reload.js'))
  assert.deepEqual(fresh.parent?.children ?? [], [], "the stand-in's edge is cut on the next unload")
  assert.deepEqual(report.kept, [], 'a stand-in is not a live holder')
})

test('argument errors are Node-style TypeError / RangeError with codes', () => {
  const t = pluginTree()
  const typeError = (fn, pattern) =>
    assert.throws(fn, (e) => e instanceof TypeError && e.code === 'ERR_INVALID_ARG_TYPE' && pattern.test(e.message))
  const rangeError = (fn, pattern) =>
    assert.throws(fn, (e) => e instanceof RangeError && e.code === 'ERR_INVALID_ARG_VALUE' && pattern.test(e.message))
  typeError(() => uncacheTree(42), /"target" argument must be a path/)
  typeError(() => uncacheTree(null), /Received null/)
  typeError(() => uncacheTree({}), /"target"/)
  typeError(() => uncacheTree(t.file('lib.js'), 'keep'), /"options" argument must be an object/)
  typeError(() => uncacheTree(t.file('lib.js'), { shared: true }), /options\.shared/)
  rangeError(() => uncacheTree(t.file('lib.js'), { shared: 'bogus' }), /'options\.shared' must be 'keep' or 'remove'\. Received 'bogus'/)
  typeError(() => uncacheTree(t.file('lib.js'), { keep: 'node_modules' }), /options\.keep/)
  typeError(() => uncacheTree(t.file('lib.js'), { dryRun: 1 }), /options\.dryRun/)
  typeError(() => uncacheTree(t.file('lib.js'), { from: 7 }), /options\.from/)
  rangeError(() => uncacheTree('./lib', { from: 'relative/file.js' }), /absolute file path or a file: URL/)
  rangeError(() => uncacheTree(''), /must not be empty/)
  rangeError(() => uncacheTree(new URL('https://example.com/a.js')), /file: URL/)
})
