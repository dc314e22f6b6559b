'use strict'
// The process `uncache-tree doctor` runs the entry in (not a command: bin/doctor.js starts it).
// The doctor has to measure the process that loads the entry, and the report must not share a
// stdout with the entry: this process's file descriptor 1 is the CLI's stderr, so an entry that
// writes to fd 1 directly (pino, sonic-boom) cannot corrupt `--json`. It writes its answer,
// `{ result }` or `{ error }`, to the file the CLI named, then exits explicitly: the entry's
// timers and servers would otherwise keep it running.
const fs = require('node:fs')
const path = require('node:path')

const job = JSON.parse(process.env.UNCACHE_TREE_DOCTOR_JOB)
// The entry sees the environment of the command line, not the doctor's plumbing.
delete process.env.UNCACHE_TREE_DOCTOR_JOB
const exitProcess = process.exit.bind(process)
let answered = false

function answer(value) {
  answered = true
  fs.writeFileSync(job.resultFile, JSON.stringify(value))
}

// Errors that are the user's to fix before a run: exit 2.
const USAGE_CODES = ['ERR_UNCACHE_UNRESOLVED', 'ERR_UNCACHE_NATIVE_ADDON', 'ERR_UNCACHE_BUILTIN', 'ERR_UNCACHE_MAIN', 'ERR_UNCACHE_DOCTOR_ESM', 'ERR_UNCACHE_DOCTOR_NEEDS_LOADER']

/** An error as the CLI shows it: the entry's missing file in command-line words, not the API's. */
function describeError(error, entry, cwd) {
  const usage = error instanceof TypeError || error instanceof RangeError || USAGE_CODES.includes(error?.code)
  let message = error?.message ?? String(error)
  if (error?.code === 'ERR_UNCACHE_UNRESOLVED' && error.id === entry) {
    message =
      `Cannot find module '${entry}' from ${cwd}: name a file (absolute, or relative to the current directory) ` +
      'or an installed package, e.g. `uncache-tree doctor ./plugins/metrics.js`.'
  } else if (error?.code === 'ERR_UNCACHE_UNRESOLVED') {
    message = `Cannot find module '${error.id}' (--require) from ${cwd}: install it, or give its path relative to the current directory.`
  }
  const cause = error?.cause instanceof Error && error.cause.constructor.name !== 'EntryExit' ? error.cause.stack : undefined
  return { code: error?.code, message, usage, causeStack: usage ? undefined : cause }
}

async function main() {
  const { progressReporter } = require('./doctor.js')
  let doctor
  try {
    ;({ doctor } = require('../lib/proof/doctor.js'))
  } catch (error) {
    if (error?.code !== 'ERR_UNCACHE_NATIVE_BINARY') throw error
    return answer({ error: describeError(error, job.entry, job.cwd) })
  }
  const progress = job.quiet ? () => {} : progressReporter(process.stderr, job.entry)
  // A last resort: whatever ends this process before an answer (a native exit, a signal handler
  // of the entry) must not look like success; the CLI reads no answer and says so.
  process.on('exit', () => {
    if (!answered) process.stderr.write('\nuncache-tree: the process ended before the doctor could finish (the entry exited?)\n')
  })
  let result
  try {
    result = await doctor(job.entry, {
      cwd: job.cwd,
      cycles: job.cycles,
      timeoutMs: job.timeoutMs ?? undefined,
      retainers: job.retainers,
      growthSnapshots: job.retainers,
      require: job.require,
      keep: job.keep === undefined ? undefined : new RegExp(job.keep, job.keepFlags),
      reloadDeps: job.reloadDeps,
      onProgress: progress,
    })
  } catch (error) {
    progress.done?.()
    return answer({ error: describeError(error, job.entry, job.cwd) })
  }
  progress.done?.()
  // The verdict is in; what the entry's timers throw from now on does not change it.
  process.on('uncaughtException', () => {})
  process.on('unhandledRejection', () => {})
  answer({ result })
}

main()
  .catch((error) => answer({ error: { code: error?.code, message: error?.stack ?? String(error), usage: false } }))
  .finally(() => exitProcess(0))

module.exports = { describeError, entryDir: path.dirname(__filename) }
