'use strict'
// watch(): changed files reload the entry through reload()'s rollback, the events of one save
// make one reload, node_modules is ignored unless asked for, new files are watched, close()
// releases everything; and a soak of 1,000 watch-driven reloads leaves no generation behind.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const vm = require('node:vm')
const { watch, uncacheTree } = require('..')
const { forceGc } = require('../lib/proof/gc.js')
const { writeTree } = require('./helpers/fixtures.cjs')
const { recorder } = require('./helpers/watch-recorder.cjs')

const PKG = JSON.stringify(require.resolve('..'))
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))


const fsWatchers = () => process.getActiveResourcesInfo().filter((r) => r === 'FSEventWrap').length
const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length

function appTree(extra = {}) {
  return writeTree({
    'app.js': "exports.lib = require('./lib')\n",
    'lib.js': 'module.exports = { version: 1 }\n',
    ...extra,
  })
}

test('a saved change reloads the entry: onReload gets the report and the new exports', async (t) => {
  const tree = appTree()
  const app = require(tree.file('app.js'))
  const rec = recorder()
  const watcher = watch({ entry: tree.file('app.js'), debounceMs: 10, ...rec.callbacks })
  t.after(() => watcher.close())
  assert.deepEqual(watcher.watchedFiles(), [tree.file('app.js'), tree.file('lib.js')])

  fs.writeFileSync(tree.file('lib.js'), 'module.exports = { version: 2 }\n')
  const event = await rec.next()
  assert.equal(event.type, 'reload')
  assert.deepEqual(event.report.removed, [tree.file('app.js'), tree.file('lib.js')])
  assert.notEqual(event.exports, app)
  assert.equal(event.exports.lib.version, 2)
  assert.equal(require(tree.file('app.js')), event.exports)
  assert.equal(require.cache[tree.file('app.js')].parent, module, 'required again from the file that called watch()')
})

test('the several events of one save make one reload', async (t) => {
  const tree = appTree()
  require(tree.file('app.js'))
  const rec = recorder()
  const watcher = watch({ entry: tree.file('app.js'), debounceMs: 100, ...rec.callbacks })
  t.after(() => watcher.close())
  // What editors do: truncate, write in pieces, touch the mode.
  const fd = fs.openSync(tree.file('lib.js'), 'w')
  fs.writeSync(fd, 'module.exports = ')
  await sleep(5)
  fs.writeSync(fd, '{ version: 3 }\n')
  fs.closeSync(fd)
  fs.chmodSync(tree.file('lib.js'), 0o644)
  const event = await rec.next()
  assert.equal(event.exports.lib.version, 3)
  await sleep(250)
  assert.equal(rec.pending(), 0, 'no second reload')
})

test('atomic saves (write a temp file, rename it over) are seen, again and again', async (t) => {
  const tree = appTree()
  require(tree.file('app.js'))
  const rec = recorder()
  const watcher = watch({ entry: tree.file('app.js'), debounceMs: 10, ...rec.callbacks })
  t.after(() => watcher.close())
  for (const version of [2, 3, 4]) {
    const temp = tree.file(`.lib.js.${version}.tmp`)
    fs.writeFileSync(temp, `module.exports = { version: ${version} }\n`)
    fs.renameSync(temp, tree.file('lib.js'))
    const event = await rec.next()
    assert.equal(event.type, 'reload')
    assert.equal(event.exports.lib.version, version)
  }
})

test('new code that throws: onError gets ERR_UNCACHE_RELOAD_FAILED, the old version runs on, a fix reloads', async (t) => {
  const tree = appTree()
  const app = require(tree.file('app.js'))
  const rec = recorder()
  const watcher = watch({ entry: tree.file('app.js'), debounceMs: 10, ...rec.callbacks })
  t.after(() => watcher.close())
  const keys = Object.keys(require.cache)
  fs.writeFileSync(tree.file('lib.js'), 'module.exports = {\n')
  const failed = await rec.next()
  assert.equal(failed.type, 'error')
  assert.equal(failed.error.code, 'ERR_UNCACHE_RELOAD_FAILED')
  assert.ok(failed.error.cause instanceof SyntaxError)
  assert.deepEqual(Object.keys(require.cache), keys)
  assert.equal(require(tree.file('app.js')), app)

  fs.writeFileSync(tree.file('lib.js'), 'module.exports = { version: 5 }\n')
  const fixed = await rec.next()
  assert.equal(fixed.type, 'reload')
  assert.equal(fixed.exports.lib.version, 5)
})

test('a deleted file fails the reload and keeps the old version; its return reloads', async (t) => {
  const tree = appTree()
  const app = require(tree.file('app.js'))
  const rec = recorder()
  const watcher = watch({ entry: tree.file('app.js'), debounceMs: 10, ...rec.callbacks })
  t.after(() => watcher.close())
  fs.renameSync(tree.file('lib.js'), tree.file('lib.js.bak'))
  const failed = await rec.next()
  assert.equal(failed.type, 'error')
  assert.equal(failed.error.cause.code, 'MODULE_NOT_FOUND')
  assert.equal(require(tree.file('app.js')), app)
  fs.writeFileSync(tree.file('lib.js'), 'module.exports = { version: 6 }\n')
  const back = await rec.next()
  assert.equal(back.exports.lib.version, 6)
})

test('node_modules is ignored unless asked for', async (t) => {
  const tree = writeTree({
    'app.js': "exports.dep = require('dep')\n",
    'node_modules/dep/index.js': 'module.exports = { version: 1 }\n',
  })
  require(tree.file('app.js'))
  const rec = recorder()
  const watcher = watch({ entry: tree.file('app.js'), debounceMs: 10, ...rec.callbacks })
  assert.deepEqual(watcher.watchedFiles(), [tree.file('app.js')])
  fs.writeFileSync(tree.file('node_modules/dep/index.js'), 'module.exports = { version: 2 }\n')
  await sleep(150)
  assert.equal(rec.pending(), 0)
  await watcher.close()

  const all = watch({ entry: tree.file('app.js'), debounceMs: 10, ignore: () => false, ...rec.callbacks })
  assert.deepEqual(all.watchedFiles(), [tree.file('app.js'), tree.file('node_modules/dep/index.js')])
  fs.writeFileSync(tree.file('node_modules/dep/index.js'), 'module.exports = { version: 3 }\n')
  const event = await rec.next()
  assert.equal(event.exports.dep.version, 3)
  await all.close()

  const named = watch({ entry: tree.file('app.js'), paths: tree.file('node_modules/dep'), debounceMs: 10, ...rec.callbacks })
  t.after(() => named.close())
  assert.deepEqual(named.watchedFiles(), [tree.file('node_modules/dep/index.js')], 'named in paths: watched')
  fs.writeFileSync(tree.file('node_modules/dep/index.js'), 'module.exports = { version: 4 }\n')
  assert.equal((await rec.next()).exports.dep.version, 4)
})

test('files loaded after a reload, or lazily later, are watched too', async (t) => {
  const tree = appTree({ 'extra.js': 'module.exports = { extra: 1 }\n', 'lazy.js': 'module.exports = { lazy: 1 }\n' })
  require(tree.file('app.js'))
  const rec = recorder()
  const watcher = watch({ entry: tree.file('app.js'), debounceMs: 10, ...rec.callbacks })
  t.after(() => watcher.close())
  fs.writeFileSync(
    tree.file('app.js'),
    "exports.lib = require('./lib')\nexports.extra = require('./extra')\nexports.load = () => require('./lazy')\n",
  )
  const first = await rec.next()
  assert.ok(watcher.watchedFiles().includes(tree.file('extra.js')))
  fs.writeFileSync(tree.file('extra.js'), 'module.exports = { extra: 2 }\n')
  const second = await rec.next()
  assert.equal(second.exports.extra.extra, 2)

  second.exports.load()
  await sleep(250)
  assert.ok(watcher.watchedFiles().includes(tree.file('lazy.js')), 'a lazy require from the tree is picked up')
  assert.ok(first.report.removed.includes(tree.file('app.js')))
})

test('paths: watches the given directories; a change of a loaded file there reloads', async (t) => {
  const tree = writeTree({
    'app.js': "exports.conf = require('./conf/settings')\n",
    'conf/settings.js': 'module.exports = { level: 1 }\n',
    'conf/node_modules/x.js': 'module.exports = {}\n',
  })
  require(tree.file('app.js'))
  const rec = recorder()
  const watcher = watch({ entry: tree.file('app.js'), paths: [tree.file('conf')], debounceMs: 10, ...rec.callbacks })
  t.after(() => watcher.close())
  assert.deepEqual(watcher.watchedFiles(), [tree.file('conf/settings.js')], 'the paths instead of the loaded files')
  fs.writeFileSync(tree.file('conf/new.js'), 'module.exports = {}\n')
  await sleep(100)
  assert.equal(rec.pending(), 0, 'a new file that nothing loads reloads nothing')
  assert.ok(watcher.watchedFiles().includes(tree.file('conf/new.js')))
  fs.writeFileSync(tree.file('conf/settings.js'), 'module.exports = { level: 2 }\n')
  const event = await rec.next()
  assert.equal(event.exports.conf.level, 2)
})

test('an edit of a declining module is refused and reported', async (t) => {
  const tree = writeTree({
    'app.js': "exports.state = require('./state')\n",
    'state.js': `const { hot } = require(${PKG})\nhot(module).decline()\nmodule.exports = { n: 1 }\n`,
  })
  const app = require(tree.file('app.js'))
  const rec = recorder()
  const watcher = watch({ entry: tree.file('app.js'), debounceMs: 10, ...rec.callbacks })
  t.after(() => watcher.close())
  fs.writeFileSync(tree.file('state.js'), 'module.exports = { n: 2 }\n')
  const event = await rec.next()
  assert.deepEqual(event.report.removed, [])
  assert.deepEqual(event.report.skipped, [
    { id: tree.file('state.js'), reason: 'declined', blocked: [tree.file('state.js')] },
  ])
  assert.equal(event.exports, app)
})

test('an entry not loaded yet is loaded by its first save; an onReload that throws goes to onError', async (t) => {
  const tree = writeTree({ 'later.js': 'module.exports = { n: 1 }\n' })
  const rec = recorder()
  let calls = 0
  const watcher = watch({
    entry: tree.file('later.js'),
    debounceMs: 10,
    onReload: (report, exports) => {
      calls++
      rec.callbacks.onReload(report, exports)
      throw new Error('onReload failed')
    },
    onError: rec.callbacks.onError,
  })
  t.after(() => watcher.close())
  assert.deepEqual(watcher.watchedFiles(), [tree.file('later.js')])
  fs.writeFileSync(tree.file('later.js'), 'module.exports = { n: 2 }\n')
  const loaded = await rec.next()
  assert.equal(loaded.type, 'reload')
  assert.deepEqual(loaded.exports, { n: 2 })
  assert.deepEqual(loaded.report.removed, [])
  const thrown = await rec.next()
  assert.equal(thrown.type, 'error')
  assert.equal(thrown.error.message, 'onReload failed')
  assert.equal(calls, 1)
})

test('close() returns a promise and releases every watcher; no callback after it', async () => {
  const baseline = fsWatchers()
  const tree = writeTree({ 'app.js': "require('./sub/a')\n", 'sub/a.js': '' })
  require(tree.file('app.js'))
  const rec = recorder()
  const watcher = watch({ entry: tree.file('app.js'), debounceMs: 10, ...rec.callbacks })
  assert.equal(fsWatchers(), baseline + 2, 'one watcher per directory')
  const closing = watcher.close()
  assert.ok(closing instanceof Promise)
  assert.equal(await closing, undefined)
  assert.equal(fsWatchers(), baseline)
  fs.writeFileSync(tree.file('sub/a.js'), 'exports.x = 1\n')
  await sleep(100)
  assert.equal(rec.pending(), 0)
  await watcher.close()
})

test('options are checked before anything is watched', () => {
  const tree = appTree()
  require(tree.file('app.js'))
  const baseline = fsWatchers()
  assert.throws(() => watch(), { code: 'ERR_INVALID_ARG_TYPE' })
  assert.throws(() => watch({}), { code: 'ERR_INVALID_ARG_TYPE' })
  assert.throws(() => watch({ entry: [tree.file('app.js')] }), { code: 'ERR_INVALID_ARG_TYPE' })
  assert.throws(() => watch({ entry: tree.file('app.js'), debounceMs: '5' }), { code: 'ERR_INVALID_ARG_TYPE' })
  assert.throws(() => watch({ entry: tree.file('app.js'), debounceMs: -1 }), {
    name: 'RangeError',
    code: 'ERR_INVALID_ARG_VALUE',
  })
  assert.throws(() => watch({ entry: tree.file('app.js'), onReload: 1 }), { code: 'ERR_INVALID_ARG_TYPE' })
  assert.throws(() => watch({ entry: tree.file('app.js'), onError: 'x' }), { code: 'ERR_INVALID_ARG_TYPE' })
  assert.throws(() => watch({ entry: tree.file('app.js'), ignore: 'node_modules' }), { code: 'ERR_INVALID_ARG_TYPE' })
  assert.throws(() => watch({ entry: tree.file('app.js'), paths: [3] }), { code: 'ERR_INVALID_ARG_TYPE' })
  assert.throws(() => watch({ entry: __filename }), { code: 'ERR_UNCACHE_MAIN' })
  assert.throws(() => watch({ entry: './nope', from: tree.file('app.js') }), { code: 'ERR_UNCACHE_UNRESOLVED' })
  assert.equal(fsWatchers(), baseline)
})

/** entry.js requires leaf.js, which holds ~80 KB and an interval that its dispose handler stops. */
function soakTree(options) {
  return writeTree({
    'entry.js': "exports.leaf = require('./leaf')\n",
    'leaf.js': leafSource(0, options),
  })
}

function leafSource(version, { interval = true } = {}) {
  return `
    const { hot } = require(${PKG})
    const payload = new Array(10000).fill(${version})
    ${interval ? 'const timer = setInterval(() => {}, 60000)' : ''}
    ${interval ? 'hot(module).dispose(() => clearInterval(timer))' : ''}
    module.exports = { version: ${version}, payload }
  `
}

const SOAK_RELOADS = 1000

/**
 * heapUsed after a last-resort collection. V8 (Node >= 22) keeps every compiled source version
 * in its compilation cache (about 2 KB each) until memory pressure: regular collections never
 * empty it, so heapUsed after forceGc() grows by ~2 MB per 1,000 distinct versions even though
 * nothing of the old generations is reachable (the same run with --no-compilation-cache stays
 * flat, and a heap snapshot, whose collection empties the cache, shows none of it). A last-resort
 * collection is what V8 does under memory pressure: what is left is what the process holds.
 */
async function retainedHeap() {
  forceGc() // makes `gc` available without --expose-gc
  const collect = vm.runInNewContext('gc')
  for (let i = 0; i < 2; i++) {
    await sleep(0)
    collect({ type: 'major', execution: 'sync', flavor: 'last-resort' })
  }
  return process.memoryUsage().heapUsed
}

test(`soak: ${SOAK_RELOADS} watch reloads leave <= 1 old generation, < 2 MB of heap, no interval`, async (t) => {
  const tree = soakTree()
  const timersBefore = timers()
  require(tree.file('entry.js'))
  const rec = recorder()
  const watcher = watch({ entry: tree.file('entry.js'), debounceMs: 1, ...rec.callbacks })
  t.after(async () => {
    await watcher.close()
    uncacheTree(tree.file('entry.js')) // stops the last interval, so the process can exit
  })
  const generations = []
  let baseline
  const started = Date.now()
  for (let version = 1; version <= SOAK_RELOADS; version++) {
    generations.push(new WeakRef(require.cache[tree.file('leaf.js')]))
    fs.writeFileSync(tree.file('leaf.js'), leafSource(version))
    const event = await rec.next()
    assert.equal(event.type, 'reload', event.error?.stack)
    assert.equal(event.exports.leaf.version, version)
    if (version === 50) baseline = await retainedHeap()
  }
  const elapsed = Date.now() - started
  const growth = (await retainedHeap()) - baseline
  const alive = generations.filter((ref) => ref.deref() !== undefined).length
  t.diagnostic(
    `${SOAK_RELOADS} reloads in ${elapsed} ms; old generations alive: ${alive}; ` +
      `heap growth after reload 50: ${(growth / 1024).toFixed(0)} KiB`,
  )
  assert.ok(alive <= 1, `${alive} old generations survived`)
  assert.ok(growth < 2 * 1024 * 1024, `heap grew by ${growth} bytes`)
  assert.equal(timers(), timersBefore + 1, 'only the current generation has an interval')
})

test('the same check catches a leaking reload (delete require.cache + require, as decache does)', async () => {
  const tree = soakTree({ interval: false })
  require(tree.file('entry.js'))
  const generations = []
  for (let version = 1; version <= 50; version++) {
    generations.push(new WeakRef(require.cache[tree.file('leaf.js')]))
    fs.writeFileSync(tree.file('leaf.js'), leafSource(version, { interval: false }))
    // no dispose, no cuts: main's children keep every entry generation, and each its leaf
    for (const name of ['entry.js', 'leaf.js']) delete require.cache[tree.file(name)]
    assert.equal(require(tree.file('entry.js')).leaf.version, version)
  }
  for (let i = 0; i < 4; i++) {
    await sleep(0)
    forceGc()
  }
  const alive = generations.filter((ref) => ref.deref() !== undefined).length
  assert.ok(alive > 40, `the naive reload keeps generations alive (${alive} of 50)`)
})
