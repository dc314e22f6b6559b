'use strict'
// Other loader libraries inside isolate() (the real proxyquire, rewire and mock-require), what
// this package holds once a call returns (synchronous loops measured in a child process with
// --expose-gc), the bound on hot data, a failed reload put back exactly, and copies of this
// package built from earlier commits working beside this one in one process.
const test = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const { spawnSync } = require('node:child_process')
const Module = require('node:module')
const fs = require('node:fs')
const { isolate, hot, uncacheTree, verifyCollected, reload } = require('..')
const { settleGc } = require('../lib/proof/gc.js')
const { writeTree } = require('./helpers/fixtures.cjs')

const PACKAGE = path.join(__dirname, '..')
const ISOLATES = 40

/** Runs `source` in a child Node (this one's binary) with --expose-gc; returns its JSON output. */
function runChild(source, args = []) {
  const t = writeTree({ 'main.js': source })
  const r = spawnSync(process.execPath, ['--expose-gc', ...args, t.file('main.js')], {
    encoding: 'utf8',
    env: { ...process.env, UNCACHE_TREE: PACKAGE, NODE_TEST_CONTEXT: undefined },
  })
  assert.equal(r.status, 0, `child failed (status ${r.status}, signal ${r.signal}):\n${r.stderr}\n${r.stdout}`)
  const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '))
  assert.ok(line !== undefined, `no RESULT line in:\n${r.stdout}\n${r.stderr}`)
  return JSON.parse(line.slice('RESULT '.length))
}

// ---- proxyquire / rewire / mock-require inside isolate() (issue 16 item 5) ----

/**
 * subject.js counts its dispose handlers and its instances (weakly, through a
 * FinalizationRegistry, so that the count holds nothing); harness.js is the requirer that the
 * libraries load the copies for, loaded before every isolate.
 */
function interopFixture() {
  const t = writeTree({
    'dep.js': "module.exports = { name: 'real dep' }\n",
    'subject.js': [
      `const { hot } = require(${JSON.stringify(PACKAGE)})`,
      "const dep = require('./dep.js')",
      'const counts = globalThis.__interopCounts',
      'counts.loaded++',
      'counts.alive++',
      'counts.registry.register(module, null)',
      'hot(module).dispose(() => { counts.disposed++ })',
      'let secret = "private"',
      'module.exports = { dep, secret: () => secret }',
      '',
    ].join('\n'),
    'harness.js': [
      `const proxyquire = require(${JSON.stringify(require.resolve('proxyquire'))})`,
      `const rewire = require(${JSON.stringify(require.resolve('rewire'))})`,
      `const mock = require(${JSON.stringify(require.resolve('mock-require'))})`,
      "const path = require('node:path')",
      "const subject = path.join(__dirname, 'subject.js')",
      "const dep = path.join(__dirname, 'dep.js')",
      'module.exports = {',
      "  proxyquire: () => proxyquire(subject, { './dep.js': { name: 'stub' } }),",
      "  proxyquireGlobal: () => proxyquire(subject, { './dep.js': { name: 'stub', '@global': true } }),",
      '  rewire: () => rewire(subject),',
      '  rewireDep: () => rewire(dep),',
      "  mockRequire: () => { mock(dep, { name: 'stub' }); try { return require(subject) } finally { mock.stopAll() } },",
      '}',
      '',
    ].join('\n'),
  })
  return t
}

/**
 * Calls `load` in ISOLATES isolates; returns their restore reports. A function of its own: the
 * exports it checks must not stay in the suspended frame of the async test (rewire's `__get__`
 * closes over the whole module scope, `module` included).
 */
function loadInIsolates(load, stubbed) {
  const reports = []
  for (let i = 0; i < ISOLATES; i++) {
    const exports = isolate(load, { onRestore: (report) => reports.push(report) })
    assert.equal(exports.dep.name, stubbed ? 'stub' : 'real dep')
    if (typeof exports.__get__ === 'function') assert.equal(exports.__get__('secret'), 'private')
  }
  return reports
}

function newCounts() {
  const counts = { loaded: 0, alive: 0, disposed: 0 }
  counts.registry = new FinalizationRegistry(() => counts.alive--)
  return counts
}

for (const [name, call, stubbed] of [
  ['proxyquire', 'proxyquire', true],
  ["proxyquire with '@global' stubs", 'proxyquireGlobal', true],
  ['rewire', 'rewire', false],
  ['mock-require', 'mockRequire', true],
]) {
  test(`I16-5: ${name} inside isolate(): every copy it loads is disposed, cut and collected`, async () => {
    const t = interopFixture()
    const counts = (globalThis.__interopCounts = newCounts())
    const harnessFile = t.file('harness.js')
    const harness = require(harnessFile)
    const requirer = require.cache[harnessFile]
    const childrenBefore = requirer.children.length
    const reports = loadInIsolates(harness[call], stubbed)
    assert.equal(counts.loaded, ISOLATES)
    assert.equal(counts.disposed, ISOLATES, 'every copy ran its dispose handler')
    assert.equal(requirer.children.length, childrenBefore, "the requirer's children are back to their size")
    for (const report of reports) assert.ok(report.removed.includes(t.file('subject.js')), JSON.stringify(report.removed))
    assert.equal(require.cache[t.file('subject.js')], undefined)
    // rewire keeps the module it loaded last in its own module state (moduleEnv's
    // `currentModule`) until its next call: one more call, on another file, lets go of it.
    if (call === 'rewire') harness.rewireDep()
    for (const report of reports.slice(-3)) assert.deepEqual((await verifyCollected(report)).alive, [])
    // FinalizationRegistry callbacks run as tasks of their own, after the collection: on a busy
    // machine (CI runs test files side by side) six rounds were once not enough for any of them
    // to run (Node 24: 40 counted alive while verifyCollected had just seen the copies go). Wait
    // for them up to 2 s, as verifyCollected waits by default.
    await settleGc(6)
    for (const deadline = Date.now() + 2000; counts.alive > 0 && Date.now() < deadline; ) await settleGc(1)
    assert.equal(counts.alive, 0, 'no copy alive after forced collection')
  })
}

test('I16-5: a module unloaded by uncacheTree inside an isolate is not unloaded again by the restore', () => {
  const t = writeTree({
    'a.js': `const { hot } = require(${JSON.stringify(PACKAGE)}); hot(module).dispose(() => { globalThis.__aDisposed++ }); module.exports = 1\n`,
  })
  globalThis.__aDisposed = 0
  let report
  isolate(
    () => {
      require(t.file('a.js'))
      assert.deepEqual(uncacheTree(t.file('a.js')).removed, [t.file('a.js')])
    },
    { onRestore: (r) => (report = r) },
  )
  assert.equal(globalThis.__aDisposed, 1)
  assert.deepEqual(report.removed, [])
})

// ---- nothing held once a restore returns (issue 20 item 5, issue 16 item 8) ----

const ONE_MEGABYTE_MODULE = "module.exports = { blob: 'x'.repeat(1 << 20).split('').join('') }\n"

test('I20-5: a synchronous loop of 100 snapshot/require(1 MB)/restore grows the heap by at most 2 MB before it yields', () => {
  const result = runChild(`
    const { snapshot } = require(process.env.UNCACHE_TREE)
    const fs = require('node:fs'), path = require('node:path')
    const file = path.join(__dirname, 'big.js')
    fs.writeFileSync(file, ${JSON.stringify(ONE_MEGABYTE_MODULE)})
    const warm = snapshot(); require(file); warm.restore()
    global.gc()
    const before = process.memoryUsage().heapUsed
    let removed = 0
    for (let i = 0; i < 100; i++) {
      const s = snapshot()
      if (require(file).blob.length !== 1 << 20) throw new Error('wrong module')
      removed += s.restore().removed.length
    }
    global.gc()
    console.log('RESULT ' + JSON.stringify({ growth: process.memoryUsage().heapUsed - before, removed }))
  `)
  assert.equal(result.removed, 100)
  assert.ok(result.growth <= 2e6, `heap grew by ${(result.growth / 1e6).toFixed(1)} MB`)
})

test('I20-5: 100 synchronous node:test tests under isolateEach() grow the heap by at most 2 MB before it yields', () => {
  const result = runChild(`
    const test = require('node:test')
    const { isolateEach } = require(require('node:path').join(process.env.UNCACHE_TREE, 'node-test.js'))
    const fs = require('node:fs'), path = require('node:path')
    const file = path.join(__dirname, 'big.js')
    fs.writeFileSync(file, ${JSON.stringify(ONE_MEGABYTE_MODULE)})
    isolateEach()
    let before
    let tests = 0
    for (let i = 0; i <= 100; i++) {
      test('t' + i, () => {
        global.gc()
        if (i === 1) before = process.memoryUsage().heapUsed
        if (i === 100) {
          console.log('RESULT ' + JSON.stringify({ growth: process.memoryUsage().heapUsed - before, tests }))
        }
        if (require(file).blob.length !== 1 << 20) throw new Error('wrong module')
        tests++
      })
    }
  `, ['--test-reporter=dot'])
  assert.equal(result.tests, 100)
  assert.ok(result.growth <= 2e6, `heap grew by ${(result.growth / 1e6).toFixed(1)} MB`)
})

// ---- hot data waiting for files that never load again (issue 16 item 8) ----

/** Loads and unloads each file once; returns the heap growth after forced collection. */
async function loadOnce(files) {
  await settleGc(2)
  const heapBefore = process.memoryUsage().heapUsed
  for (const file of files) {
    require(file)
    assert.deepEqual(uncacheTree(file).removed, [file])
  }
  await settleGc(6)
  return process.memoryUsage().heapUsed - heapBefore
}

test('I16-8: hot data of 3,000 one-shot files is bounded: at most 1,000 files wait, and the heap does not keep the rest', async () => {
  const PENDING_DATA_LIMIT = 1000 // the limit index.d.ts and the README state
  const FILES = 3000
  const DATA_BYTES = 8192
  const source = [
    `const { hot } = require(${JSON.stringify(PACKAGE)})`,
    'hot(module).dispose((data) => {',
    `  data.blob = Buffer.alloc(${DATA_BYTES}, __filename).toString('latin1')`,
    '  globalThis.__hotData.alive++',
    '  globalThis.__hotData.registry.register(data, null)',
    '})',
    '',
  ].join('\n')
  const files = {}
  for (let i = 0; i < FILES; i++) {
    files[`one-shot-${i}.js`] = source
    files[`control-${i}.js`] = 'module.exports = {}\n' // what a file costs without hot data
  }
  const t = writeTree(files)
  const counter = (globalThis.__hotData = { alive: 0 })
  counter.registry = new FinalizationRegistry(() => counter.alive--)
  const range = (prefix) => Array.from({ length: FILES }, (_, i) => t.file(`${prefix}-${i}.js`))
  const controlGrowth = await loadOnce(range('control'))
  const growth = await loadOnce(range('one-shot'))
  assert.ok(counter.alive <= PENDING_DATA_LIMIT, `${counter.alive} data objects alive`)
  assert.ok(counter.alive >= PENDING_DATA_LIMIT - 1, `the newest ${PENDING_DATA_LIMIT} wait for their file (${counter.alive})`)
  // The 1,000 newest data objects (8 KB each) beyond what the files cost anyway; 3,000 are 24 MB.
  const dataGrowth = growth - controlGrowth
  assert.ok(dataGrowth < PENDING_DATA_LIMIT * DATA_BYTES + 3e6, `hot data grew the heap by ${(dataGrowth / 1e6).toFixed(1)} MB`)
  // The newest file's next instance still gets its data; the one that waited longest lost it.
  const last = t.file(`one-shot-${FILES - 1}.js`)
  require(last)
  assert.equal(hot(require.cache[last]).data.blob.length, DATA_BYTES)
  const first = t.file('one-shot-0.js')
  require(first)
  assert.equal(hot(require.cache[first]).data, undefined)
})

// ---- a failed reload puts back everything exactly (issue 16 item 9) ----

/** require.cache, Module._pathCache and every cached module's `children`, as they are now. */
function loaderState() {
  const cache = require.cache
  const children = new Map()
  for (const key of Object.keys(cache)) children.set(cache[key], cache[key].children.slice())
  return {
    keys: Object.keys(cache),
    values: Object.values(cache),
    pathCache: Object.entries(Module._pathCache),
    children,
  }
}

function assertSameLoaderState(before, after) {
  assert.deepEqual(after.keys, before.keys, 'require.cache keys, in order')
  assert.equal(after.values.length, before.values.length)
  for (let i = 0; i < before.values.length; i++) assert.equal(after.values[i], before.values[i], `the module under ${before.keys[i]}`)
  assert.deepEqual(new Map(after.pathCache), new Map(before.pathCache), 'Module._pathCache entries')
  for (const [m, items] of before.children) {
    assert.equal(m.children.length, items.length, `children of ${m.id}`)
    items.forEach((item, k) => assert.equal(m.children[k], item, `children[${k}] of ${m.id}`))
  }
}

function reloadFixture(failedPlugin) {
  const t = writeTree({
    'helper.js': "module.exports = 'helper'\n",
    'shared.js': 'module.exports = { generation: Symbol() }\n',
    'new-dep.js': "module.exports = 'new'\n",
    'plugin.js': "require('./helper'); require('./shared')\nmodule.exports = 'v1'\n",
    'host.js': "exports.plugin = require('./plugin'); exports.shared = require('./shared')\n",
  })
  require(t.file('host.js'))
  fs.writeFileSync(t.file('plugin.js'), failedPlugin)
  return t
}

test('I16-9: a failed reload leaves no Module._pathCache entry of its own and puts back the ones it dropped', () => {
  // The new code resolves a new file, an old file by a new specifier, and the shared module anew.
  const t = reloadFixture(
    "require('./new-dep'); require('./helper.js')\ndelete require.cache[require.resolve('./shared')]; require('./shared')\nthrow new Error('boom')\n",
  )
  const before = loaderState()
  assert.throws(() => reload(t.file('plugin.js')), { code: 'ERR_UNCACHE_RELOAD_FAILED' })
  assert.deepEqual(new Map(Object.entries(Module._pathCache)), new Map(before.pathCache))
})

test('I16-9: a failed reload puts back a shared cache entry that the failed code replaced, and every children array', () => {
  const t = reloadFixture(
    "require('./helper')\ndelete require.cache[require.resolve('./shared')]\nconst fresh = require('./shared')\nthrow new Error('boom')\n",
  )
  const host = require(t.file('host.js'))
  const before = loaderState()
  assert.throws(() => reload(t.file('plugin.js')), { code: 'ERR_UNCACHE_RELOAD_FAILED' })
  assertSameLoaderState(before, loaderState())
  assert.equal(require(t.file('shared.js')), host.shared, 'the shared module keeps its identity')
})

test('I16-5: a module loaded since a snapshot that a failed reload put back is still unloaded by the restore', () => {
  const t = writeTree({ 'plugin.js': "module.exports = 'v1'\n", 'host.js': "module.exports = require('./plugin')\n" })
  let report
  isolate(
    () => {
      require(t.file('host.js'))
      fs.writeFileSync(t.file('plugin.js'), "throw new Error('broken')\n")
      assert.throws(() => reload(t.file('plugin.js')), { code: 'ERR_UNCACHE_RELOAD_FAILED' })
      assert.equal(require.cache[t.file('plugin.js')].exports, 'v1')
    },
    { onRestore: (r) => (report = r) },
  )
  assert.deepEqual([...report.removed].sort(), [t.file('host.js'), t.file('plugin.js')])
  assert.equal(require.cache[t.file('plugin.js')], undefined)
})

test('I16-5: a restore after a failed reload and a loader gap keeps a module loaded before the snapshot (fuzz, seed 26 on Node 26)', () => {
  // The rollback puts plugin.js back under its key, after the recorder's marks; the loader gap
  // (another library put back Module.prototype.load, as mock-require's stopAll() does) makes the
  // restore count what sits after the marks as loaded since: the old plugin.js is not.
  const t = writeTree({ 'plugin.js': "module.exports = 'v1'\n", 'other.js': "module.exports = 'other'\n" })
  const proxyRequire = Module.createRequire(t.file('proxy.js'))
  proxyRequire(t.file('other.js'))
  proxyRequire(t.file('plugin.js'))
  const before = require.cache[t.file('plugin.js')]
  let disposed = 0
  hot(before).dispose(() => disposed++)
  const state = globalThis[Symbol.for('uncache-tree.state.v1')]
  let report
  isolate(
    () => {
      fs.writeFileSync(t.file('anchor.js'), 'module.exports = {}\n')
      proxyRequire(t.file('anchor.js'))
      fs.writeFileSync(t.file('plugin.js'), "throw new Error('v2 throws')\n")
      assert.throws(() => reload(t.file('plugin.js'), { from: t.file('anchor.js') }), { code: 'ERR_UNCACHE_RELOAD_FAILED' })
      assert.equal(require.cache[t.file('plugin.js')], before, 'rolled back')
      Module.prototype.load = state.originalModuleLoad
    },
    { onRestore: (r) => (report = r) },
  )
  assert.deepEqual(report.removed, [t.file('anchor.js')])
  assert.equal(require.cache[t.file('plugin.js')], before, 'the module loaded before the snapshot stays, same identity')
  assert.equal(disposed, 1, 'disposed once, by the failed reload only')
})

// ---- copies of earlier versions in the same process (issue 16 item 6) ----

// 87d25cc: the last commit whose shared state held beforeCut hooks in an array (and whose live
// graph index forgot modules through a FinalizationRegistry); cf36ca5: this round's start.
const EARLIER_COMMITS = ['87d25cc', 'cf36ca5']

/**
 * A copy of the package's JS at `commit`, next to this build's native binary (the old JS calls
 * the same native functions). Its package.json gets this build's version, which the binary's
 * version check compares with. Null when git or the commit is not available (a shallow clone).
 */
function copyAtCommit(commit) {
  const { binaryName } = require('../lib/platform.js')
  const binary = path.join(PACKAGE, binaryName())
  const probe = spawnSync('git', ['-C', PACKAGE, 'cat-file', '-e', `${commit}^{commit}`])
  if (probe.status !== 0 || !fs.existsSync(binary)) return null
  const dir = writeTree({}).dir
  const archive = spawnSync('git', ['-C', PACKAGE, 'archive', '--format=tar', commit, 'package.json', 'index.js', 'lib'], {
    maxBuffer: 64 << 20,
  })
  assert.equal(archive.status, 0, String(archive.stderr))
  const untar = spawnSync('tar', ['-x', '-C', dir], { input: archive.stdout })
  assert.equal(untar.status, 0, String(untar.stderr))
  const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'))
  pkg.version = require('../package.json').version
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify(pkg))
  fs.copyFileSync(binary, path.join(dir, binaryName()))
  return dir
}

/**
 * In a child process, loads the copies in `order` (directories), then through each copy: a
 * snapshot restore (the older copies' first), an uncacheTree of a module whose dispose handler
 * was registered through each copy, a verifyCollected of another copy's report and a thrown
 * error checked against every copy's UncacheError.
 */
function runCopies(order) {
  return runChild(`
    const fs = require('node:fs'), path = require('node:path')
    const order = ${JSON.stringify(order)}
    const copies = order.map((dir) => require(dir))
    const result = { snapshots: [], disposed: [], instanceOf: [], verified: [] }
    const disposed = (globalThis.__disposed = [])
    const file = (name) => path.join(__dirname, name + '.js')
    for (let i = 0; i < copies.length; i++) {
      fs.writeFileSync(file('by' + i), 'require(' + JSON.stringify(order[i]) + ').hot(module).dispose(() => globalThis.__disposed.push(' + i + '))')
    }
    // Older copies first (in the order given): the first snapshot of a process registers its
    // copy's hooks on the shared state.
    const snapshotOrder = order.map((_, i) => i).sort((a, b) => (order[a] === process.env.UNCACHE_TREE) - (order[b] === process.env.UNCACHE_TREE))
    for (const i of snapshotOrder) {
      try {
        const s = copies[i].snapshot()
        require(file('by' + i))
        const report = s.restore()
        result.snapshots[i] = { removed: report.removed.map((id) => path.basename(id)), disposed: disposed.splice(0) }
      } catch (error) {
        result.snapshots[i] = { threw: error.constructor.name + ': ' + error.message }
      }
    }
    const reports = []
    for (let i = 0; i < copies.length; i++) {
      const row = []
      for (let j = 0; j < copies.length; j++) {
        require(file('by' + j))
        try {
          reports.push(copies[i].uncacheTree(file('by' + j)))
          row.push(disposed.splice(0))
        } catch (error) {
          row.push(error.constructor.name + ': ' + error.message)
        }
      }
      result.disposed.push(row)
    }
    for (const copy of copies) {
      try {
        copy.uncacheTree(path.join(__dirname, 'missing.js'))
      } catch (error) {
        result.instanceOf.push(copies.map((c) => error instanceof c.UncacheError))
      }
    }
    ;(async () => {
      for (let i = 0; i < copies.length; i++) {
        const report = reports[(i + 1) % reports.length]
        result.verified.push((await copies[i].verifyCollected(report)).collected.length)
      }
      console.log('RESULT ' + JSON.stringify(result))
    })()
  `)
}

function assertCopiesCooperate(result, n) {
  for (let i = 0; i < n; i++) {
    assert.deepEqual(result.snapshots[i], { removed: [`by${i}.js`], disposed: [i] }, `snapshot() of copy ${i}`)
    for (let j = 0; j < n; j++) assert.deepEqual(result.disposed[i][j], [j], `copy ${i} unloading the module of copy ${j}`)
    assert.deepEqual(result.instanceOf[i], Array(n).fill(true), `an error of copy ${i} is an UncacheError of every copy`)
    assert.equal(result.verified[i], 1, `copy ${i} verifies another copy's report`)
  }
}

test('I16-6: copies built from earlier commits, loaded after this one, keep working with it', (t) => {
  const older = EARLIER_COMMITS.map(copyAtCommit)
  if (older.includes(null)) return t.skip('needs git and the commits ' + EARLIER_COMMITS.join(', ') + ' (a full clone)')
  assertCopiesCooperate(runCopies([PACKAGE, ...older]), 3)
})

test('I16-6: this copy, loaded after copies built from earlier commits, keeps working with them', (t) => {
  for (const commit of EARLIER_COMMITS) {
    const older = copyAtCommit(commit)
    if (older === null) return t.skip(`needs git and the commit ${commit} (a full clone)`)
    assertCopiesCooperate(runCopies([older, PACKAGE]), 2)
  }
})
