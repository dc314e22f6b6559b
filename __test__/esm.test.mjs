// The ESM entry, and what the report says about modules Node's ESM side keeps (pinned).
import test from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { pathToFileURL } from 'node:url'
import * as api from 'uncache-tree'
import { uncacheTree, UncacheError, verifyCollected } from 'uncache-tree'
import fixtures from './helpers/fixtures.cjs'

const require = createRequire(import.meta.url)
const { writeTree, requiring } = fixtures

test('import and require give the same functions (one state, one registry)', () => {
  const cjs = require('uncache-tree')
  assert.equal(uncacheTree, cjs.uncacheTree)
  assert.equal(UncacheError, cjs.UncacheError)
  assert.equal(verifyCollected, cjs.verifyCollected)
  assert.equal(api.default, cjs)
  for (const name of Object.keys(cjs)) assert.equal(api[name], cjs[name], name)
})

test('a CJS module loaded by import() is removed and reported pinned by the ESM loader', async () => {
  const t = writeTree({ 'x.cjs': requiring('x', ['./y.cjs']), 'y.cjs': requiring('y') })
  const namespace = await import(pathToFileURL(t.file('x.cjs')).href)
  assert.equal(namespace.default.name, 'x')
  const report = uncacheTree(t.file('x.cjs'))
  assert.deepEqual(report.removed, [t.file('x.cjs'), t.file('y.cjs')])
  assert.deepEqual(report.pinned, [{ id: t.file('x.cjs'), by: 'esm-loader' }])
})

test('a require(esm) module is removed and reported pinned: Node will not evaluate it again', () => {
  const t = writeTree({ 'host.cjs': "module.exports = require('./m.mjs')\n", 'm.mjs': 'export const value = 1\n' })
  require(t.file('host.cjs'))
  const report = uncacheTree(t.file('host.cjs'))
  assert.deepEqual(report.removed, [t.file('host.cjs'), t.file('m.mjs')])
  assert.deepEqual(report.pinned, [{ id: t.file('m.mjs'), by: 'require-esm' }])
})

test('relative specifiers from an ESM test file resolve from that file', () => {
  require('./helpers/fixtures.cjs')
  const key = require.resolve('./helpers/fixtures.cjs')
  assert.deepEqual(uncacheTree('./helpers/fixtures.cjs').removed, [key])
})
