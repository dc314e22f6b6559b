'use strict'
// `mocha --require uncache-tree/mocha`: a root hook plugin that gives every test fresh copies of
// the modules it requires (spec files and what `before` hooks load stay). `createMochaHooks`
// builds the same hooks with options, for a root hook file of your own.
const { eachScope } = require('./lib/isolation/each.js')

function createMochaHooks(options) {
  const scope = eachScope(options)
  return {
    // Mocha calls hooks with the Context as `this`; `currentTest` is the test about to run.
    beforeEach() {
      const test = this?.currentTest
      scope.begin(test, typeof test?.fullTitle === 'function' ? test.fullTitle() : undefined)
    },
    afterEach() {
      scope.end(this?.currentTest)
    },
  }
}

exports.mochaHooks = createMochaHooks()
exports.createMochaHooks = createMochaHooks
