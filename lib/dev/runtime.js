'use strict'
// The part of `uncache-tree dev` that runs inside the program's process, preloaded with
// `node -r` before the program (and before the user's own --require hooks, so the requirer
// registry sees every module). It watches what the program loads and applies each change in
// place, with watch() semantics, in this order:
//   1. what changed: the entry, an ES module, or a --watch file that is not a module → restart;
//   2. compile the changed files through their extension's loader (compile-check.js): a syntax
//      error is printed with file:line:col and nothing is unloaded;
//   3. plan the invalidation without changing anything: when it reaches the entry (no module on
//      the way accepts the update) or a declining module → restart;
//   4. reload (invalidate, dispose handlers, require again, rollback when the new code throws);
//      an error thrown outside the changed files (a global registry refusing the new code) →
//      restart; one in them → printed, the old code keeps running until the next save;
//   5. one line on stderr; leak hints once the reload's closes have settled.
// A restart is asked of the supervisor (supervisor.js) with a line on file descriptor 3; with
// --no-restart the reason is printed instead. When the process ends, the files it had loaded go
// to the supervisor, which watches them to restart a crashed program at the next change.
const fs = require('node:fs')
const Module = require('node:module')
const path = require('node:path')
const { fileURLToPath, pathToFileURL } = require('node:url')

const CONFIG_ENV = 'UNCACHE_TREE_DEV'
const CHANNEL_FD = 3
// How long after a reload its asynchronous closes (server.close, worker exits) are given before
// the leak counts are taken.
const SETTLE_MS = 150
const PREFIX = '[uncache-tree]'
// This package's own files (its native binary, package.json) are not the program's.
const PACKAGE_DIR = path.join(__dirname, '..', '..') + path.sep

function start(config) {
  // Loaded here, not at the top: a forked worker of the program inherits `-r` but not the config,
  // and must not load the library for nothing. The loader patches go first, before the
  // program's first require.
  require('../loader/patches.js').install()
  const { createWatcher, classifyChanges, mainModule, DEFAULT_IGNORE } = require('../hot/watch.js')
  const { reloadKeys } = require('../hot/reload.js')
  const { invalidateKeys } = require('../hot/invalidate.js')
  const { isEsmByFormat } = require('../hot/esm.js')
  const { thrownFrames, describeThrownAt } = require('../hot/frames.js')
  const { isOwnFile } = require('../targets.js')
  const { compileCheck } = require('./compile-check.js')
  const { createLeakHints } = require('./leak-hints.js')
  const { makeIgnore } = require('./options.js')

  const cache = Module._cache
  const ignore = makeIgnore(config, DEFAULT_IGNORE)
  const esmEntry = isEsmByFormat(config.entry)
  const esmFiles = new Set() // ES modules the program imported (ESM entry only)
  const crashFiles = new Set() // user files on the stack of an uncaught error
  const dirty = new Set() // changed modules whose change is not applied yet (broken save, failed reload)
  const leaks = createLeakHints()
  let watcher
  let restartAsked = false
  let pendingLeakCheck

  const rel = (file) => {
    const r = path.relative(config.cwd, file)
    return r.startsWith('..') || path.isAbsolute(r) ? file : r
  }
  const list = (files) => {
    const names = files.map(rel)
    return names.length <= 3 ? names.join(', ') : `${names.slice(0, 3).join(', ')} (+${names.length - 3} more)`
  }
  const log = (line) => process.stderr.write(`${PREFIX} ${line}\n`)

  function send(message) {
    const bytes = Buffer.from(`${JSON.stringify(message)}\n`)
    // Synchronous: the last message is written from the 'exit' event. The channel is
    // non-blocking (it is also read, below), so a full pipe says EAGAIN until the supervisor reads.
    for (let offset = 0; offset < bytes.length; ) {
      try {
        offset += fs.writeSync(CHANNEL_FD, bytes, offset)
      } catch (error) {
        if (error.code !== 'EAGAIN') return // the supervisor is gone: nothing to tell
      }
    }
  }

  // The supervisor gone (killed with SIGKILL) ends the program too, through its own SIGTERM
  // handlers: an orphan would keep the port and the terminal.
  try {
    // Writable too: a socket made read-only shuts its sending side down, and the messages above would be lost.
    const channel = new (require('node:net').Socket)({ fd: CHANNEL_FD, readable: true, writable: true, allowHalfOpen: true })
    channel.on('end', () => process.kill(process.pid, 'SIGTERM'))
    channel.on('error', () => {})
    channel.resume()
    channel.unref()
  } catch {
    // Not a socket (a plain pipe on some platforms): the program outlives a killed supervisor.
  }

  function restart(reason) {
    if (config.noRestart) {
      log(`a restart is needed to apply this change: ${reason}. --no-restart: not restarting; the previous code keeps running.`)
      return
    }
    if (restartAsked) return
    restartAsked = true
    send({ type: 'restart', reason })
  }

  /** The user files this process knows of: the supervisor watches them once it has ended. */
  function knownFiles() {
    const files = new Set(watcher === undefined ? [config.entry] : watcher.watchedFiles())
    for (const key of Object.keys(cache)) {
      if (path.isAbsolute(key) && !key.startsWith(PACKAGE_DIR) && !ignore(key)) files.add(key)
    }
    for (const file of esmFiles) files.add(file)
    for (const file of crashFiles) files.add(file)
    return [...files]
  }

  process.on('uncaughtExceptionMonitor', (error) => {
    // A module that threw while loading is out of require.cache: its file is on the stack.
    const stack = String(error?.stack ?? '')
    for (const match of stack.matchAll(/((?:file:\/\/)?\/[^\s():]+):\d+/g)) {
      let file = match[1]
      try {
        if (file.startsWith('file:')) file = fileURLToPath(file)
      } catch {
        continue
      }
      if (!ignore(file) && !isOwnFile(file) && fs.existsSync(file)) crashFiles.add(file)
    }
  })
  process.on('exit', () => send({ type: 'files', files: knownFiles() }))

  /** The ES modules an ESM program imports, for the watcher (every change of one restarts). */
  function trackEsmLoads() {
    const seen = (url) => {
      if (typeof url !== 'string' || !url.startsWith('file:')) return
      const file = fileURLToPath(url)
      if (esmFiles.has(file) || ignore(file)) return
      esmFiles.add(file)
      // Now, not at the next rescan: a save made once the program is up must be a change.
      watcher?.watchNow(file)
    }
    if (typeof Module.registerHooks === 'function') {
      Module.registerHooks({
        load(url, context, nextLoad) {
          seen(url)
          return nextLoad(url, context)
        },
      })
      return
    }
    // Node 20: off-thread hooks; each loaded URL comes back through a port.
    const { MessageChannel } = require('node:worker_threads')
    const { port1, port2 } = new MessageChannel()
    port1.on('message', seen)
    port1.unref()
    const hooks = `export async function initialize({ port }) { globalThis.__uncacheTreePort = port }
export async function load(url, context, nextLoad) { globalThis.__uncacheTreePort.postMessage(url); return nextLoad(url, context) }`
    Module.register(`data:text/javascript,${encodeURIComponent(hooks)}`, {
      parentURL: pathToFileURL(__filename),
      data: { port: port2 },
      transferList: [port2],
    })
  }

  function reloadLine(files, report, ms) {
    if (config.quiet) return
    log(`reloaded ${list(files)}: ${report.removed.length} module(s) in ${ms.toFixed(1)} ms`)
  }

  function checkLeaksLater(before, files) {
    const check = () => {
      pendingLeakCheck = undefined
      clearTimeout(timer)
      for (const warning of leaks.after(before, files.map(rel))) log(`leak: ${warning.message}`)
    }
    const timer = setTimeout(check, SETTLE_MS)
    timer.unref()
    pendingLeakCheck = check
  }

  /** Steps 1-5 above, for one batch of changed files. */
  function apply({ changed, bubbled, tiedTo }) {
    // A reload starting before the last one's counts were taken takes them now.
    pendingLeakCheck?.()
    if (esmEntry) {
      restart(`${list(changed)} changed, and ${rel(config.entry)} is an ES module: Node never evaluates an ES module twice in a process`)
      return
    }
    const { modules, esm, others } = classifyChanges(cache, changed, tiedTo, config.entry)
    if (modules.includes(config.entry)) return restart(`the entry ${rel(config.entry)} changed`)
    if (esm.length > 0) return restart(`the ES module ${list(esm)} changed: Node never evaluates an ES module twice in a process`)
    if (others.length > 0) return restart(`${list(others)} changed (watched with --watch; not a module the program loaded)`)
    for (const key of [...modules, ...bubbled]) dirty.add(key)
    for (const key of dirty) if (cache[key] === undefined) dirty.delete(key)
    if (dirty.size === 0) return
    const keys = [...dirty]

    // 2. Compile before dispose.
    for (const file of keys) {
      const failure = compileCheck(file)
      if (failure !== undefined) {
        log(
          `${rel(failure.file)}:${failure.line}:${failure.column} ${failure.name}: ${failure.message}\n` +
            `${PREFIX} nothing was reloaded; the previous version keeps running. Save a fix to reload.`,
        )
        return
      }
    }

    // 3. Where the update stops, before anything changes.
    const plan = invalidateKeys(cache, keys, { dryRun: true, keep: undefined }, { fromFile: config.entry }).report
    for (const skip of plan.skipped) {
      if (skip.reason === 'main') {
        return restart(
          `the change of ${list(keys)} reaches the entry ${rel(config.entry)} through modules that do not accept it ` +
            '(hot(module).accept() in a module on the way applies it in place)',
        )
      }
      if (skip.reason === 'declined') {
        return restart(`the change of ${list(skip.blocked ?? keys)} reaches ${rel(skip.id)}, which declines updates`)
      }
    }

    // 4. Reload.
    const before = leaks.before()
    const startedAt = process.hrtime.bigint()
    let result
    try {
      result = reloadKeys(cache, keys, config.entry, config.entry, { keep: undefined })
    } catch (error) {
      if (error?.code !== 'ERR_UNCACHE_RELOAD_FAILED') {
        log(`reload of ${list(keys)} failed: ${error?.stack ?? error}`)
        return
      }
      const { thrownFile } = thrownFrames(error.cause)
      if (thrownFile !== undefined && !changed.includes(thrownFile) && !keys.includes(thrownFile)) {
        return restart(`reloading ${list(keys)} failed with an error thrown in ${rel(thrownFile)}, outside the changed files (${error.message})`)
      }
      const where = describeThrownAt(error.cause)
      log(
        `reload of ${list(keys)} failed${where === undefined ? '' : ` at ${where}`}; the previous version keeps running. ` +
          `Save a fix to reload.\n${error.cause?.stack ?? error.cause}`,
      )
      return
    }
    const ms = Number(process.hrtime.bigint() - startedAt) / 1e6
    dirty.clear()
    for (const e of result.report.errors) log(`a dispose handler threw: ${e?.stack ?? e}`)
    reloadLine(keys, result.report, ms)
    checkLeaksLater(before, keys)
  }

  function begin() {
    const entry = esmEntry ? config.entry : (mainModule()?.filename ?? config.entry)
    config.entry = entry
    watcher = createWatcher({
      cache,
      entryFile: entry,
      extraRoots: config.watch.length > 0 ? config.watch : undefined,
      extraFiles: () => esmFiles,
      ignore,
      debounceMs: config.delay,
      persistent: false,
      report: (error) => log(`watch error: ${error?.stack ?? error}`),
      apply,
    })
  }

  if (esmEntry) {
    trackEsmLoads()
    begin()
  } else {
    // The program's own code runs right after the preloads, in the same tick: its tree is loaded
    // when this tick's queue runs, before anything the program deferred (a 'listening' event):
    // a save made once the program says it is ready is never taken for the first contents.
    process.nextTick(begin)
  }
}

const raw = process.env[CONFIG_ENV]
if (raw !== undefined) {
  // The program's own child processes must not think they are supervised.
  delete process.env[CONFIG_ENV]
  start(JSON.parse(raw))
}

module.exports = { CONFIG_ENV, CHANNEL_FD }
