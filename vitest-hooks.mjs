// `uncache-tree/vitest/hooks`: the Vitest isolation hooks with options, for a setup file of your
// own (`test.setupFiles`). Vitest evaluates every setup file again before each test file, so each
// call registers hooks for the file about to run. `uncache-tree/vitest` is this with the defaults.
//
// What this isolates is what lives in `require.cache`: CommonJS code that tests load with
// `createRequire`, and the CommonJS dependencies Vitest leaves to Node. Modules Vitest itself
// transforms and runs are reset by `vi.resetModules()`, not by this.
import { createRequire } from 'node:module'
import { afterAll, afterEach, beforeEach } from 'vitest'

const require = createRequire(import.meta.url)
const { openSnapshot } = require('./lib/isolation/snapshot.js')
const { eachScope, parseRunnerOptions } = require('./lib/isolation/each.js')

/** One snapshot now, before the test file is imported, restored after its last test. */
function openFileScope(o) {
  const { snapshot, stop } = openSnapshot({ keep: o.keep })
  // No declared parameter: Vitest 4 reads the first one as a fixture pattern. The file task is
  // the second argument there (the first in Vitest 3).
  afterAll(function uncacheTreeRestoreFile() {
    const file = [...arguments].find((a) => typeof a?.filepath === 'string')
    let report
    try {
      report = snapshot.restore()
    } finally {
      stop()
    }
    if (o.onRestore !== undefined) o.onRestore(report, file?.filepath)
  })
}

/**
 * Every test file starts with fresh app modules: a snapshot before the file is imported, restored
 * after its last test. Packages under node_modules stay loaded (`keep` replaces the pattern,
 * `keep: null` keeps nothing); `onRestore(report, file)` runs after each restore.
 */
export function isolateFiles(options) {
  openFileScope(parseRunnerOptions(options, 'file'))
}

/**
 * Every test starts with fresh app modules: {@link isolateFiles}, plus a snapshot before each
 * test restored after it (`onRestore(report, test)` after each test's restore, and after the
 * file's with the file path).
 */
export function isolateTests(options) {
  const o = parseRunnerOptions(options, 'test')
  openFileScope(o)
  const scope = eachScope(options)
  beforeEach((context) => {
    scope.begin(context.task, undefined)
  })
  afterEach((context) => {
    scope.end(context.task, undefined)
  })
}
