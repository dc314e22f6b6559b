'use strict'
// isolate(fn): fn runs between a snapshot and its restore; async functions are awaited; the
// restore also runs when fn throws or rejects; isolates nest; two isolates that overlap in time
// without being nested are refused (ERR_UNCACHE_ISOLATE_OVERLAP). Against the API contract in
// README.md/index.d.ts.
const test = require('node:test')
const assert = require('node:assert/strict')
const { isolate, verifyCollected, UncacheError } = require('..')
const { writeTree, requiring } = require('./helpers/fixtures.cjs')

const t = writeTree({
  'counter.js': 'let n = 0\nexports.next = () => ++n\n',
  'single.js': 'module.exports = { instances: (globalThis.__singleInstances = (globalThis.__singleInstances || 0) + 1) }\n',
  'uses-single.js': requiring('uses-single', ['./single', './counter']),
  'outer.js': requiring('outer', ['./counter']),
  'inner.js': requiring('inner', ['./outer']),
  'thrower.js': "require('./counter')\nthrow new Error('thrower failed to load')\n",
})
const single = require(t.file('single.js'))
const cached = (name) => require.cache[t.file(name)]
const tick = () => new Promise((resolve) => setImmediate(resolve))

test('each isolate sees fresh module state, not the state the previous one left', () => {
  const first = isolate(() => [require(t.file('counter.js')).next(), require(t.file('counter.js')).next()])
  const second = isolate(() => require(t.file('counter.js')).next())
  assert.deepEqual(first, [1, 2])
  assert.equal(second, 1)
  assert.equal(cached('counter.js'), undefined)
})

test('a singleton loaded before keeps its identity inside every isolate', () => {
  for (let i = 0; i < 3; i++) {
    const seen = isolate(() => require(t.file('uses-single.js')).deps['./single'])
    assert.equal(seen, single)
  }
  assert.equal(single.instances, 1)
  assert.equal(cached('single.js').exports, single)
  assert.equal(cached('uses-single.js'), undefined)
})

test('returns what fn returns; an async fn is awaited before the restore', async () => {
  assert.equal(
    isolate(() => 42),
    42,
  )
  const pending = isolate(async () => {
    const counter = require(t.file('counter.js'))
    await tick()
    assert.ok(cached('counter.js'), 'still loaded while fn runs')
    return counter.next()
  })
  assert.ok(pending instanceof Promise)
  assert.ok(cached('counter.js'), 'the restore waits for the promise')
  assert.equal(await pending, 1)
  assert.equal(cached('counter.js'), undefined)
})

test('a throwing fn: the restore runs and the same error is rethrown', () => {
  const error = new Error('boom')
  assert.throws(
    () =>
      isolate(() => {
        require(t.file('counter.js'))
        throw error
      }),
    (thrown) => thrown === error,
  )
  assert.equal(cached('counter.js'), undefined)
  // A module whose own code throws is cleaned up by Node; what it loaded first by the restore.
  assert.throws(() => isolate(() => require(t.file('thrower.js'))), /thrower failed to load/)
  assert.equal(cached('thrower.js'), undefined)
  assert.equal(cached('counter.js'), undefined)
})

test('a rejecting fn: the restore runs and the same rejection comes back', async () => {
  const error = new Error('async boom')
  await assert.rejects(
    isolate(async () => {
      require(t.file('counter.js'))
      await tick()
      throw error
    }),
    (thrown) => thrown === error,
  )
  assert.equal(cached('counter.js'), undefined)
})

test('isolates nest: an inner restore leaves the outer isolate alone (sync)', () => {
  isolate(() => {
    const outer = require(t.file('outer.js'))
    const inner = isolate(() => {
      const loaded = require(t.file('inner.js'))
      assert.equal(loaded.deps['./outer'], outer, "the outer isolate's module is shared, not reloaded")
      return loaded
    })
    assert.equal(cached('inner.js'), undefined, 'the inner restore unloaded inner.js')
    assert.equal(cached('outer.js').exports, outer, 'and left outer.js alone')
    assert.equal(cached('outer.js').children.includes(cached('inner.js')), false)
    assert.equal(inner.name, 'inner')
  })
  assert.equal(cached('outer.js'), undefined)
  assert.equal(cached('counter.js'), undefined)
})

test('isolates nest across await, and sequential isolates inside an async one are fine', async () => {
  await isolate(async () => {
    const outer = require(t.file('outer.js'))
    await tick()
    for (let i = 0; i < 2; i++) {
      await isolate(async () => {
        await tick()
        assert.equal(require(t.file('inner.js')).deps['./outer'], outer)
      })
      assert.equal(cached('inner.js'), undefined)
      assert.equal(cached('outer.js').exports, outer)
    }
  })
  assert.equal(cached('outer.js'), undefined)
})

test('overlapping async isolates are refused with ERR_UNCACHE_ISOLATE_OVERLAP', async () => {
  let release
  const gate = new Promise((resolve) => {
    release = resolve
  })
  const first = isolate(async () => {
    require(t.file('counter.js')).next()
    await gate
    return require(t.file('counter.js')).next()
  })
  // Started from this test's own flow, which is not inside the first isolate.
  assert.throws(
    () => isolate(async () => {}),
    (error) => {
      assert.ok(error instanceof UncacheError)
      assert.equal(error.code, 'ERR_UNCACHE_ISOLATE_OVERLAP')
      assert.match(error.message, /isolate\(\) at .*isolate\.test\.cjs:\d+:\d+ started while the isolate\(\) started at .*isolate\.test\.cjs:\d+:\d+ is still running/)
      assert.match(error.message, /await it|finish first/)
      return true
    },
  )
  // ...and from a callback of an unrelated async flow.
  const fromTimer = await new Promise((resolve) => {
    setImmediate(() => {
      try {
        isolate(() => {})
        resolve(null)
      } catch (error) {
        resolve(error)
      }
    })
  })
  assert.equal(fromTimer?.code, 'ERR_UNCACHE_ISOLATE_OVERLAP')
  release()
  assert.equal(await first, 2, 'the running isolate was not disturbed')
  assert.equal(cached('counter.js'), undefined)
  assert.equal(
    isolate(() => 'after'),
    'after',
    'once it has finished, a new isolate starts',
  )
})

test('sibling isolates run concurrently inside one isolate are refused too', async () => {
  const results = await isolate(async () =>
    Promise.allSettled([
      isolate(async () => {
        await tick()
        return 'a'
      }),
      (async () => isolate(async () => 'b'))(),
    ]),
  )
  assert.equal(results[0].status, 'fulfilled')
  assert.equal(results[1].status, 'rejected')
  assert.equal(results[1].reason.code, 'ERR_UNCACHE_ISOLATE_OVERLAP')
})

test('onRestore gets the UnloadReport, which verifyCollected checks', async () => {
  let report
  isolate(() => require(t.file('uses-single.js')), { onRestore: (r) => (report = r) })
  assert.deepEqual(report.removed, [t.file('uses-single.js'), t.file('counter.js')])
  assert.deepEqual((await verifyCollected(report)).alive, [])
})

test("the restore runs modules' dispose handlers (hot), and reports the ones that throw", async () => {
  const d = writeTree({
    'server.js': `
const { hot } = require(${JSON.stringify(require.resolve('..'))})
const timer = setInterval(() => {}, 1000)
hot(module).dispose(() => { clearInterval(timer); globalThis.__disposed = (globalThis.__disposed || 0) + 1 })
hot(module).dispose(() => { throw new Error('dispose failed') })
module.exports = { timer }
`,
  })
  let report
  isolate(() => require(d.file('server.js')), { onRestore: (r) => (report = r) })
  // It cleared the interval too: a live one would keep this test process from exiting.
  assert.equal(globalThis.__disposed, 1, 'the dispose handler ran')
  assert.deepEqual(report.removed, [d.file('server.js')])
  assert.equal(report.errors.length, 1)
  assert.match(String(report.errors[0]), /dispose failed/)
  assert.deepEqual((await verifyCollected(report)).alive, [])
})

test('a .node addon loaded inside an isolate stays loaded and is reported', () => {
  let report
  const crc = isolate(() => require('@node-rs/crc32').crc32('x'), { onRestore: (r) => (report = r) })
  assert.equal(typeof crc, 'number')
  assert.equal(report.skipped.length, 1)
  assert.equal(report.skipped[0].reason, 'native-addon')
  assert.ok(require.cache[report.skipped[0].id])
  assert.equal(require('@node-rs/crc32').crc32('x'), crc)
})

test('keep option and argument errors', () => {
  let report
  isolate(() => require(t.file('uses-single.js')), { keep: (id) => id.endsWith('counter.js'), onRestore: (r) => (report = r) })
  assert.deepEqual(report.skipped, [{ id: t.file('counter.js'), reason: 'kept-by-option' }])
  assert.ok(cached('counter.js'))
  delete require.cache[t.file('counter.js')]

  assert.throws(() => isolate('fn'), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' })
  assert.throws(() => isolate(() => {}, { keep: 1 }), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' })
  assert.throws(() => isolate(() => {}, { onRestore: 'x' }), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' })
  assert.throws(() => isolate(() => {}, 5), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' })
})
