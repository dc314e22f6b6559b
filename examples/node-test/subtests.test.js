'use strict'
// Run: node --test examples/node-test/
//
// isolateEach(t) isolates only the subtests of one test. The other tests of this file are not
// isolated, so their module state carries over from one test to the next, as it normally does.
const { test } = require('node:test')
const assert = require('node:assert/strict')
// In your project: require('uncache-tree/node-test')
const { isolateEach } = require('../../node-test.js')

test('each case', async (t) => {
  isolateEach(t)
  for (const name of ['case one', 'case two', 'case three']) {
    await t.test(name, () => {
      const counter = require('./counter.js')
      assert.equal(counter.increment(), 1, 'a fresh copy in every subtest')
      console.log(`counter.js copy ${counter.copy} in "${name}"`)
    })
  }
  assert.equal(require.cache[require.resolve('./counter.js')], undefined, 'nothing left loaded')
})

test('without isolation, module state carries over', () => {
  assert.equal(require('./counter.js').increment(), 1)
})

test('...into the next test', () => {
  assert.equal(require('./counter.js').increment(), 2)
})
