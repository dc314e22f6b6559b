'use strict'
// Run: node --test examples/node-test/
//
// isolateEach() snapshots require.cache before each test of this file and restores it after:
// every test requires its own fresh copy of counter.js, so the count left by one test never
// leaks into the next, while config.js, loaded here before any test, stays one shared object.
const { describe, it, test } = require('node:test')
const assert = require('node:assert/strict')
// In your project: require('uncache-tree/node-test')
const { isolateEach } = require('../../node-test.js')

const config = require('./config.js')

isolateEach()

test('the first test counts from zero', () => {
  const counter = require('./counter.js')
  assert.equal(counter.increment(), 1)
  assert.equal(counter.increment(), 2)
  console.log(`counter.js copy ${counter.copy} in "the first test counts from zero"`)
})

test('the next test counts from zero again', () => {
  const counter = require('./counter.js')
  assert.equal(counter.increment(), 1, 'no count left over from the first test')
  console.log(`counter.js copy ${counter.copy} in "the next test counts from zero again"`)
})

test('the shared fixture keeps its identity', () => {
  const counter = require('./counter.js')
  assert.equal(counter.config, config)
  console.log(`counter.js copy ${counter.copy} in "the shared fixture keeps its identity"`)
})

describe('inside a suite', () => {
  it('gets a fresh copy too', () => {
    const counter = require('./counter.js')
    assert.equal(counter.increment(), 1)
    console.log(`counter.js copy ${counter.copy} in "gets a fresh copy too"`)
  })
})

test('subtests: the parent test keeps its copy while each subtest gets its own', async (t) => {
  const outer = require('./counter.js')
  outer.increment()
  await t.test('a subtest', () => {
    const inner = require('./counter.js')
    // The snapshot of this subtest was taken after the parent loaded counter.js: the parent's
    // copy was loaded before it, so the subtest shares it.
    assert.equal(inner, outer)
    assert.equal(inner.increment(), 2)
  })
  assert.equal(outer.increment(), 3)
  console.log(`counter.js copy ${outer.copy} in "subtests"`)
})
