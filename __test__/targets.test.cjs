'use strict'
// Every kind of target the API contract (README.md/index.d.ts) accepts, resolved exactly as
// require() would resolve it.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { pathToFileURL } = require('node:url')
const { uncacheTree } = require('..')
const { writeTree, requiring } = require('./helpers/fixtures.cjs')

const PACKAGE = JSON.stringify(path.join(__dirname, '..'))

function tree() {
  return writeTree({
    'a.js': requiring('a', ['./b']),
    'b.js': requiring('b'),
    'dir/index.js': requiring('dir'),
    'node_modules/left-pad/package.json': '{"name":"left-pad","main":"lib/pad.js"}',
    'node_modules/left-pad/lib/pad.js': requiring('left-pad'),
    // A caller in another directory: its relative specifiers resolve from there, not from cwd.
    'caller/unload.js': `const { uncacheTree } = require(${PACKAGE})\n` +
      'module.exports = (target, options) => uncacheTree(target, options)\n',
    'caller/a.js': requiring('caller-a'),
    'caller/node_modules/left-pad/index.js': requiring('caller-left-pad'),
    'esm-caller/unload.mjs': `import { uncacheTree } from ${JSON.stringify(pathToFileURL(path.join(__dirname, '..', 'index.mjs')).href)}\n` +
      'export default (target) => uncacheTree(target)\n',
    'esm-caller/a.js': requiring('esm-caller-a'),
  })
}

test('an absolute path, with or without extension, and a directory with index.js', () => {
  const t = tree()
  for (const [target, key] of [
    [t.file('a.js'), t.file('a.js')],
    [t.file('a'), t.file('a.js')],
    [t.file('dir'), t.file('dir/index.js')],
  ]) {
    require(key)
    assert.deepEqual(uncacheTree(target).removed[0], key, String(target))
    assert.equal(require.cache[key], undefined)
  }
})

test('a file: URL, as a string and as a URL object', () => {
  const t = tree()
  for (const target of [pathToFileURL(t.file('a.js')).href, pathToFileURL(t.file('a.js'))]) {
    require(t.file('a.js'))
    assert.deepEqual(uncacheTree(target).removed, [t.file('a.js'), t.file('b.js')])
  }
})

test('relative and bare specifiers resolve from the calling file, not from cwd or this package', () => {
  const t = tree()
  const unloadFromCaller = require(t.file('caller/unload.js'))
  require(t.file('caller/a.js'))
  require(t.file('a.js'))
  assert.deepEqual(unloadFromCaller('./a').removed, [t.file('caller/a.js')])
  assert.ok(require.cache[t.file('a.js')], "the caller's ./a is not the test's")
  require(t.file('caller/node_modules/left-pad/index.js'))
  assert.deepEqual(unloadFromCaller('left-pad').removed, [t.file('caller/node_modules/left-pad/index.js')])
})

test('an ESM caller resolves relative specifiers from its own file', async () => {
  const t = tree()
  const { default: unloadFromEsm } = await import(pathToFileURL(t.file('esm-caller/unload.mjs')).href)
  require(t.file('esm-caller/a.js'))
  assert.deepEqual(unloadFromEsm('./a').removed, [t.file('esm-caller/a.js')])
})

test('options.from as a path or a file: URL; bare specifiers through node_modules and package.json main', () => {
  const t = tree()
  for (const from of [t.file('a.js'), pathToFileURL(t.file('a.js')), pathToFileURL(t.file('a.js')).href]) {
    require(t.file('node_modules/left-pad/lib/pad.js'))
    assert.deepEqual(uncacheTree('left-pad', { from }).removed, [t.file('node_modules/left-pad/lib/pad.js')])
  }
  require(t.file('b.js'))
  assert.deepEqual(uncacheTree('./b', { from: t.file('a.js') }).removed, [t.file('b.js')])
})

test('a Module object, e.g. require.cache[id]', () => {
  const t = tree()
  require(t.file('a.js'))
  const m = require.cache[t.file('a.js')]
  assert.deepEqual(uncacheTree(m).removed, [t.file('a.js'), t.file('b.js')])
  assert.deepEqual(uncacheTree(m).removed, [], 'a Module that is no longer cached: nothing to do')
})

test('a module deleted from disk stays unloadable by its cache key and by a relative specifier', () => {
  const t = tree()
  require(t.file('a.js'))
  fs.rmSync(t.file('a.js'))
  fs.rmSync(t.file('b.js'))
  assert.deepEqual(uncacheTree('./b', { from: t.file('a.js') }).removed, [t.file('b.js')])
  require(t.file('caller/a.js'))
  assert.deepEqual(uncacheTree(t.file('a.js')).removed, [t.file('a.js')])
})

test('neither cached nor resolvable: ERR_UNCACHE_UNRESOLVED naming the specifier and where it was resolved from', () => {
  const t = tree()
  for (const [target, options] of [
    ['./nope', { from: t.file('a.js') }],
    ['no-such-package-anywhere', undefined],
    [t.file('missing.js'), undefined],
  ]) {
    assert.throws(
      () => uncacheTree(target, options),
      (error) => {
        assert.equal(error.code, 'ERR_UNCACHE_UNRESOLVED')
        assert.ok(error.message.includes(`Cannot find module '${target}'`), error.message)
        assert.ok(error.cause instanceof Error, 'the resolver error is the cause')
        return true
      },
    )
  }
})

test('resolvable but not loaded: an empty report', () => {
  const t = tree()
  assert.deepEqual(uncacheTree(t.file('dir')).removed, [])
  assert.deepEqual(uncacheTree('./b', { from: t.file('a.js') }).removed, [])
})
