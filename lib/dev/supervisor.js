'use strict'
// The parent process of `uncache-tree dev`: starts the program in a child process with the
// runtime preloaded (runtime.js, which reloads changes in place), and restarts it when the
// runtime asks (a change hot reload cannot apply), when `rs` + Enter is typed, and at the first
// change after the program crashed or ended. SIGINT and SIGTERM go to the child; once it is gone
// this process exits 0.
//
// stdout and stderr are the child's own (inherited). stdin goes through this process, which must
// see `rs`: every other line is passed on to the child. The runtime talks back on a pipe at file
// descriptor 3, one JSON message per line, so the program's own IPC channel (if it forks
// workers) stays untouched.
const { spawn } = require('node:child_process')
const path = require('node:path')
const { CONFIG_ENV, CHANNEL_FD } = require('./runtime.js')

const RUNTIME = require.resolve('./runtime.js')
// How long a child gets to end after SIGTERM before it is killed (a restart, or this process
// stopping).
const STOP_GRACE_MS = 5000
const PREFIX = '[uncache-tree]'
const CHANNEL_WAIT_MS = 500

/**
 * @param {{ entry: string, args: string[], cwd: string, watch: string[], ignore: string[],
 *   ext: string[], delay: number, require: string[], noRestart: boolean, quiet: boolean,
 *   nodeArgs?: string[] }} options `entry` and `watch` are absolute paths
 */
function supervise(options) {
  const log = (line) => process.stderr.write(`${PREFIX} ${line}\n`)
  const rel = (file) => path.relative(options.cwd, file) || file
  let child
  let stopping = false
  let restarting = false
  let lastFiles = [options.entry]
  let idleWatcher
  let startedAt = 0

  function childConfig() {
    return JSON.stringify({
      entry: options.entry,
      cwd: options.cwd,
      watch: options.watch,
      ignore: options.ignore,
      ext: options.ext,
      delay: options.delay,
      noRestart: options.noRestart,
      quiet: options.quiet,
    })
  }

  function start() {
    stopIdleWatcher()
    const requires = options.require.flatMap((mod) => ['--require', mod])
    const argv = [...(options.nodeArgs ?? []), '--require', RUNTIME, ...requires, options.entry, ...options.args]
    startedAt = Date.now()
    child = spawn(process.execPath, argv, {
      cwd: options.cwd,
      env: { ...process.env, [CONFIG_ENV]: childConfig() },
      stdio: ['pipe', 'inherit', 'inherit', 'pipe'],
    })
    const current = child
    current.stdin.on('error', () => {}) // the program closed its stdin, or ended
    let buffered = ''
    current.stdio[CHANNEL_FD].setEncoding('utf8')
    current.stdio[CHANNEL_FD].on('data', (chunk) => {
      buffered += chunk
      let newline
      while ((newline = buffered.indexOf('\n')) !== -1) {
        const line = buffered.slice(0, newline)
        buffered = buffered.slice(newline + 1)
        let message
        try {
          message = JSON.parse(line)
        } catch {
          continue
        }
        onMessage(current, message)
      }
    })
    current.on('error', (error) => log(`could not start the program: ${error.message}`))
    current.on('exit', (code, signal) => onExit(current, code, signal))
  }

  function onMessage(from, message) {
    if (message.type === 'files' && Array.isArray(message.files)) lastFiles = message.files
    else if (message.type === 'restart' && from === child) restart(message.reason)
  }

  /** Ends the running child (SIGTERM, then SIGKILL after STOP_GRACE_MS); resolves when it is gone. */
  function stopChild(signal = 'SIGTERM') {
    const current = child
    if (current === undefined || current.exitCode !== null || current.signalCode !== null) return Promise.resolve()
    return new Promise((resolve) => {
      const timer = setTimeout(() => current.kill('SIGKILL'), STOP_GRACE_MS)
      current.once('exit', () => {
        clearTimeout(timer)
        resolve()
      })
      current.kill(signal)
    })
  }

  async function restart(reason) {
    if (stopping || restarting) return
    restarting = true
    log(`restarting: ${reason}`)
    await stopChild()
    restarting = false
    if (!stopping) start()
  }

  async function onExit(exited, code, signal) {
    if (exited !== child || restarting || stopping) return
    child = undefined
    // The list of files the program had loaded is its last message; 'exit' can come before it.
    await channelEnd(exited)
    if (child !== undefined || stopping) return // rs was typed meanwhile
    // Watching first: a save made once the line below is read must not be taken for the contents.
    watchWhileIdle()
    const how = signal !== null ? `was killed by ${signal}` : code === 0 ? 'ended' : `crashed (exit code ${code})`
    log(`${rel(options.entry)} ${how}; waiting for a change to restart (or type rs + Enter)`)
  }

  /**
   * Resolves when the child's channel has delivered everything, or after CHANNEL_WAIT_MS (a
   * process the program started may have inherited the pipe and keep it open).
   */
  function channelEnd(exited) {
    const channel = exited.stdio[CHANNEL_FD]
    if (channel.readableEnded || channel.destroyed) return Promise.resolve()
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, CHANNEL_WAIT_MS)
      channel.once('close', () => {
        clearTimeout(timer)
        resolve()
      })
    })
  }

  /** The program is not running: the first change of a file it had loaded starts it again. */
  function watchWhileIdle() {
    const { createWatcher, DEFAULT_IGNORE } = require('../hot/watch.js')
    const { makeIgnore } = require('./options.js')
    const files = [...new Set([...lastFiles, options.entry, ...options.watch])]
    idleWatcher = createWatcher({
      cache: {},
      entryFile: options.entry,
      roots: files,
      ignore: makeIgnore(options, DEFAULT_IGNORE),
      debounceMs: options.delay,
      report: (error) => log(`watch error: ${error?.message ?? error}`),
      apply: ({ changed }) => {
        if (changed.length === 0) return
        log(`restarting: ${changed.map(rel).slice(0, 3).join(', ')} changed`)
        start()
      },
    })
  }

  function stopIdleWatcher() {
    if (idleWatcher === undefined) return
    idleWatcher.close()
    idleWatcher = undefined
  }

  async function stop(signal) {
    if (stopping) return
    stopping = true
    stopIdleWatcher()
    process.stdin.pause()
    await stopChild(signal)
    process.exit(0)
  }

  process.on('SIGINT', () => stop('SIGINT'))
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGHUP', () => stop('SIGTERM'))

  // stdin: `rs` restarts, everything else is the program's.
  process.stdin.on('data', (chunk) => {
    if (String(chunk).trim() === 'rs') {
      if (child === undefined && !restarting) {
        log('restarting: rs')
        start()
      } else {
        restart('rs')
      }
      return
    }
    if (child !== undefined && child.stdin.writable) child.stdin.write(chunk)
  })
  process.stdin.on('end', () => child?.stdin.end())
  process.stdin.on('error', () => {})

  if (!options.quiet) log(`watching ${rel(options.entry)}${options.watch.length ? ` and ${options.watch.map(rel).join(', ')}` : ''} (hot reload; rs + Enter restarts)`)
  start()
  return { startedAt: () => startedAt }
}

module.exports = { supervise }
