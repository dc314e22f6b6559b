'use strict'
// Run: npx mocha --require ./mocha.js examples/mocha/counter.spec.js
// (in your project: mocha --require uncache-tree/mocha, or `require: ['uncache-tree/mocha']`
// in .mocharc.json: Mocha ignores a `.mocharc` without an extension)
//
// The root hook plugin snapshots require.cache before every test and restores it after: each
// test requires its own fresh copy of counter.js, while config.js, loaded by this file before
// any test, and db.js, loaded by a `before` hook, stay one shared instance.
const assert = require('node:assert/strict')

const config = require('./config.js')

describe('counter', function () {
  let db
  before(function () {
    // Loaded outside any test, so no test's snapshot covers it: it stays for the whole suite.
    db = require('./db.js')
  })

  it('counts from zero in the first test', function () {
    const counter = require('./counter.js')
    assert.equal(counter.increment(), 1)
    assert.equal(counter.increment(), 2)
    console.log(`counter.js copy ${counter.copy} in "${this.test.title}"`)
  })

  it('counts from zero again in the next test', function () {
    const counter = require('./counter.js')
    assert.equal(counter.increment(), 1, 'no count left over from the first test')
    console.log(`counter.js copy ${counter.copy} in "${this.test.title}"`)
  })

  it('shares the fixtures loaded before the tests', function () {
    const counter = require('./counter.js')
    assert.equal(counter.config, config)
    assert.equal(require('./db.js'), db)
    db.queries++
    console.log(`counter.js copy ${counter.copy} in "${this.test.title}"`)
  })

  after(function () {
    assert.equal(require('./db.js').queries, 1, 'the before-hook fixture kept its state')
  })
})
