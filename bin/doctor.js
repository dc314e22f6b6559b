'use strict'
// `uncache-tree doctor <entry>`. This file parses arguments, starts the process that runs the
// entry (bin/doctor-child.js: the doctor measures the process that loads the entry, and that
// process's stdout is our stderr, so the entry can never write into the report), and prints;
// the measuring is lib/proof/doctor.js, the rendering bin/render.js. bin/uncache-tree.js
// dispatches here.
const fs = require('node:fs')
const path = require('node:path')
const { UsageError, parseCommandArgs } = require('./cli.js')
const { formatText, formatHtml, formatBytes, displayPath } = require('./render.js')

// The doctor (and with it the native core) is loaded only to run a command, so that `--help`,
// `--version` and usage errors work where the native binary is missing. These two equal
// lib/proof/doctor.js's DEFAULT_CYCLES and MAX_CYCLES (__test__/packaging.test.cjs checks).
const DEFAULT_CYCLES = 20
const MAX_CYCLES = 100_000

const EXIT = { OK: 0, SURVIVORS: 1, USAGE: 2, FAILED: 3 }

const HELP = `Usage: uncache-tree doctor <entry> [options]

Loads <entry> (a file, or an installed package), then unloads it with uncacheTree()
and loads it again, N times, as a host does (node_modules stays loaded), and
answers: does anything grow with every reload? The heap after a forced GC, and
counts that cost almost no memory: listeners, timers, servers, file descriptors,
threads, objects hung on something that stays. It names what grows (its holder,
the line that adds it, the fix) and lists the old module generations still alive
with their chains. See docs/doctor.md.

Options:
  --cycles N       unload/reload cycles (default ${DEFAULT_CYCLES}, at most ${MAX_CYCLES})
  --json           print only the result, as JSON, on stdout (the entry's own
                   output goes to stderr)
  --html FILE      also write a self-contained HTML page with the chart and chains
  --require MOD    preload MOD before the entry, e.g. tsx/cjs (repeatable); it
                   stays loaded across cycles
  --keep RE        keep modules whose path matches the regular expression RE
                   loaded across cycles (a shared module your host keeps)
  --reload-deps    reload node_modules with the entry too (by default they stay
                   loaded, as in a host or watch())
  --timeout MS     how long to force garbage collection before a generation counts
                   as alive (default 2000)
  --no-retainers   take no heap snapshots: faster on big heaps, but what grows is
                   not named and survivors get no retainer chains
  --quiet          no progress messages on stderr
  -h, --help       show this help
  -v, --version    print the version of uncache-tree

Exit status:
  0  no growth, and every old generation was collected (or only Node's own
     bounded pins survived)
  1  a leak: memory or a count grows with the reloads, Node warned
     MaxListenersExceeded, a package refused the second load, or old
     generations survived, held by the program
  2  bad usage: unknown option, missing or unresolvable entry, bad number,
     unwritable --html, or an entry that cannot be reloaded (an ES module)
  3  the entry threw or called process.exit() while loading or running, or the
     doctor could not finish

Example:
  npx uncache-tree doctor ./plugins/metrics.js --cycles 50 --html doctor.html
`

/** A positive integer option, or a UsageError naming the option. */
function integerOption(name, text, min, max) {
  if (!/^\d+$/.test(text)) throw new UsageError(`--${name} must be a whole number, got '${text}'`)
  const value = Number(text)
  if (value < min || value > max) throw new UsageError(`--${name} must be from ${min} to ${max}, got ${value}`)
  return value
}

function parseCommandLine(argv) {
  const parsed = parseCommandArgs(argv, {
    cycles: { type: 'string' },
    json: { type: 'boolean' },
    html: { type: 'string' },
    timeout: { type: 'string' },
    'no-retainers': { type: 'boolean' },
    require: { type: 'string', multiple: true },
    keep: { type: 'string' },
    'reload-deps': { type: 'boolean' },
    quiet: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
    version: { type: 'boolean', short: 'v' },
  })
  const { values, positionals } = parsed
  if (values.help) return { help: true }
  if (values.version) return { version: true }
  const [entry, ...extra] = positionals
  if (entry === undefined) throw new UsageError('missing <entry>: name the module to load and reload, e.g. `doctor ./plugin.js`')
  if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0]}': the doctor takes one entry`)
  const options = {
    entry,
    cycles: values.cycles === undefined ? DEFAULT_CYCLES : integerOption('cycles', values.cycles, 1, MAX_CYCLES),
    timeoutMs: values.timeout === undefined ? undefined : integerOption('timeout', values.timeout, 0, 600_000),
    json: values.json === true,
    html: values.html,
    retainers: values['no-retainers'] !== true,
    quiet: values.quiet === true,
    require: values.require ?? [],
    keep: undefined,
    reloadDeps: values['reload-deps'] === true,
  }
  for (const name of options.require) if (name === '') throw new UsageError('--require needs a module name, e.g. --require tsx/cjs')
  if (values.keep !== undefined) {
    try {
      options.keep = new RegExp(values.keep)
    } catch (error) {
      throw new UsageError(`--keep ${values.keep}: not a regular expression (${error.message})`)
    }
  }
  // Resolved now: the entry may process.chdir() while it runs.
  if (options.html !== undefined) options.html = checkHtmlTarget(options.html)
  return options
}

/** Fails now, not after a long run: --html must name a file that can be written. Returns its absolute path. */
function checkHtmlTarget(file) {
  if (file === '') throw new UsageError('--html needs a file name')
  const target = path.resolve(file)
  // /proc and /sys take no reports: a write there fails (or changes a kernel setting).
  let real = target
  try {
    real = path.join(fs.realpathSync(path.dirname(target)), path.basename(target))
  } catch {}
  for (const virtual of ['/proc', '/sys', '/dev']) {
    if (real === virtual || real.startsWith(`${virtual}/`) || target.startsWith(`${virtual}/`)) {
      throw new UsageError(`--html ${file}: ${virtual} is a virtual file system, not a place for a report; name a file on disk, e.g. doctor.html`)
    }
  }
  let stat
  try {
    stat = fs.statSync(target)
  } catch {}
  if (stat?.isDirectory()) throw new UsageError(`--html ${file}: ${target} is a directory; name a file, e.g. ${path.join(file, 'doctor.html')}`)
  try {
    fs.accessSync(stat === undefined ? path.dirname(target) : target, fs.constants.W_OK)
  } catch {
    const what = stat === undefined ? `the directory ${path.dirname(target)} does not exist or is not writable` : 'the file is not writable'
    throw new UsageError(`--html ${file}: ${what}`)
  }
  return target
}

/**
 * Progress on stderr. On a terminal: one line rewritten in place. Elsewhere (CI logs, pipes):
 * a few plain lines, at each quarter of the cycles, so a log stays short but shows the run is
 * alive.
 */
function progressReporter(stream, entryLabel) {
  const tty = stream.isTTY === true
  let lastWrite = 0
  let lastQuarter = -1
  let open = false
  const show = (text, force) => {
    if (tty) {
      const now = Date.now()
      if (!force && now - lastWrite < 80) return
      lastWrite = now
      const width = Math.max(20, (stream.columns || 80) - 1)
      stream.write(`\r\x1b[2K${text.slice(0, width)}`)
      open = true
    } else {
      stream.write(`${text}\n`)
    }
  }
  const report = (event) => {
    switch (event.phase) {
      case 'load':
        show(`doctor: loading ${entryLabel}`, true)
        break
      case 'cycle': {
        const heap = event.heap === undefined ? '' : `, heap ${formatBytes(event.heap)}`
        const text = `doctor: cycle ${event.cycle}/${event.cycles}${heap}`
        if (tty) show(text, event.cycle === event.cycles)
        else {
          const quarter = Math.floor((event.cycle * 4) / event.cycles)
          if (quarter > lastQuarter && event.heap !== undefined) {
            lastQuarter = quarter
            show(text)
          }
        }
        break
      }
      case 'verify':
        show('doctor: forcing garbage collection, checking which old generations are gone', true)
        break
      case 'snapshot':
        show(`doctor: heap snapshot ${event.snapshot}/${event.of} after cycle ${event.cycle} (to name what grows)`, true)
        break
      case 'retainers':
        show(`doctor: taking a heap snapshot to explain ${event.survivors} survivor(s)`, true)
        break
    }
  }
  report.done = () => {
    if (tty && open) stream.write('\r\x1b[2K')
    open = false
  }
  return report
}

// The doctor's own output. The entry runs in a child process (bin/doctor-child.js) whose file
// descriptor 1 is this process's stderr: whatever the entry writes, through console.log,
// process.stdout or straight to fd 1 (pino and sonic-boom do), never reaches this stdout, which
// carries only the report.
const writeStdout = process.stdout.write.bind(process.stdout)
const exitProcess = process.exit.bind(process)

/** Writes `text` to stdout, then exits with `code` once it is flushed (pipes may lag). */
function finish(text, code) {
  process.exitCode = code
  if (text === '') exitProcess(code)
  process.stdout.on('error', () => exitProcess(code))
  writeStdout(text, () => exitProcess(code))
}

function fail(message, code, json) {
  process.stderr.write(`uncache-tree: ${message}\n`)
  // --json promises a document on stdout, whatever happened.
  if (json !== undefined) return finish(`${JSON.stringify({ ...json, leaked: null, exitCode: code, error: { ...json.error, message } }, null, 2)}\n`, code)
  finish('', code)
}

/**
 * Runs the doctor in a child process and resolves with what it wrote to its result file:
 * `{ result }` or `{ error }`, or `{ error }` saying the child ended without one.
 */
function runChild(job) {
  const { spawn } = require('node:child_process')
  const os = require('node:os')
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'uncache-tree-doctor-'))
  const resultFile = path.join(dir, 'result.json')
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...process.execArgv, path.join(__dirname, 'doctor-child.js')], {
      // fd 1 of the child is our fd 2: the entry's output goes to stderr, never into the report.
      stdio: ['inherit', 2, 'inherit'],
      env: { ...process.env, UNCACHE_TREE_DOCTOR_JOB: JSON.stringify({ ...job, resultFile }) },
    })
    // Ctrl-C reaches the child too (same process group); this process waits for its answer. An
    // entry that handles SIGINT itself keeps the child alive: a second Ctrl-C ends it.
    let interrupts = 0
    const ignore = () => {
      if (++interrupts > 1) child.kill('SIGKILL')
    }
    process.on('SIGINT', ignore)
    process.on('SIGTERM', ignore)
    const done = (code, signal) => {
      process.removeListener('SIGINT', ignore)
      process.removeListener('SIGTERM', ignore)
      let answer
      try {
        answer = JSON.parse(fs.readFileSync(resultFile, 'utf8'))
      } catch {
        const how = signal ? `was killed by ${signal}` : `exited with code ${code}`
        answer = { error: { code: 'ERR_UNCACHE_DOCTOR_EXITED', message: `the process running the entry ${how} before the doctor could finish (the entry exited, or ran out of memory?)` } }
      }
      fs.rmSync(dir, { recursive: true, force: true })
      resolve(answer)
    }
    child.on('error', (error) => done(undefined, undefined, error))
    child.on('exit', done)
  })
}

async function main(argv) {
  let options
  try {
    options = parseCommandLine(argv)
  } catch (error) {
    if (!(error instanceof UsageError)) throw error
    return fail(`${error.message}\nRun \`uncache-tree doctor --help\` for usage.`, EXIT.USAGE)
  }
  if (options.help) return finish(HELP, EXIT.OK)
  if (options.version) return finish(`${require('../package.json').version}\n`, EXIT.OK)

  const cwd = process.cwd()
  const answer = await runChild({
    entry: options.entry,
    cwd,
    cycles: options.cycles,
    timeoutMs: options.timeoutMs,
    retainers: options.retainers,
    require: options.require,
    keep: options.keep?.source,
    keepFlags: options.keep?.flags,
    reloadDeps: options.reloadDeps,
    quiet: options.quiet,
  })
  const json = options.json ? { entry: options.entry } : undefined
  if (answer.error !== undefined) {
    const { error } = answer
    const code = error.usage ? EXIT.USAGE : EXIT.FAILED
    const text = error.usage ? `${error.message}\nRun \`uncache-tree doctor --help\` for usage.` : `${error.message}${error.causeStack ? `\n${error.causeStack}` : ''}`
    return fail(text, code, json && { ...json, error: { code: error.code } })
  }
  const { result } = answer
  if (options.html !== undefined) {
    fs.writeFileSync(options.html, formatHtml(result, { cwd }))
    if (!options.quiet) process.stderr.write(`doctor: HTML report written to ${displayPath(options.html, cwd)}\n`)
  }
  const text = options.json ? `${JSON.stringify(result, null, 2)}\n` : formatText(result, { cwd })
  return finish(text, result.exitCode)
}

/** Runs the doctor with the arguments after `doctor`. */
function run(argv) {
  return main(argv).catch((error) => fail(error?.stack ?? String(error), EXIT.FAILED))
}

module.exports = { run, HELP, DEFAULT_CYCLES, MAX_CYCLES, progressReporter }
