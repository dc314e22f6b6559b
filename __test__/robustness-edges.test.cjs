'use strict'
// Issue 8, items 8, 10 and 11: option names are checked (a typo never really unloads), every URL
// that is not a file: URL of this host is one kind of error wherever it is given, two copies of
// the package in one process share reports and error identity, and watch() survives a watched
// directory being deleted and made again, and can poll where fs.watch hears nothing.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { pathToFileURL } = require('node:url')
const uncache = require('..')
const { uncacheTree, invalidate, reload, snapshot, isolate, watch, verifyCollected, explainRetainers, UncacheError } = uncache
const { createMochaHooks } = require('../mocha.js')
const { writeTree } = require('./helpers/fixtures.cjs')
const { recorder } = require('./helpers/watch-recorder.cjs')

const ROOT = path.join(__dirname, '..')
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const fsWatchers = () => process.getActiveResourcesInfo().filter((r) => r === 'FSEventWrap').length
const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length

/** A loaded two-module tree and a snapshot of what must not change. */
function loadedTree() {
  const tree = writeTree({ 'app.js': "exports.lib = require('./lib')\n", 'lib.js': 'exports.v = 1\n' })
  const app = require(tree.file('app.js'))
  const lib = require.cache[tree.file('lib.js')]
  const unchanged = () => {
    assert.equal(require.cache[tree.file('app.js')].exports, app, 'app.js still loaded, same instance')
    assert.equal(require.cache[tree.file('lib.js')], lib, 'lib.js still loaded, same instance')
    assert.ok(require.cache[tree.file('app.js')].children.includes(lib))
  }
  return { tree, app, unchanged }
}

/** The exact RangeError of an unknown option. */
function unknownOption(option, api, guess, known) {
  const hint = guess === undefined ? '' : ` \\(did you mean '${guess}'\\?\\)`
  const list = known.map((k) => `'${k}'`).join(', ')
  const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  return {
    name: 'RangeError',
    code: 'ERR_INVALID_ARG_VALUE',
    message: new RegExp(`^The argument 'options\\.${escape(option)}' is not an option of ${escape(api)}${hint}; its options are ${escape(list)}\\. Received `),
  }
}

// ---------------------------------------------------------------------------------------------
// Item 8: options

test('item 8: an unknown option of uncacheTree, invalidate or reload is a RangeError naming the closest option; nothing is unloaded', () => {
  const { tree, unchanged } = loadedTree()
  const target = tree.file('lib.js')
  assert.throws(() => uncacheTree(target, { dryrun: true }), unknownOption('dryrun', 'uncacheTree()', 'dryRun', ['from', 'shared', 'keep', 'dryRun']))
  assert.throws(() => uncacheTree(target, { sharde: 'remove' }), unknownOption('sharde', 'uncacheTree()', 'shared', ['from', 'shared', 'keep', 'dryRun']))
  assert.throws(() => invalidate(target, { dryrun: true }), unknownOption('dryrun', 'invalidate()', 'dryRun', ['from', 'keep', 'dryRun']))
  assert.throws(() => invalidate(target, { Keep: /x/ }), unknownOption('Keep', 'invalidate()', 'keep', ['from', 'keep', 'dryRun']))
  const reloadKnown = ['from', 'keep', 'shared', 'tree', 'dryRun']
  assert.throws(() => reload(target, { trees: false }), unknownOption('trees', 'reload()', 'tree', reloadKnown))
  assert.throws(() => reload(target, { fromFile: __filename }), unknownOption('fromFile', 'reload()', 'from', reloadKnown))
  unchanged()
})

test('item 8: an unknown option of snapshot, isolate or the per-test hooks throws before anything runs', () => {
  let ran = false
  assert.throws(() => snapshot({ keeps: /x/ }), unknownOption('keeps', 'snapshot()', 'keep', ['keep', 'onRestore']))
  assert.throws(
    () => isolate(() => (ran = true), { onrestore: () => {} }),
    unknownOption('onrestore', 'isolate()', 'onRestore', ['keep', 'onRestore']),
  )
  assert.equal(ran, false, 'fn is not called')
  assert.throws(() => createMochaHooks({ kep: /x/ }), unknownOption('kep', 'isolateEach()', 'keep', ['keep', 'onRestore', 'per']))
})

test('item 8: an unknown option of watch (and of watch poll) throws before anything is watched', () => {
  const { tree } = loadedTree()
  const entry = tree.file('app.js')
  const baseline = fsWatchers()
  const known = ['entry', 'paths', 'ignore', 'debounceMs', 'from', 'poll', 'onReload', 'onError']
  assert.throws(() => watch({ entry, debounce: 5 }), unknownOption('debounce', 'watch()', 'debounceMs', known))
  assert.throws(() => watch({ entry, usePolling: true }), unknownOption('usePolling', 'watch()', 'poll', known))
  assert.throws(() => watch({ entry, ignored: /x/ }), unknownOption('ignored', 'watch()', 'ignore', known))
  assert.throws(
    () => watch({ entry, poll: { interval: 10 } }),
    unknownOption('poll.interval', 'watch() options.poll', 'intervalMs', ['intervalMs']),
  )
  assert.throws(() => watch({ entry, poll: 'yes' }), {
    name: 'TypeError',
    code: 'ERR_INVALID_ARG_TYPE',
    message: /^The "options\.poll" argument must be a boolean or an object \{ intervalMs\?: number \}/,
  })
  assert.throws(() => watch({ entry, poll: { intervalMs: 0 } }), {
    name: 'RangeError',
    code: 'ERR_INVALID_ARG_VALUE',
    message: "The argument 'options.poll.intervalMs' must be a finite number >= 1. Received 0",
  })
  assert.equal(fsWatchers(), baseline)
})

test('item 8: an unknown option of verifyCollected or explainRetainers rejects', async () => {
  const { tree } = loadedTree()
  const report = uncacheTree(tree.file('app.js'), { dryRun: true })
  await assert.rejects(verifyCollected(report, { timeout: 10 }), unknownOption('timeout', 'verifyCollected()', 'timeoutMs', ['timeoutMs']))
  await assert.rejects(
    explainRetainers(tree.file('app.js'), { snapshotFile: 'x.heapsnapshot' }),
    unknownOption('snapshotFile', 'explainRetainers()', 'snapshot', ['snapshot']),
  )
})

test('item 8: an unknown option with no close name lists the known ones, with no guess', () => {
  const { tree, unchanged } = loadedTree()
  assert.throws(() => uncacheTree(tree.file('lib.js'), { recursive: true }), {
    name: 'RangeError',
    code: 'ERR_INVALID_ARG_VALUE',
    message: "The argument 'options.recursive' is not an option of uncacheTree(); its options are 'from', 'shared', 'keep', 'dryRun'. Received true",
  })
  // An option set to undefined is still a name the function does not know.
  assert.throws(() => invalidate(tree.file('lib.js'), { dryrun: undefined }), unknownOption('dryrun', 'invalidate()', 'dryRun', ['from', 'keep', 'dryRun']))
  unchanged()
  // Symbol keys are not option names.
  const report = uncacheTree(tree.file('lib.js'), { dryRun: true, [Symbol('tag')]: 1 })
  assert.deepEqual(report.removed, [tree.file('lib.js')])
  unchanged()
})

test('item 8: reload knows tree (a boolean) and shared', () => {
  const { tree, unchanged } = loadedTree()
  assert.throws(() => reload(tree.file('lib.js'), { tree: 'no' }), {
    name: 'TypeError',
    code: 'ERR_INVALID_ARG_TYPE',
    message: 'The "options.tree" argument must be of type boolean. Received type string (\'no\')',
  })
  assert.throws(() => reload(tree.file('lib.js'), { shared: 'sometimes' }), {
    name: 'RangeError',
    code: 'ERR_INVALID_ARG_VALUE',
    message: "The argument 'options.shared' must be 'keep' or 'remove'. Received 'sometimes'",
  })
  unchanged()
  fs.writeFileSync(tree.file('lib.js'), 'exports.v = 2\n')
  const { exports } = reload(tree.file('lib.js'), { tree: false })
  assert.equal(exports.v, 2)
  assert.equal(require(tree.file('lib.js')), exports)
  fs.writeFileSync(tree.file('lib.js'), 'exports.v = 3\n')
  assert.equal(reload(tree.file('lib.js'), { tree: true, shared: 'keep' }).exports.v, 3)
})

/** Every URL shape that is not a file: URL of this host: as given, as the message shows it, and why. */
const notFile = (scheme) => `must be a file: URL of this host (file:///path/to/file.js) or a path: '${scheme}' URLs cannot be required`
const otherHost = "names a file on another host ('otherhost'): only file:///… (or file://localhost/…) names a file of this machine"
const FOREIGN_URLS = [
  ['http URL object', new URL('http://example.com/app.js'), 'http://example.com/app.js', notFile('http:')],
  ['http string', 'http://example.com/app.js', 'http://example.com/app.js', notFile('http:')],
  ['data string', 'data:text/javascript,1', 'data:text/javascript,1', notFile('data:')],
  ['file://otherhost URL object', new URL('file://otherhost/app.js'), 'file://otherhost/app.js', otherHost],
  ['file://otherhost string', 'file://otherhost/app.js', 'file://otherhost/app.js', otherHost],
]

/** The exact RangeError for `href` given as argument `name`. */
function foreignUrl(name, href, reason) {
  return { name: 'RangeError', code: 'ERR_INVALID_ARG_VALUE', message: `The argument '${name}' ${reason}. Received '${href}'` }
}

test('item 8: a URL that is not a file: URL of this host is ERR_INVALID_ARG_VALUE as a target, URL object or string', () => {
  const { tree, unchanged } = loadedTree()
  for (const [what, url, href, reason] of FOREIGN_URLS) {
    for (const [fn, call] of [
      ['uncacheTree', () => uncacheTree(url)],
      ['uncacheTree, second element of an array', () => uncacheTree([tree.file('lib.js'), url])],
      ['invalidate', () => invalidate(url)],
      ['invalidate, second element of an array', () => invalidate([tree.file('lib.js'), url])],
      ['reload', () => reload(url)],
    ]) {
      assert.throws(call, foreignUrl('target', href, reason), `${fn}(${what})`)
    }
  }
  unchanged()
})

test('item 8: the same URLs as options.from, watch entry, watch paths and explainRetainers snapshot: the same error', async () => {
  const { tree, unchanged } = loadedTree()
  const baseline = fsWatchers()
  for (const [what, url, href, reason] of FOREIGN_URLS) {
    assert.throws(() => uncacheTree('./lib', { from: url }), foreignUrl('options.from', href, reason), `uncacheTree from ${what}`)
    assert.throws(() => invalidate('./lib', { from: url }), foreignUrl('options.from', href, reason), `invalidate from ${what}`)
    assert.throws(() => reload('./lib', { from: url }), foreignUrl('options.from', href, reason), `reload from ${what}`)
    assert.throws(() => watch({ entry: url }), foreignUrl('options.entry', href, reason), `watch entry ${what}`)
    assert.throws(() => watch({ entry: './app', from: url }), foreignUrl('options.from', href, reason), `watch from ${what}`)
    assert.throws(
      () => watch({ entry: tree.file('app.js'), paths: [tree.dir, url] }),
      foreignUrl('options.paths', href, reason),
      `watch paths ${what}`,
    )
    await assert.rejects(explainRetainers(tree.file('app.js'), { snapshot: url }), foreignUrl('options.snapshot', href, reason))
  }
  assert.equal(fsWatchers(), baseline, 'nothing was watched')
  unchanged()
})

test('item 8: file://localhost/ and file:/// URLs of this host work everywhere; node: stays a built-in', () => {
  const { tree } = loadedTree()
  assert.throws(() => uncacheTree('node:fs'), { name: 'UncacheError', code: 'ERR_UNCACHE_BUILTIN' })
  const localhost = new URL(`file://localhost${pathToFileURL(tree.file('lib.js')).pathname}`)
  assert.deepEqual(uncacheTree(localhost, { dryRun: true }).removed, [tree.file('lib.js')])
  assert.deepEqual(uncacheTree(localhost.href, { dryRun: true }).removed, [tree.file('lib.js')])
  const from = `file://localhost${pathToFileURL(tree.file('app.js')).pathname}`
  assert.deepEqual(uncacheTree('./lib', { from, dryRun: true }).removed, [tree.file('lib.js')])
  assert.deepEqual(uncacheTree(pathToFileURL(tree.file('app.js'))).removed, [tree.file('app.js'), tree.file('lib.js')])
})

// ---------------------------------------------------------------------------------------------
// Item 10: two copies of the package in one process

/** A second copy of the package (index.js, lib/, package.json, the binary) in a temp dir, loaded. */
function secondCopy() {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'uncache-tree-copy-')))
  fs.cpSync(path.join(ROOT, 'lib'), path.join(dir, 'lib'), { recursive: true })
  for (const name of fs.readdirSync(ROOT)) {
    if (name === 'index.js' || name === 'package.json' || name.endsWith('.node')) fs.copyFileSync(path.join(ROOT, name), path.join(dir, name))
  }
  const copy = require(path.join(dir, 'index.js'))
  assert.notEqual(copy, uncache, 'a distinct copy')
  assert.notEqual(copy.verifyCollected, verifyCollected)
  return copy
}

let other
const copy = () => (other ??= secondCopy())

test('item 10: a report from one copy verifies with the other copy’s verifyCollected, both ways', async () => {
  const b = copy()
  const tree = writeTree({ 'a.js': "require('./b')\n", 'b.js': 'exports.big = new Array(1000).fill(1)\n', 'c.js': '' })
  require(tree.file('a.js'))
  const fromThis = uncacheTree(tree.file('a.js'))
  assert.deepEqual(await b.verifyCollected(fromThis), { collected: [tree.file('a.js'), tree.file('b.js')], alive: [] })
  require(tree.file('c.js'))
  const fromCopy = b.uncacheTree(tree.file('c.js'))
  assert.deepEqual(fromCopy.removed, [tree.file('c.js')])
  assert.deepEqual(await verifyCollected(fromCopy), { collected: [tree.file('c.js')], alive: [] })
  // A dry run of the other copy is known too: nothing to verify.
  require(tree.file('c.js'))
  assert.deepEqual(await verifyCollected(b.uncacheTree(tree.file('c.js'), { dryRun: true })), { collected: [], alive: [] })
  // What is not a report of either copy is still refused, with the message about copies.
  await assert.rejects(b.verifyCollected(JSON.parse(JSON.stringify(fromThis))), {
    name: 'RangeError',
    code: 'ERR_INVALID_ARG_VALUE',
    message:
      "The argument 'report' must be the report object an unload call returned in this process (a copy, e.g. from JSON or structuredClone, has no weak references to check). Received '[object]'",
  })
})

test('item 10: a module kept alive is reported alive by the other copy', async () => {
  const b = copy()
  const tree = writeTree({ 'held.js': 'exports.x = 1\n' })
  const held = require(tree.file('held.js'))
  const heldModule = require.cache[tree.file('held.js')]
  const report = b.uncacheTree(tree.file('held.js'))
  assert.deepEqual(await verifyCollected(report, { timeoutMs: 200 }), { collected: [], alive: [tree.file('held.js')] })
  assert.equal(heldModule.exports, held)
})

test('item 10: instanceof UncacheError holds for the errors of every copy; subclasses and look-alikes stay apart', () => {
  const b = copy()
  assert.notEqual(b.UncacheError, UncacheError)
  let fromThis
  let fromCopy
  try {
    uncacheTree('node:fs')
  } catch (error) {
    fromThis = error
  }
  try {
    b.uncacheTree('node:fs')
  } catch (error) {
    fromCopy = error
  }
  assert.equal(fromThis.code, 'ERR_UNCACHE_BUILTIN')
  assert.equal(fromCopy.code, 'ERR_UNCACHE_BUILTIN')
  assert.ok(fromThis instanceof UncacheError)
  assert.ok(fromThis instanceof b.UncacheError, "this copy's error is an instance of the other copy's class")
  assert.ok(fromCopy instanceof UncacheError, "the other copy's error is an instance of this copy's class")
  assert.ok(fromCopy instanceof Error)
  // The brand is not an own, enumerable or JSON-visible property.
  assert.deepEqual(Object.keys(fromThis), ['code', 'id'])
  assert.deepEqual(Object.getOwnPropertySymbols(fromThis), [])
  // Look-alikes are not UncacheErrors.
  const lookAlike = Object.assign(new Error('x'), { name: 'UncacheError', code: 'ERR_UNCACHE_BUILTIN' })
  assert.equal(lookAlike instanceof UncacheError, false)
  assert.equal(null instanceof UncacheError, false)
  assert.equal('ERR_UNCACHE_BUILTIN' instanceof UncacheError, false)
  // A subclass keeps ordinary instanceof.
  class Sub extends UncacheError {}
  const sub = new Sub('ERR_X', 'm')
  assert.ok(sub instanceof Sub)
  assert.ok(sub instanceof UncacheError)
  assert.ok(sub instanceof b.UncacheError)
  assert.equal(fromThis instanceof Sub, false)
  assert.equal(fromCopy instanceof Sub, false)
})

test('item 10: a registry state made by an older copy (no report tracking field) gains it on first use', async () => {
  const state = globalThis[Symbol.for('uncache-tree.state.v1')]
  assert.ok(state.reportTracking instanceof WeakMap)
  delete state.reportTracking // as an older copy's state object has it
  const tree = writeTree({ 'x.js': 'exports.x = 1\n' })
  require(tree.file('x.js'))
  const report = uncacheTree(tree.file('x.js'))
  assert.ok(state.reportTracking instanceof WeakMap)
  assert.deepEqual(await copy().verifyCollected(report), { collected: [tree.file('x.js')], alive: [] })
})

// ---------------------------------------------------------------------------------------------
// Item 11: watch() after a directory is deleted and re-created; polling


function distTree() {
  return writeTree({
    'app.js': "exports.lib = require('./dist/lib')\n",
    'dist/lib.js': "exports.version = 1\nexports.helper = require('./helper')\n",
    'dist/helper.js': "exports.name = 'helper-1'\n",
  })
}

/** `rm -rf dist`, then (after `gapMs`) what tsc does: make the directory, write every file. */
async function rebuild(tree, version, gapMs) {
  fs.rmSync(tree.file('dist'), { recursive: true })
  if (gapMs > 0) await sleep(gapMs)
  fs.mkdirSync(tree.file('dist'))
  fs.writeFileSync(tree.file('dist/lib.js'), `exports.version = ${version}\nexports.helper = require('./helper')\n`)
  fs.writeFileSync(tree.file('dist/helper.js'), `exports.name = 'helper-${version}'\n`)
}

async function expectReload(rec, tree, version) {
  const event = await rec.next()
  assert.equal(event.type, 'reload', event.error?.stack)
  assert.equal(event.exports.lib.version, version)
  assert.equal(event.exports.lib.helper.name, `helper-${version}`)
  assert.equal(require(tree.file('app.js')), event.exports, 'the new exports are served')
  return event
}

test('item 11: a watched directory deleted and re-created at once (rm -rf dist && tsc): later saves still reload', async (t) => {
  const tree = distTree()
  require(tree.file('app.js'))
  const baseline = fsWatchers()
  const rec = recorder()
  const watcher = watch({ entry: tree.file('app.js'), debounceMs: 30, ...rec.callbacks })
  t.after(() => watcher.close())
  assert.equal(fsWatchers(), baseline + 2)

  await rebuild(tree, 2, 0)
  const first = await expectReload(rec, tree, 2)
  assert.deepEqual(first.report.removed.sort(), [tree.file('app.js'), tree.file('dist/helper.js'), tree.file('dist/lib.js')].sort())
  await sleep(150) // let the last events of the old watcher arrive
  while (rec.pending() > 0) assert.equal((await rec.next()).type, 'reload')
  // A later plain save is heard: the new directory is watched.
  fs.writeFileSync(tree.file('dist/helper.js'), "exports.name = 'helper-3'\n")
  fs.writeFileSync(tree.file('dist/lib.js'), "exports.version = 3\nexports.helper = require('./helper')\n")
  await expectReload(rec, tree, 3)
  assert.equal(fsWatchers(), baseline + 2, 'the watcher of the deleted directory was replaced, not added to')
  await watcher.close()
  assert.equal(fsWatchers(), baseline)
})

test('item 11: a watched directory gone for a while is waited for (no reload without it), then watched again', async (t) => {
  const tree = distTree()
  require(tree.file('app.js'))
  const baseline = fsWatchers()
  const timersBefore = timers()
  const rec = recorder()
  const watcher = watch({ entry: tree.file('app.js'), debounceMs: 20, ...rec.callbacks })
  t.after(() => watcher.close())

  fs.rmSync(tree.file('dist'), { recursive: true })
  await sleep(400) // longer than the debounce: the old code would have reloaded and failed here
  assert.equal(rec.pending(), 0, 'no reload or error while the directory is gone')
  assert.equal(require(tree.file('app.js')).lib.version, 1, 'the old version keeps running')
  assert.deepEqual(watcher.watchedFiles(), [tree.file('app.js'), tree.file('dist/helper.js'), tree.file('dist/lib.js')])

  fs.mkdirSync(tree.file('dist'))
  fs.writeFileSync(tree.file('dist/lib.js'), "exports.version = 2\nexports.helper = require('./helper')\n")
  fs.writeFileSync(tree.file('dist/helper.js'), "exports.name = 'helper-2'\n")
  await expectReload(rec, tree, 2)
  await sleep(150)
  while (rec.pending() > 0) assert.equal((await rec.next()).type, 'reload')

  fs.writeFileSync(tree.file('dist/helper.js'), "exports.name = 'helper-3'\n")
  fs.writeFileSync(tree.file('dist/lib.js'), "exports.version = 3\nexports.helper = require('./helper')\n")
  await expectReload(rec, tree, 3)
  assert.equal(fsWatchers(), baseline + 2)
  await watcher.close()
  assert.equal(fsWatchers(), baseline)
  assert.equal(timers(), timersBefore, 'no retry or flush timer left')
})

test('item 11: with paths, a watched directory deleted and re-created is watched again, new files included', async (t) => {
  const tree = distTree()
  require(tree.file('app.js'))
  const rec = recorder()
  const watcher = watch({ entry: tree.file('app.js'), paths: [tree.file('dist')], debounceMs: 20, ...rec.callbacks })
  t.after(() => watcher.close())
  assert.deepEqual(watcher.watchedFiles(), [tree.file('dist/helper.js'), tree.file('dist/lib.js')])

  await rebuild(tree, 2, 200)
  await expectReload(rec, tree, 2)
  await sleep(150)
  while (rec.pending() > 0) assert.equal((await rec.next()).type, 'reload')
  fs.writeFileSync(tree.file('dist/extra.js'), "exports.extra = 'yes'\n")
  await sleep(150)
  assert.deepEqual(watcher.watchedFiles(), [tree.file('dist/extra.js'), tree.file('dist/helper.js'), tree.file('dist/lib.js')])
  fs.writeFileSync(tree.file('dist/helper.js'), "exports.name = 'helper-3'\n")
  fs.writeFileSync(tree.file('dist/lib.js'), "exports.version = 3\nexports.helper = require('./helper')\n")
  await expectReload(rec, tree, 3)
})

test('item 11: poll mode picks up saves with fs.watch not used at all', async (t) => {
  const tree = distTree()
  const app = require(tree.file('app.js'))
  t.mock.method(fs, 'watch', () => {
    throw new Error('fs.watch must not be used with poll')
  })
  const baseline = fsWatchers()
  const timersBefore = timers()
  const rec = recorder()
  const watcher = watch({ entry: tree.file('app.js'), poll: { intervalMs: 20 }, debounceMs: 10, ...rec.callbacks })
  assert.equal(fsWatchers(), baseline, 'no fs.watch handle')
  assert.deepEqual(watcher.watchedFiles(), [tree.file('app.js'), tree.file('dist/helper.js'), tree.file('dist/lib.js')])
  assert.equal(fs.watch.mock.callCount(), 0)

  fs.writeFileSync(tree.file('dist/helper.js'), "exports.name = 'helper-2'\n")
  const event = await rec.next()
  assert.equal(event.type, 'reload', event.error?.stack)
  assert.deepEqual(event.report.removed, [tree.file('app.js'), tree.file('dist/lib.js'), tree.file('dist/helper.js')])
  assert.notEqual(event.exports, app)
  assert.equal(event.exports.lib.helper.name, 'helper-2')
  assert.equal(require(tree.file('app.js')), event.exports)

  // A second save of the same size right after: told apart by contents, not by stat alone.
  fs.writeFileSync(tree.file('dist/helper.js'), "exports.name = 'helper-3'\n")
  const second = await rec.next()
  assert.equal(second.exports.lib.helper.name, 'helper-3')

  // rm -rf dist && tsc under polling too.
  await rebuild(tree, 4, 100)
  await expectReload(rec, tree, 4)
  await sleep(100)
  while (rec.pending() > 0) assert.equal((await rec.next()).type, 'reload')
  assert.equal(fs.watch.mock.callCount(), 0, 'fs.watch was never called')
  assert.equal(fsWatchers(), baseline)
  await watcher.close()
  assert.equal(timers(), timersBefore, 'close() stops the poll timer')
})

test('item 11: poll with paths sees a new file, and poll: true uses the default interval', async (t) => {
  const tree = distTree()
  require(tree.file('app.js'))
  t.mock.method(fs, 'watch', () => {
    throw new Error('fs.watch must not be used with poll')
  })
  const rec = recorder()
  const watcher = watch({ entry: tree.file('app.js'), paths: [tree.dir], poll: true, debounceMs: 10, ...rec.callbacks })
  t.after(() => watcher.close())
  assert.deepEqual(watcher.watchedFiles(), [tree.file('app.js'), tree.file('dist/helper.js'), tree.file('dist/lib.js')])
  fs.mkdirSync(tree.file('dist/more'))
  fs.writeFileSync(tree.file('dist/more/new.js'), 'exports.fresh = true\n')
  await sleep(500)
  assert.deepEqual(watcher.watchedFiles(), [tree.file('app.js'), tree.file('dist/helper.js'), tree.file('dist/lib.js'), tree.file('dist/more/new.js')])
  assert.equal(rec.pending(), 0, 'a new file nobody loads is not a reload')
  fs.writeFileSync(tree.file('dist/lib.js'), "exports.version = 5\nexports.helper = require('./helper')\nexports.more = require('./more/new')\n")
  const event = await rec.next()
  assert.equal(event.type, 'reload', event.error?.stack)
  assert.equal(event.exports.lib.version, 5)
  assert.equal(event.exports.lib.more.fresh, true)
  assert.equal(fs.watch.mock.callCount(), 0)
})

for (const poll of [false, true]) {
  test(`item 11: a paths entry missing when watch() starts is watched once it exists${poll ? ' (poll)' : ''}`, async (t) => {
    // other/ holds nothing watched, so no directory watcher or poll of a directory sees later.js.
    const tree = writeTree({ 'app.js': "exports.lib = require('./lib.js')\n", 'lib.js': 'exports.v = 1\n', 'other/README': '' })
    require(tree.file('app.js'))
    const rec = recorder()
    const later = tree.file('other/later.js')
    const watcher = watch({ entry: tree.file('app.js'), paths: [tree.file('lib.js'), later], poll: poll && { intervalMs: 20 }, debounceMs: 10, ...rec.callbacks })
    t.after(() => watcher.close())
    assert.deepEqual(watcher.watchedFiles(), [tree.file('lib.js')])
    fs.writeFileSync(later, 'exports.later = 1\n')
    await sleep(400)
    assert.deepEqual(watcher.watchedFiles(), [tree.file('lib.js'), later])
    assert.equal(rec.pending(), 0, 'a new file nobody loads is not a reload')
    fs.writeFileSync(tree.file('app.js'), "exports.lib = require('./lib.js')\nexports.later = require('./other/later.js')\n")
    fs.writeFileSync(tree.file('lib.js'), 'exports.v = 2\n')
    const event = await rec.next()
    assert.equal(event.type, 'reload', event.error?.stack)
    assert.equal(event.exports.lib.v, 2)
    fs.writeFileSync(later, 'exports.later = 2\n')
    const second = await rec.next()
    assert.equal(second.type, 'reload', second.error?.stack)
    assert.deepEqual(second.report.removed, [tree.file('app.js'), later])
  })
}
