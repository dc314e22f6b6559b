'use strict'
// Starts the test process of `uncache-tree test` (lib/test-runner/child.js) and, with --watch,
// watches the files the tests loaded and re-runs the test files a change reaches.
//
// node:test reports once per process, when the process is about to exit, so a re-run needs a new
// process. To keep the packages loaded anyway, the watcher keeps one process in standby: started
// after each run, it loads the modules the last run kept (the packages) and waits; at the next
// change it runs the affected files with its packages already warm, and the next standby starts.
const { spawn } = require('node:child_process')
const crypto = require('node:crypto')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { isTestFile } = require('./files.js')

const CHILD = path.join(__dirname, 'child.js')
const REGISTER = path.join(__dirname, '..', '..', 'register.js')
const FAILURES = path.join(__dirname, 'failures.js')
const DEBOUNCE_MS = 30

/** node's arguments for a test process: preloads, reporters, the runner and its configuration. */
function childArgs(options, config) {
  // uncache-tree's requirer registry first, before the user's preloads (see register.js).
  const args = ['--require', REGISTER]
  for (const name of options.require) args.push('--require', name)
  options.reporters.forEach((reporter, i) => {
    args.push(`--test-reporter=${reporter}`, `--test-reporter-destination=${options.destinations[i]}`)
  })
  args.push(`--test-reporter=${FAILURES}`, '--test-reporter-destination=stderr')
  // The configuration goes through a file: a long file list would not fit in one argument.
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'uncache-tree-test-')), 'config.json')
  fs.writeFileSync(file, JSON.stringify({ cwd: options.cwd, per: options.per, keep: serializeKeep(options.keep), ...config }))
  args.push(CHILD, file)
  return args
}

const serializeKeep = (keep) => (keep === null ? null : { source: keep.source, flags: keep.flags })

function startChild(options, config, ipc) {
  // A `node --test` run that started this command sets NODE_TEST_CONTEXT: inherited, it would make
  // the test process write node:test's internal protocol instead of the reporter's output.
  const { NODE_TEST_CONTEXT, ...env } = process.env
  return spawn(process.execPath, childArgs(options, config), {
    cwd: options.cwd,
    env,
    // With the IPC channel, fd 4 carries the exit code the moment it is decided: the process
    // still tears its heap down afterwards, and a watcher need not wait for that.
    stdio: ipc ? ['inherit', 'inherit', 'inherit', 'ipc', 'pipe'] : 'inherit',
  })
}

/** Runs `options.files` in one test process; resolves to whether every test passed. */
function runOnce(options) {
  const child = startChild(options, { files: options.files }, false)
  const forward = (signal) => child.kill(signal)
  process.on('SIGINT', forward).on('SIGTERM', forward)
  return new Promise((resolve) => {
    child.on('exit', (code) => {
      process.off('SIGINT', forward).off('SIGTERM', forward)
      resolve(code === 0)
    })
  })
}

/**
 * One run with an IPC channel: resolves to `{ passed, loaded, kept }`, where `loaded` maps each
 * test file to the files it loaded. `child` is a standby process to send the files to, or null.
 */
function runReporting(options, files, child) {
  const loaded = new Map()
  let kept = []
  if (child === null) child = startChild(options, { files }, true)
  else child.send({ type: 'run', files })
  return new Promise((resolve) => {
    child.on('message', (message) => {
      if (message?.type === 'file') loaded.set(message.file, new Set(message.loaded))
      else if (message?.type === 'done') kept = message.kept
    })
    let settled = false
    const settle = (code) => {
      if (settled) return
      settled = true
      resolve({ passed: code === 0, loaded, kept, child })
    }
    let decided = ''
    child.stdio[4].setEncoding('utf8')
    child.stdio[4].on('data', (text) => {
      decided += text
      if (/^\d+\n/.test(decided)) settle(Number.parseInt(decided, 10))
    })
    child.on('exit', (code) => settle(code))
  })
}

const fingerprint = (file) => {
  try {
    return crypto.createHash('sha1').update(fs.readFileSync(file)).digest('hex')
  } catch {
    return null // deleted
  }
}

/** `uncache-tree test --watch`: a first run of every file, then re-runs of the affected ones. */
async function runWatching(options) {
  const files = [...options.files]
  const loadedBy = new Map() // test file → files it loaded
  const prints = new Map() // watched file → content hash
  const watchers = new Map() // folder → fs.FSWatcher
  const folders = new Set(options.files.map((f) => path.dirname(f)))
  let standby = null
  let status = 0
  let running = false
  let pending = new Set()
  let timer = null
  let firstEventAt = 0
  const log = (line) => process.stderr.write(`uncache-tree test: ${line}\n`)

  function startStandby(kept) {
    // The app modules the last run loaded (test files aside): loading them once in the standby,
    // and unloading them, compiles the package code they call, so the re-run does not pay for it.
    const warm = new Set()
    for (const deps of loadedBy.values()) for (const dep of deps) if (!files.includes(dep)) warm.add(dep)
    const child = startChild(options, { standby: true, preload: kept, warm: [...warm] }, true)
    child.on('exit', () => {
      if (standby === child) standby = null
    })
    standby = child
  }

  function watchFolder(folder) {
    if (watchers.has(folder)) return
    try {
      const watcher = fs.watch(folder, (event, name) => {
        if (name) changed(path.join(folder, name.toString()))
      })
      watcher.on('error', () => watchers.delete(folder))
      watchers.set(folder, watcher)
    } catch {
      // A folder deleted meanwhile: its files count as changed when the next run loads them.
    }
  }

  function track(result) {
    for (const [file, deps] of result.loaded) {
      const own = new Set([...deps].filter((dep) => !options.keep?.test(dep)))
      own.add(file)
      loadedBy.set(file, own)
      for (const dep of own) {
        if (!prints.has(dep)) prints.set(dep, fingerprint(dep))
        watchFolder(path.dirname(dep))
      }
    }
    for (const folder of folders) watchFolder(folder)
    status = result.passed ? 0 : 1
    startStandby(result.kept)
  }

  function changed(file) {
    if (!running && pending.size === 0) firstEventAt = performance.now()
    pending.add(file)
    clearTimeout(timer)
    timer = setTimeout(flush, DEBOUNCE_MS)
  }

  async function flush() {
    if (running) return // flushed again when the run ends
    const changedFiles = [...pending].filter((file) => {
      const now = fingerprint(file)
      const known = prints.has(file)
      if (known && prints.get(file) === now) return false
      if (!known && (now === null || !isTestFile(file, false))) return false
      prints.set(file, now)
      return true
    })
    pending = new Set()
    if (changedFiles.length === 0) return
    for (const file of changedFiles) {
      if (!files.includes(file) && fs.existsSync(file) && isTestFile(file, false) && folders.has(path.dirname(file))) files.push(file)
    }
    const affected = files.filter((test) => fs.existsSync(test) && changedFiles.some((f) => f === test || loadedBy.get(test)?.has(f)))
    if (affected.length === 0) return
    running = true
    const names = changedFiles.map((f) => path.relative(options.cwd, f)).join(', ')
    const result = await runReporting(options, affected, standby)
    const ms = Math.round(performance.now() - firstEventAt)
    log(`re-ran ${affected.length} file${affected.length === 1 ? '' : 's'} after a change to ${names} in ${ms} ms: ${result.passed ? 'passed' : 'failed'}`)
    running = false
    track(result)
    if (pending.size > 0) flush()
  }

  const stop = () => {
    for (const watcher of watchers.values()) watcher.close()
    standby?.kill()
    clearTimeout(timer)
    process.exitCode = status
    process.off('SIGINT', stop).off('SIGTERM', stop)
  }
  process.on('SIGINT', stop).on('SIGTERM', stop)
  running = true
  const first = await runReporting(options, files, null)
  running = false
  for (const file of files) prints.set(file, fingerprint(file))
  track(first)
  log(`watching ${prints.size} files for changes (Ctrl+C to stop)`)
  if (pending.size > 0) flush()
}

module.exports = { runOnce, runWatching, childArgs }
