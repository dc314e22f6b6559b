'use strict'
// hot(module): dispose handlers (importers first, on every unload path, errors collected), data
// handed to the next instance, argument checks.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const { hot, invalidate, uncacheTree } = require('..')
const { writeTree } = require('./helpers/fixtures.cjs')

const PKG = JSON.stringify(require.resolve('..'))

/** A module that logs its disposal into globalThis.disposeLog and requires `deps`. */
function disposing(name, deps = []) {
  return `
    const { hot } = require(${PKG})
    ${deps.map((d) => `require(${JSON.stringify(d)})`).join('\n')}
    hot(module).dispose(() => { (globalThis.disposeLog ??= []).push(${JSON.stringify(name)}) })
  `
}

test('dispose handlers run before the cut, importers before the modules they import', () => {
  globalThis.disposeLog = []
  const t = writeTree({
    'a.js': disposing('a', ['./b', './c']),
    'b.js': disposing('b', ['./d']),
    'c.js': disposing('c', ['./d']),
    'd.js': `
      const { hot } = require(${PKG})
      hot(module).dispose(() => {
        globalThis.disposeLog.push('d')
        globalThis.dCachedWhileDisposing = require.cache[__filename] === module
      })
    `,
  })
  require(t.file('a.js'))
  const report = invalidate(t.file('d.js'))
  assert.deepEqual([...report.removed].sort(), ['a.js', 'b.js', 'c.js', 'd.js'].map(t.file))
  const pos = (name) => globalThis.disposeLog.indexOf(name)
  assert.equal(globalThis.disposeLog.length, 4)
  assert.ok(pos('a') < pos('b') && pos('a') < pos('c'), globalThis.disposeLog.join())
  assert.ok(pos('b') < pos('d') && pos('c') < pos('d'), globalThis.disposeLog.join())
  assert.deepEqual(
    globalThis.disposeLog,
    report.removed.map((id) => id.slice(t.dir.length + 1, -3)),
    'the order of report.removed',
  )
  assert.equal(globalThis.dCachedWhileDisposing, true, 'handlers run before the module is cut')
})

test('data: undefined for a first instance, then the object the previous instance handed over', () => {
  const t = writeTree({
    'counter.js': `
      const { hot } = require(${PKG})
      const previous = hot(module).data
      module.exports = { previous, count: (previous?.count ?? 0) + 1 }
      hot(module).dispose((data) => { data.count = module.exports.count })
    `,
  })
  const first = require(t.file('counter.js'))
  assert.equal(first.previous, undefined)
  assert.equal(first.count, 1)
  invalidate(t.file('counter.js'))
  const second = require(t.file('counter.js'))
  assert.deepEqual(second.previous, { count: 1 })
  assert.equal(second.count, 2)
  uncacheTree(t.file('counter.js'))
  const third = require(t.file('counter.js'))
  assert.equal(third.count, 3, 'uncacheTree disposes and hands over too')
})

test('data is an empty object after handlers that stored nothing, undefined after an instance without handlers', () => {
  const t = writeTree({
    'm.js': `
      const { hot } = require(${PKG})
      globalThis.seenData = hot(module).data
      if (globalThis.registerHandler) hot(module).dispose(() => {})
    `,
  })
  globalThis.registerHandler = true
  require(t.file('m.js'))
  invalidate(t.file('m.js'))
  globalThis.registerHandler = false
  require(t.file('m.js'))
  assert.deepEqual(globalThis.seenData, {})
  invalidate(t.file('m.js'))
  require(t.file('m.js'))
  assert.equal(globalThis.seenData, undefined)
})

test('a throwing dispose handler is collected in report.errors; the others run, the unload completes', () => {
  const t = writeTree({
    'a.js': `
      const { hot } = require(${PKG})
      require('./b')
      hot(module).dispose(() => { throw new Error('a failed to close') })
      hot(module).dispose(() => { globalThis.aSecondHandler = true })
    `,
    'b.js': `
      const { hot } = require(${PKG})
      hot(module).dispose(() => { globalThis.bDisposed = true })
    `,
  })
  require(t.file('a.js'))
  const report = uncacheTree(t.file('a.js'))
  assert.deepEqual(report.removed, [t.file('a.js'), t.file('b.js')])
  assert.equal(report.errors.length, 1)
  assert.equal(report.errors[0].message, 'a failed to close')
  assert.equal(globalThis.aSecondHandler, true)
  assert.equal(globalThis.bDisposed, true)
  assert.equal(require.cache[t.file('a.js')], undefined)
  assert.equal(require.cache[t.file('b.js')], undefined)
})

test('dispose frees what cache surgery cannot: an interval stops when its module is unloaded', async () => {
  const t = writeTree({
    'ticker.js': `
      const { hot } = require(${PKG})
      globalThis.ticks = 0
      const timer = setInterval(() => globalThis.ticks++, 1)
      hot(module).dispose(() => clearInterval(timer))
    `,
  })
  const timersBefore = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length
  require(t.file('ticker.js'))
  await new Promise((resolve) => setTimeout(resolve, 20))
  assert.ok(globalThis.ticks > 0)
  uncacheTree(t.file('ticker.js'))
  const ticks = globalThis.ticks
  await new Promise((resolve) => setTimeout(resolve, 20))
  assert.equal(globalThis.ticks, ticks)
  assert.equal(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length, timersBefore)
})

test('argument checks: hot() takes a Module; accept/decline/dispose check before recording anything', () => {
  const t = writeTree({ 'm.js': 'exports.x = 1\n', 'dep.js': 'exports.y = 1\n' })
  require(t.file('m.js'))
  const m = require.cache[t.file('m.js')]
  for (const bad of [undefined, null, 'm.js', {}, { children: [] }]) {
    assert.throws(() => hot(bad), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' })
  }
  const h = hot(m)
  assert.equal(hot(m), h, 'one handle per module')
  assert.equal(Object.prototype.toString.call(h), '[object Hot]')
  assert.throws(() => h.dispose('nope'), { code: 'ERR_INVALID_ARG_TYPE' })
  assert.throws(() => h.accept(42), { code: 'ERR_INVALID_ARG_TYPE' })
  assert.throws(() => h.accept('./dep', 'nope'), { code: 'ERR_INVALID_ARG_TYPE' })
  assert.throws(() => h.accept(['./dep', 7]), { code: 'ERR_INVALID_ARG_TYPE' })
  assert.throws(() => h.accept(['./dep', '']), { code: 'ERR_INVALID_ARG_VALUE' })
  assert.throws(() => h.accept(['./dep', './missing']), { name: 'UncacheError', code: 'ERR_UNCACHE_UNRESOLVED' })
  assert.throws(() => h.decline(['./dep', 'fs']), { code: 'ERR_UNCACHE_BUILTIN' })
  assert.throws(() => h.decline(3), { code: 'ERR_INVALID_ARG_TYPE' })
  // nothing was recorded by the failed calls: an update of dep goes straight up to main
  require(t.file('dep.js'))
  const report = invalidate(t.file('dep.js'), { dryRun: true })
  assert.deepEqual(report.skipped, [{ id: __filename, reason: 'main' }])
})

test('an instance unloaded earlier that calls hot() late gets no data meant for the next instance', () => {
  const t = writeTree({
    'late.js': `
      const { hot } = require(${PKG})
      exports.later = () => hot(module).data
      if (globalThis.lateHandsOver) hot(module).dispose((data) => { data.from = 'second' })
    `,
  })
  globalThis.lateHandsOver = false
  const first = require(t.file('late.js'))
  uncacheTree(t.file('late.js'))
  globalThis.lateHandsOver = true
  require(t.file('late.js'))
  uncacheTree(t.file('late.js'))
  assert.equal(first.later(), undefined, 'the first instance is not the next one')
  const third = require(t.file('late.js'))
  assert.deepEqual(third.later(), { from: 'second' })
})
