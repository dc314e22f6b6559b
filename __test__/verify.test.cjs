'use strict'
// verifyCollected(report, { timeoutMs }): weak references taken at unload time, collection
// forced without --expose-gc, a bounded wait. Each test unloads a tree written into its own temp
// directory and checks the exact ids reported.
const test = require('node:test')
const assert = require('node:assert/strict')
const { uncacheTree, verifyCollected } = require('../index.js')
const { writeTree, requiring } = require('./helpers/fixtures.cjs')

/** a → b → c, each holding 64k small objects so a survivor would be worth finding. */
function abc() {
  const payload = 'const payload = Array.from({ length: 65536 }, (_, i) => ({ i }))\n'
  return writeTree({
    'a.js': payload + requiring('a', ['./b.js']).replace('name:', 'payload, name:'),
    'b.js': payload + requiring('b', ['./c.js']).replace('name:', 'payload, name:'),
    'c.js': payload + requiring('c').replace('name:', 'payload, name:'),
  })
}

test('a clean tree verifies as fully collected, every removed id listed in order', async () => {
  const t = abc()
  require(t.file('a.js'))
  const report = uncacheTree(t.file('a.js'))
  assert.deepEqual(report.removed, [t.file('a.js'), t.file('b.js'), t.file('c.js')])
  const result = await verifyCollected(report)
  assert.deepEqual(result, { collected: report.removed, alive: [] })
})

test('timeoutMs: 0 right after the unload still sees the collection (no same-job false alarm)', async () => {
  // The report's weak references are created by the unload, in this job; a collection forced
  // before the job ends cannot free their targets. verifyCollected must leave the job first.
  const t = abc()
  require(t.file('a.js'))
  const report = uncacheTree(t.file('a.js'))
  const result = await verifyCollected(report, { timeoutMs: 0 })
  assert.deepEqual(result, { collected: report.removed, alive: [] })
})

test('a module the test itself still holds is reported alive; the rest collected', async () => {
  const t = abc()
  require(t.file('a.js'))
  let held = require.cache[t.file('a.js')] // a strong reference to the root's Module object
  const report = uncacheTree(t.file('a.js'))
  const started = Date.now()
  const result = await verifyCollected(report, { timeoutMs: 300 })
  const elapsed = Date.now() - started
  assert.deepEqual(result, { collected: [t.file('b.js'), t.file('c.js')], alive: [t.file('a.js')] })
  assert.ok(elapsed >= 250, `waited for the timeout before calling a alive (${elapsed} ms)`)
  assert.ok(elapsed < 3000, `the wait is bounded by timeoutMs (${elapsed} ms)`)
  assert.equal(held.id, t.file('a.js'))

  // The same report can be verified again: once the reference is dropped, a is collected.
  held = null
  assert.deepEqual(await verifyCollected(report), { collected: report.removed, alive: [] })
})

test('holding a dependency also keeps its first requirer alive on Node >= 22 (Node\'s private parent slot)', async () => {
  // docs/node-internals.md §1a row 3: since Node 22 every Module keeps its first requirer in a
  // slot that no API clears, so whoever holds b.js also holds a.js. Node 20 has no such slot.
  const t = abc()
  require(t.file('a.js'))
  let held = require.cache[t.file('b.js')]
  const report = uncacheTree(t.file('a.js'))
  const result = await verifyCollected(report, { timeoutMs: 200 })
  const major = Number(process.versions.node.split('.')[0])
  const expectedAlive = major >= 22 ? [t.file('a.js'), t.file('b.js')] : [t.file('b.js')]
  assert.deepEqual(result.alive, expectedAlive)
  assert.deepEqual(result.collected, report.removed.filter((id) => !expectedAlive.includes(id)))
  assert.equal(held.id, t.file('b.js'))
  held = null
  assert.deepEqual((await verifyCollected(report)).alive, [])
})

test('a dry-run report verifies as { collected: [], alive: [] } and unloads nothing', async () => {
  const t = abc()
  const exportsBefore = require(t.file('a.js'))
  const report = uncacheTree(t.file('a.js'), { dryRun: true })
  assert.equal(report.removed.length, 3, 'the dry run lists what would be removed')
  assert.deepEqual(await verifyCollected(report), { collected: [], alive: [] })
  assert.equal(require(t.file('a.js')), exportsBefore, 'still loaded, same instance')
})

test('the report of an unload that found nothing cached verifies as empty', async () => {
  const t = abc()
  const report = uncacheTree(t.file('a.js'))
  assert.deepEqual(report.removed, [])
  assert.deepEqual(await verifyCollected(report), { collected: [], alive: [] })
})

test('a JSON copy of a report is refused with a RangeError ERR_INVALID_ARG_VALUE', async () => {
  const t = abc()
  require(t.file('a.js'))
  const report = uncacheTree(t.file('a.js'))
  const copy = JSON.parse(JSON.stringify(report))
  assert.deepEqual(copy, report, 'the copy has the documented shape')
  await assert.rejects(verifyCollected(copy), (error) => {
    assert.ok(error instanceof RangeError)
    assert.equal(error.code, 'ERR_INVALID_ARG_VALUE')
    assert.match(error.message, /report object an unload call returned/)
    return true
  })
  await assert.rejects(verifyCollected({ removed: [], kept: [], skipped: [], pinned: [], pathCacheEntries: 0, errors: [] }), {
    name: 'RangeError',
    code: 'ERR_INVALID_ARG_VALUE',
  })
})

test('a report that is not an object is a TypeError ERR_INVALID_ARG_TYPE', async () => {
  for (const bad of [undefined, null, 'report', 42]) {
    await assert.rejects(verifyCollected(bad), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' }, String(bad))
  }
})

test('bad timeoutMs and options are refused before anything is collected', async () => {
  const t = abc()
  require(t.file('a.js'))
  const report = uncacheTree(t.file('a.js'))
  await assert.rejects(verifyCollected(report, { timeoutMs: '100' }), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' })
  await assert.rejects(verifyCollected(report, 'fast'), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' })
  for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
    await assert.rejects(verifyCollected(report, { timeoutMs: bad }), { name: 'RangeError', code: 'ERR_INVALID_ARG_VALUE' }, String(bad))
  }
  // The refused calls did not consume the report.
  assert.deepEqual(await verifyCollected(report, { timeoutMs: 1000 }), { collected: report.removed, alive: [] })
})

test('works without --expose-gc and leaves no global gc behind', async () => {
  assert.equal(process.execArgv.includes('--expose-gc'), false)
  assert.equal(typeof globalThis.gc, 'undefined')
  const t = abc()
  require(t.file('a.js'))
  const report = uncacheTree(t.file('a.js'))
  assert.deepEqual((await verifyCollected(report)).alive, [])
  assert.equal(typeof globalThis.gc, 'undefined')
})
