'use strict'
// Isolation for test runners that call hooks around each test (node:test, Mocha, Vitest): a
// snapshot before each test restored after it (`eachScope`), or one per test file restored when
// the next file starts and at the end of the run (`fileScope`). What the runner, the test files
// and `before`/`beforeAll` hooks loaded earlier stays; so do packages (`keep`, by default every
// module under node_modules), whose own state is theirs to reset in `onRestore`.
//
// Hooks cannot wrap the test in an AsyncLocalStorage context the way isolate() does (node:test
// runs the test function in its own async scope), so overlapping tests are told apart by name
// instead: snapshots of tests that run one after another nest (an outer test with subtests:
// "outer", then "outer > inner"), and a test that starts while one that is not its ancestor is
// still running, or a test that ends while a later one is still running, is an overlap.
const { openSnapshot } = require('./snapshot.js')
const { parseIsolateOptions } = require('../options.js')
const { explain, invalidArgValue } = require('../errors.js')

/** What the runner integrations keep loaded unless told otherwise: installed packages. */
const DEFAULT_KEEP = /[\\/]node_modules[\\/]/

/**
 * The options every runner integration takes: `keep` (default DEFAULT_KEEP; `null` keeps
 * nothing), `onRestore(report, testOrFile)`, `per: 'test' | 'file'` (default `defaultPer`).
 */
function parseRunnerOptions(options, defaultPer = 'test') {
  const o = parseIsolateOptions(
    options !== null && typeof options === 'object' && options.keep === null ? { ...options, keep: undefined } : options,
    'isolateEach',
  )
  const per = options?.per ?? defaultPer
  if (per !== 'test' && per !== 'file') throw invalidArgValue('options.per', per, "must be 'test' or 'file'")
  const keep = options?.keep === null ? undefined : (o.keep ?? DEFAULT_KEEP)
  return { keep, onRestore: o.onRestore, per }
}

/**
 * @param {{ keep?: RegExp | ((id: string) => boolean) | null, onRestore?: (report: object, test: unknown) => void }} [options]
 * @returns {{ begin(test: unknown, name?: string): void, end(test: unknown, name?: string): object | undefined }}
 */
function eachScope(options) {
  // A wrong or unknown option fails here, where it was written, not in the first test.
  const o = parseRunnerOptions(options)
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

/**
 * Per-file isolation for runners that run the tests of one file after another in one process
 * but have no hook around a file: `enter(file)` before each test restores the previous file's
 * snapshot when the file changed and opens one for the new file; `finish()` after the last test
 * restores the last one. What a file's tests and its `beforeEach`/`before` hooks load is fresh
 * per file; what the runner loaded before the first test (all spec files' top-level requires, in
 * Mocha and node:test's isolation-off mode) is not.
 */
function fileScope(options) {
  const o = parseRunnerOptions(options, 'file')
  let current // { file, snap, stop }
  const close = () => {
    const entry = current
    current = undefined
    let report
    try {
      report = entry.snap.restore()
    } finally {
      entry.stop()
    }
    if (o.onRestore !== undefined) o.onRestore(report, entry.file)
    return report
  }
  return {
    enter(file) {
      if (current !== undefined && current.file === file) return undefined
      const report = current === undefined ? undefined : close()
      const { snapshot, stop } = openSnapshot({ keep: o.keep })
      current = { file, snap: snapshot, stop }
      return report
    },
    finish() {
      return current === undefined ? undefined : close()
    },
  }
}

module.exports = { eachScope, fileScope, parseRunnerOptions, DEFAULT_KEEP }
