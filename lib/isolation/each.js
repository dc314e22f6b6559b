'use strict'
// Per-test isolation for runners that call a hook before and after each test (node:test, Mocha):
// a snapshot before each test, restored after it, so every test requires fresh copies of what
// it loads while the runner, the test files and whatever `before`/`beforeAll` hooks loaded stay.
//
// Hooks cannot wrap the test in an AsyncLocalStorage context the way isolate() does (node:test
// runs the test function in its own async scope), so overlapping tests are told apart by name
// instead: snapshots of tests that run one after another nest (an outer test with subtests:
// "outer", then "outer > inner"), and a test that starts while one that is not its ancestor is
// still running, or a test that ends while a later one is still running, is an overlap.
const { openSnapshot } = require('./snapshot.js')
const { parseIsolateOptions } = require('../options.js')
const { explain } = require('../errors.js')

/**
 * @param {{ keep?: RegExp | ((id: string) => boolean), onRestore?: (report: object, test: unknown) => void }} [options]
 * @returns {{ begin(test: unknown, name?: string): void, end(test: unknown, name?: string): object | undefined }}
 */
function eachScope(options) {
  // A wrong or unknown option fails here, where it was written, not in the first test.
  const o = parseIsolateOptions(options, 'isolateEach')
  const snapshotOptions = { keep: o.keep }
  const active = [] // { test, name, snap, stop }, innermost last
  const label = (entry) => (entry.name === undefined ? 'a test' : `test '${entry.name}'`)

  return {
    begin(test, name) {
      const top = active[active.length - 1]
      // Without names nesting cannot be told from overlap here; end() still catches the overlap.
      if (top !== undefined && name !== undefined && top.name !== undefined && !name.startsWith(`${top.name} > `)) {
        throw explain.isolateOverlap(`${label(top)} (isolated per test)`, label({ name }))
      }
      const { snapshot, stop } = openSnapshot(snapshotOptions)
      active.push({ test, name, snap: snapshot, stop })
    },
    end(test, name) {
      let at = active.length - 1
      while (at >= 0 && active[at].test !== test && (name === undefined || active[at].name !== name)) at--
      if (at < 0) return undefined // its begin() threw, or never ran
      const entry = active[at]
      if (at !== active.length - 1) {
        // A later test is still running: restoring now would unload what it is using. Leave
        // everything loaded and say so; the later test restores its own snapshot when it ends.
        active.splice(at, 1)
        entry.stop()
        throw explain.isolateOverlap(`${label(entry)} (isolated per test)`, label(active[active.length - 1]))
      }
      active.pop()
      let report
      try {
        report = entry.snap.restore()
      } finally {
        entry.stop()
      }
      if (o.onRestore !== undefined) o.onRestore(report, test)
      return report
    },
  }
}

module.exports = { eachScope }
