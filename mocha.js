'use strict'
// `mocha --require uncache-tree/mocha`: a root hook plugin that gives every test fresh copies of
// the modules it requires, packages under node_modules loaded once for the run (spec files and
// what `before` hooks load stay too). `createMochaHooks(options)` builds the same hooks with
// options (`per: 'file'`, `keep`, `onRestore`), for a root hook file of your own.
const { eachScope, fileScope, parseRunnerOptions } = require('./lib/isolation/each.js')

function createMochaHooks(options) {
  const { per } = parseRunnerOptions(options)
  if (per === 'file') {
    // Mocha has no hook around a spec file: the file of the test about to run tells when one ends.
    const scope = fileScope(options)
    return {
      beforeEach() {
        const test = this?.currentTest
        scope.enter(test?.file ?? '(unknown file)')
      },
      afterAll() {
        scope.finish()
      },
    }
  }
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
