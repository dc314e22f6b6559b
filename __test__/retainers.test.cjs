'use strict'
// explainRetainers(): for modules that stay in memory after they were dropped from
// require.cache, the chain of references from a GC root names the culprit — the interval's
// Timeout and callback, the `process` listener, the global array — not the bookkeeping around it.
// A released module is left out, the loaded generation is not a leak, and a snapshot file written
// earlier gives the same answer as a snapshot of the running process.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const v8 = require('node:v8')
const { pathToFileURL } = require('node:url')
const { explainRetainers, renderRequireCache } = require('../lib/proof/retainers.js')

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'uncache-tree-retainers-'))
const EVENT = 'uncache-tree-test:reload'
const REGISTRY = 'uncacheTreeTestRegistry'

const SOURCES = {
  // The callback closes over `module`: the Timeout keeps the whole old generation alive.
  'interval.js': `const timer = setInterval(function onTick() { module.exports.ticks++ }, 60000)
module.exports = { ticks: 0, stop: () => clearInterval(timer) }
`,
  'listener.js': `function onReload() { module.exports.reloads++ }
process.on('${EVENT}', onReload)
module.exports = { reloads: 0, stop: () => process.off('${EVENT}', onReload) }
`,
  'registry.js': `globalThis.${REGISTRY} ??= []
globalThis.${REGISTRY}.push(module)
module.exports = { stop: () => {} }
`,
  'clean.js': `const table = new Map([['a', 1]])
module.exports = { get: (key) => table.get(key), stop: () => {} }
`,
  'reloaded.js': `const timer = setInterval(function onTick() { module.exports.ticks++ }, 60000)
module.exports = { ticks: 0, stop: () => clearInterval(timer) }
`,
  'weakly-held.js': 'module.exports = { stop: () => {} }\n',
  // A module that stays loaded (a bus), and a plugin whose listener on it reads `module`.
  'bus.js': "module.exports = new (require('node:events').EventEmitter)()\n",
  'on-bus.js': `const bus = require('./bus.js')
function onTick() { module.exports.ticks++ }
bus.on('tick', onTick)
module.exports = { ticks: 0, stop: () => bus.off('tick', onTick) }
`,
}
const file = Object.fromEntries(Object.keys(SOURCES).map((name) => [name, path.join(dir, name)]))
for (const [name, source] of Object.entries(SOURCES)) fs.writeFileSync(file[name], source)

// Each loaded instance's `stop`, reached without holding it: a strong reference from this test
// would itself be a retainer (and the shortest one).
const loaded = []

/**
 * Requires `id` and drops it the way code does by hand: the require.cache entry and this module's
 * `children` link (uncacheTree cuts both). Whatever still holds the old instance afterwards is
 * the module's own doing.
 */
function loadAndDrop(id) {
  loadOnly(id)
  delete require.cache[id]
  module.children = module.children.filter((child) => child.id !== id)
}

function loadOnly(id) {
  loaded.push(new WeakRef(require(id)))
}

test.after(() => {
  for (const ref of loaded) ref.deref()?.stop()
  delete globalThis[REGISTRY]
  fs.rmSync(dir, { recursive: true, force: true })
})

const chain = (steps) => steps.map((s) => (s.edge ? `${s.node} --${s.edge}-->` : s.node)).join('\n  ')
const retainerOf = (retainers, id) => {
  const found = retainers.filter((r) => r.id === id)
  assert.equal(found.length, 1, `one chain for ${id}, got ${JSON.stringify(retainers, null, 1)}`)
  return found[0].path
}

/** Every chain ends at the old Module and starts from a real root, not V8's bookkeeping. */
function assertWellFormed(steps, id) {
  assert.deepEqual(steps.at(-1), { node: `Module ${id}`, edge: '' }, chain(steps))
  for (const step of steps.slice(0, -1)) {
    assert.equal(typeof step.node, 'string')
    assert.notEqual(step.edge, '', `only the last step has no edge:\n  ${chain(steps)}`)
  }
  assert.ok(!steps.some((s) => /^\((Stack roots|Handle scope|Startup object cache)\)$/.test(s.node)), chain(steps))
}

let inProcess
test('names the culprit for each way user code keeps an unloaded module', async (t) => {
  for (const name of ['interval.js', 'listener.js', 'registry.js', 'clean.js']) loadAndDrop(file[name])
  inProcess = await explainRetainers([file['interval.js'], file['listener.js'], file['registry.js'], file['clean.js']])
  assert.deepEqual(
    inProcess.map((r) => r.id),
    [file['interval.js'], file['listener.js'], file['registry.js']],
    'one chain per leaked module, in the order asked; the released module is left out',
  )

  await t.test('a setInterval callback that closes over the module: the Timeout and its _onTimeout', () => {
    const steps = retainerOf(inProcess, file['interval.js'])
    assertWellFormed(steps, file['interval.js'])
    const at = steps.findIndex((s) => s.node === 'Timeout' && s.edge === '_onTimeout')
    assert.notEqual(at, -1, chain(steps))
    assert.match(steps[at + 1].node, /^\(closure onTick in .*interval\.js:1:\d+\)$/, chain(steps))
    assert.deepEqual(steps.slice(at + 1).map((s) => s.edge), ['context', 'module', ''], chain(steps))
  })

  await t.test('a listener added to process: process → _events → the event name', () => {
    const steps = retainerOf(inProcess, file['listener.js'])
    assertWellFormed(steps, file['listener.js'])
    const at = steps.findIndex((s) => s.node === 'process' && s.edge === '_events')
    assert.notEqual(at, -1, chain(steps))
    assert.equal(steps[at + 1].edge, EVENT, chain(steps))
    assert.match(steps[at + 2].node, /^\(closure onReload in .*listener\.js:1:\d+\)$/, chain(steps))
  })

  await t.test('module pushed into a global array: the global property, then the element', () => {
    const steps = retainerOf(inProcess, file['registry.js'])
    assertWellFormed(steps, file['registry.js'])
    const at = steps.findIndex((s) => s.edge === REGISTRY)
    assert.notEqual(at, -1, chain(steps))
    assert.match(steps[at].node, /^global/, chain(steps))
    assert.deepEqual(steps.slice(at + 1), [
      { node: 'Array', edge: '[0]' },
      { node: `Module ${file['registry.js']}`, edge: '' },
    ])
  })
})

/**
 * A chain from its first object on. The root categories before it (`(GC roots) --[10]-->
 * (Global handles) --[19]-->`) carry V8's slot numbers, which shift by one when an inspector
 * session holds one more handle.
 */
const fromFirstObject = (retainers) =>
  retainers.map(({ id, path: steps }) => ({ id, path: steps.slice(steps.findIndex((s) => !/^\(.*\)$/.test(s.node))) }))

test('a snapshot file written earlier gives the same answer', async () => {
  assert.ok(inProcess, 'runs after the in-process test')
  const snapshot = v8.writeHeapSnapshot(path.join(dir, 'process.heapsnapshot'))
  const ids = [file['interval.js'], file['listener.js'], file['registry.js'], file['clean.js']]
  const expected = fromFirstObject(inProcess)
  assert.deepEqual(fromFirstObject(await explainRetainers(ids, { snapshot })), expected)
  const viaUrl = await explainRetainers(ids, { snapshot: pathToFileURL(snapshot) })
  assert.deepEqual(fromFirstObject(viaUrl), expected, 'a file: URL works too')
})

test('without an inspector, V8 writes the snapshot to a temporary file, removed afterwards', async () => {
  assert.ok(inProcess, 'runs after the in-process test')
  const tmp = fs.mkdtempSync(path.join(dir, 'tmp-'))
  const [inspector, tmpdir, mkdtemp] = [process.features.inspector, process.env.TMPDIR, fs.mkdtempSync]
  const made = []
  process.features.inspector = false // as in a Node built --without-inspector
  process.env.TMPDIR = tmp
  fs.mkdtempSync = (prefix, ...rest) => {
    made.push(prefix)
    return mkdtemp(prefix, ...rest)
  }
  try {
    const ids = [file['interval.js'], file['listener.js'], file['registry.js'], file['clean.js']]
    assert.deepEqual(fromFirstObject(await explainRetainers(ids)), fromFirstObject(inProcess))
  } finally {
    process.features.inspector = inspector
    if (tmpdir === undefined) delete process.env.TMPDIR
    else process.env.TMPDIR = tmpdir
    fs.mkdtempSync = mkdtemp
  }
  assert.deepEqual(made, [path.join(tmp, 'uncache-tree-heap-')], 'the snapshot went through a file')
  assert.deepEqual(fs.readdirSync(tmp), [], 'the temporary snapshot is gone')
})

test('the loaded generation is not a leak; only the old one is explained', async () => {
  const id = file['reloaded.js']
  loadAndDrop(id)
  loadOnly(id)
  assert.ok(require.cache[id], 'the second generation is loaded')
  const retainers = await explainRetainers(id)
  assert.equal(retainers.length, 1, JSON.stringify(retainers, null, 1))
  assertWellFormed(retainers[0].path, id)
  assert.ok(retainers[0].path.some((s) => s.node === 'Timeout'), chain(retainers[0].path))
})

test('a module held only through a WeakRef is collected, so left out', async () => {
  const id = file['weakly-held.js']
  loadOnly(id)
  const ref = new WeakRef(require.cache[id])
  delete require.cache[id]
  module.children = module.children.filter((child) => child.id !== id)
  assert.deepEqual(await explainRetainers([id]), [])
  assert.equal(ref.deref(), undefined, 'the snapshot collected garbage first')
})

test('modules never loaded, and an empty list, have nothing to explain', async () => {
  assert.deepEqual(await explainRetainers([path.join(dir, 'never-loaded.js')]), [])
  assert.deepEqual(await explainRetainers([]), [])
})

test('bad arguments are rejected the way Node rejects them', async () => {
  const typeError = { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' }
  const rangeError = { name: 'RangeError', code: 'ERR_INVALID_ARG_VALUE' }
  await assert.rejects(explainRetainers(42), typeError)
  await assert.rejects(explainRetainers(), typeError)
  await assert.rejects(explainRetainers([file['clean.js'], 7]), { ...typeError, message: /"ids\[1\]"/ })
  await assert.rejects(explainRetainers(''), rangeError)
  await assert.rejects(explainRetainers([file['clean.js']], 'fast'), typeError)
  await assert.rejects(explainRetainers([file['clean.js']], { snapshot: 5 }), typeError)
  await assert.rejects(explainRetainers([file['clean.js']], { snapshot: '' }), rangeError)
})

test('options.snapshot: a missing file rejects as fs does, a file that is not a snapshot says so', async () => {
  const ids = [file['clean.js']]
  await assert.rejects(explainRetainers(ids, { snapshot: path.join(dir, 'missing.heapsnapshot') }), { code: 'ENOENT' })
  await assert.rejects(explainRetainers(ids, { snapshot: file['clean.js'] }), {
    ...{ name: 'RangeError', code: 'ERR_INVALID_ARG_VALUE' },
    message: /options\.snapshot.*not a V8 heap snapshot this version can read/,
  })
  const whole = fs.readFileSync(path.join(dir, 'process.heapsnapshot'))
  const truncated = path.join(dir, 'truncated.heapsnapshot')
  fs.writeFileSync(truncated, whole.subarray(0, whole.length >> 1))
  await assert.rejects(explainRetainers(ids, { snapshot: truncated }), {
    code: 'ERR_INVALID_ARG_VALUE',
    message: /ends early inside `(nodes|edges|strings)`/,
  })
})

test('a chain through a module that stays loaded starts at require.cache, not at the package\'s own state', async () => {
  require(file['bus.js'])
  // Reached only through require.cache, as a module another module loaded (not this test's child).
  module.children = module.children.filter((child) => child.id !== file['bus.js'])
  loadAndDrop(file['on-bus.js'])
  const steps = retainerOf(await explainRetainers([file['on-bus.js']]), file['on-bus.js'])
  assertWellFormed(steps, file['on-bus.js'])
  assert.deepEqual(steps.slice(0, 2), [
    { node: 'require.cache', edge: file['bus.js'] },
    { node: `Module ${file['bus.js']}`, edge: 'exports' },
  ], chain(steps))
  assert.ok(!steps.some((s) => s.edge.includes('uncache-tree.state')), chain(steps))
  assert.ok(steps.some((s) => s.edge === '_events'), chain(steps))
})

test('renderRequireCache folds everything down to Module._cache into one step', () => {
  const steps = [
    { node: 'global', edge: '<symbol uncache-tree.state.v1>' },
    { node: 'Object', edge: 'originalLoad' },
    { node: '(closure Module in node:internal/modules/cjs/loader:297:16)', edge: '_cache' },
    { node: 'Object', edge: '/app/bus.js' },
    { node: 'Module /app/bus.js', edge: 'exports' },
    { node: 'EventEmitter', edge: '' },
  ]
  assert.deepEqual(renderRequireCache(steps), {
    path: [
      { node: 'require.cache', edge: '/app/bus.js' },
      { node: 'Module /app/bus.js', edge: 'exports' },
      { node: 'EventEmitter', edge: '' },
    ],
    removed: 3,
  })
  const plain = [{ node: 'global', edge: 'x' }, { node: 'Object', edge: '' }]
  assert.deepEqual(renderRequireCache(plain), { path: plain, removed: 0 })
})
