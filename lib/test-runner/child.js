'use strict'
// The process `uncache-tree test` starts: runs node:test files one after another in this one
// process, under node:test's own root and reporters. Each file is a suite (named by its path)
// whose function takes a snapshot and requires the file, so the file's top-level tests, suites
// and hooks belong to it alone; the suite's last `after` hook restores the snapshot (every app
// module the file loaded is unloaded, packages matching `keep` stay) and only then creates the
// next file's suite. Files are loaded one at a time because a file's top-level require()s must
// be fresh too: loading them all first (as `--test-isolation=none` and Mocha do) would share
// them between files.
//
// Run as `node [--require …] [--test-reporter …] child.js <config file>`. With an IPC channel
// (watch mode) it reports what each file loaded (`{ type: 'file', file, loaded }`) and, at the
// end, which kept modules are loaded (`{ type: 'done', kept }`); with `standby` it first loads
// the kept modules of the previous run and waits for `{ type: 'run', files }`.
const fs = require('node:fs')
const path = require('node:path')
const { AsyncResource } = require('node:async_hooks')
const { describe, beforeEach, afterEach, after } = require('node:test')
const { openSnapshot } = require('../isolation/snapshot.js')
const { eachScope } = require('../isolation/each.js')
const { state } = require('../graph/state.js')
const { on } = require('../graph/hooks.js')
const { FAILED } = require('./failures.js')

// The configuration file run.js wrote for this process alone, in a folder of its own.
const configFile = process.argv[2]
const config = JSON.parse(fs.readFileSync(configFile, 'utf8'))
fs.rmSync(configFile)
if (path.basename(path.dirname(configFile)).startsWith('uncache-tree-test-')) fs.rmdirSync(path.dirname(configFile))
const keep = config.keep === null ? null : new RegExp(config.keep.source, config.keep.flags)
const cwd = config.cwd

/** `onRestore` hooks registered through uncache-tree/node-test (preloads, test files). */
function runRestoreHooks(report, fileOrTest) {
  for (const hook of state.testRunnerRestoreHooks ?? []) hook(report, fileOrTest)
}

const label = (file) => {
  const relative = path.relative(cwd, file)
  return relative.startsWith('..') ? file : relative
}

let loaded = null // filenames loaded while the current file runs (watch mode)
if (process.send !== undefined) {
  on('load', function uncacheTreeTestRecordLoads(m, filename) {
    if (loaded !== null && typeof filename === 'string') loaded.add(filename)
  })
}

// Set when a file could not finish cleanly (it threw while loading, a hook threw before the
// restore): Node 22 would exit 0 for it. failures.js notes every other failure, suites included.
let loadFailed = false
process.on('exit', (code) => {
  if (globalThis[FAILED] === true) loadFailed = true
  if (loadFailed) process.exitCode = 1
  // The watcher's result pipe (see run.js): the exit code, before the heap is torn down.
  if (process.send !== undefined) {
    try {
      fs.writeSync(4, `${loadFailed ? 1 : (process.exitCode ?? code)}\n`)
    } catch {
      // Started with an IPC channel by something else than run.js: there is no fd 4.
    }
  }
})

function runFiles(files) {
  let next = 0
  // Bound here, at the top: called from a suite's hook, it would otherwise nest the next file's
  // suite in the current one (node:test picks the parent from the async context it is called in).
  const startNextFile = AsyncResource.bind(function describeNextFile() {
    if (next === files.length) return finish()
    const file = files[next++]
    let snapshot
    let stop
    let restored = false
    const restore = () => {
      if (restored) return
      restored = true
      try {
        runRestoreHooks(snapshot.restore(), file)
      } finally {
        stop()
        if (loaded !== null) process.send({ type: 'file', file, loaded: [...loaded] })
        loaded = null
      }
    }
    const suite = describe(label(file), () => {
      if (process.send !== undefined) loaded = new Set()
      ;({ snapshot, stop } = openSnapshot({ keep: keep ?? undefined }))
      let scope
      if (config.per === 'test') {
        scope = eachScope({ keep, onRestore: runRestoreHooks })
        beforeEach((t) => scope.begin(t, t?.fullName))
      }
      try {
        require(file)
      } catch (error) {
        // node:test reports the suite as failed, but Node 22 counts no failed test for it and
        // would exit 0: a file that cannot load fails the run.
        loadFailed = true
        throw error
      } finally {
        // Registered after the file's own hooks: they run first, with the file's modules loaded.
        if (scope !== undefined) afterEach((t) => scope.end(t, t?.fullName))
        after(restore)
      }
    })
    // At the root, describe() settles when the suite has finished, hooks included. The next file
    // starts from there, not from the hook above: node:test skips the `after` hooks that follow
    // one that threw, and the files after it must run all the same.
    suite.then(() => {
      if (!restored) {
        loadFailed = true
        try {
          restore()
        } catch (error) {
          process.emitWarning(error, { code: 'UNCACHE_TREE_RESTORE_FAILED' })
        }
      }
      startNextFile()
    })
  })
  startNextFile()
}

/** After the last file: tells the watcher which kept modules are loaded, and lets the process end. */
function finish() {
  if (process.send === undefined) return
  const keptModules = keep === null ? [] : Object.keys(require.cache).filter((id) => keep.test(id))
  process.send({ type: 'done', kept: keptModules }, () => process.disconnect())
}

if (config.standby) {
  // Load what the previous run kept loaded, so that the next run finds its packages warm.
  for (const id of config.preload) {
    try {
      require(id)
    } catch {
      // A module that cannot load on its own (it expects its package's entry first): its
      // package's entry, earlier in the list, loads it where it can.
    }
  }
  // Then load the app modules the previous run loaded, and unload them: what the next run loads
  // is read from disk again, but the package code it calls is compiled already.
  if (config.warm.length > 0) {
    const { snapshot, stop } = openSnapshot({ keep: keep ?? undefined })
    for (const id of config.warm) {
      try {
        require(id)
      } catch {
        // Loaded by a test as it ran, not on its own: the warm-up is best effort.
      }
    }
    try {
      runRestoreHooks(snapshot.restore(), undefined)
    } finally {
      stop()
    }
  }
  process.once('message', (message) => runFiles(message.files))
  process.send({ type: 'ready' })
} else {
  runFiles(config.files)
}
