'use strict'
// A node:test reporter that prints nothing and notes whether anything failed, suites included:
// Node 22 reports a suite whose hook or body threw as failed but exits 0 when none of its tests
// failed. child.js reads the note when the process exits (`uncache-tree test` exits 1 then).
const FAILED = Symbol.for('uncache-tree.test-runner.failed')

module.exports = async function* uncacheTreeFailures(source) {
  for await (const event of source) {
    if (event.type === 'test:fail' && !event.data?.todo) globalThis[FAILED] = true
  }
}
module.exports.FAILED = FAILED
