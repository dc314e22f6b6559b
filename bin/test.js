'use strict'
// `uncache-tree test [files or folders…]`: this file parses the arguments and prints usage; the
// run is lib/test-runner/ (run.js starts the test process and, with --watch, the watcher).
const path = require('node:path')
const { UsageError, parseCommandArgs, printUsageError } = require('./cli.js')

const EXIT = { PASSED: 0, FAILED: 1, USAGE: 2 }
const BUILTIN_REPORTERS = ['spec', 'tap', 'dot', 'junit', 'lcov']

const HELP = `Usage: uncache-tree test [files or folders…] [options]

Runs node:test files in one process: each file (or each test) starts with fresh
copies of your app's modules, while packages (node_modules) are loaded once for the
whole run. The same on Node 20, 22, 24 and 26. Without files, finds the test files
under the working directory as \`node --test\` does (*.test.js, test-*.js, files
under test/ …, CommonJS only: an ES module cannot be evaluated twice in a process).

Options:
  --per file|test          fresh app modules for each file (default) or each test
  --keep RE                modules whose path matches RE stay loaded for the whole
                           run (default: [\\\\/]node_modules[\\\\/])
  --require MOD            preload MOD before the tests, e.g. tsx/cjs (repeatable);
                           it stays loaded
  --watch                  after the run, re-run the test files that a change
                           reaches (the files that load the changed file), with the
                           packages already loaded
  --test-reporter NAME     node:test reporter: spec (default), tap, dot, junit, lcov,
                           or a module (repeatable)
  --test-reporter-destination DEST
                           stdout, stderr or a file, one per --test-reporter
  -h, --help               show this help

Exit status:
  0  every test passed
  1  a test failed (or a file failed to load)
  2  bad usage: unknown option, missing file, an ES module test file

Examples:
  npx uncache-tree test test/
  npx uncache-tree test --per test --require tsx/cjs test/
  npx uncache-tree test --watch test/
`

/** The command line as options for lib/test-runner/run.js, or a UsageError. */
function parseCommandLine(argv, cwd = process.cwd()) {
  const parsed = parseCommandArgs(argv, {
    per: { type: 'string' },
    keep: { type: 'string' },
    require: { type: 'string', multiple: true, default: [] },
    watch: { type: 'boolean', default: false },
    'test-reporter': { type: 'string', multiple: true, default: [] },
    'test-reporter-destination': { type: 'string', multiple: true, default: [] },
    help: { type: 'boolean', short: 'h' },
  })
  const { values, positionals } = parsed
  if (values.help) return { help: true }
  const per = values.per ?? 'file'
  if (per !== 'file' && per !== 'test') throw new UsageError(`--per must be 'file' or 'test', got '${per}'`)
  let keep = /[\\/]node_modules[\\/]/
  if (values.keep !== undefined) {
    try {
      keep = new RegExp(values.keep)
    } catch (error) {
      throw new UsageError(`--keep ${values.keep}: not a regular expression (${error.message})`)
    }
  }
  for (const name of values.require) if (name === '') throw new UsageError('--require needs a module name, e.g. --require tsx/cjs')
  const reporters = values['test-reporter']
  const destinations = values['test-reporter-destination']
  for (const name of reporters) {
    if (BUILTIN_REPORTERS.includes(name)) continue
    try {
      require.resolve(name.startsWith('.') ? path.resolve(cwd, name) : name, { paths: [cwd] })
    } catch {
      throw new UsageError(`--test-reporter ${name}: not one of ${BUILTIN_REPORTERS.join(', ')}, nor a module that resolves from ${cwd}`)
    }
  }
  if (destinations.length > 0 && destinations.length !== reporters.length) {
    throw new UsageError('give one --test-reporter-destination per --test-reporter (or none: all go to stdout)')
  }
  const { collectTestFiles } = require('../lib/test-runner/files.js')
  const { files, problems } = collectTestFiles(positionals, cwd)
  if (problems.length > 0) throw new UsageError(problems.join('\n'))
  if (files.length === 0) throw new UsageError(`no test files under ${cwd} (names like *.test.js, test-*.js, or files under a test/ folder)`)
  return {
    help: false,
    files,
    cwd,
    per,
    keep,
    require: values.require,
    watch: values.watch,
    reporters: reporters.length === 0 ? ['spec'] : reporters,
    destinations: destinations.length === 0 ? (reporters.length === 0 ? ['stdout'] : reporters.map(() => 'stdout')) : destinations,
  }
}

function run(argv) {
  let options
  try {
    options = parseCommandLine(argv)
  } catch (error) {
    if (!(error instanceof UsageError)) throw error
    printUsageError('uncache-tree test', 'test', error.message)
    process.exitCode = EXIT.USAGE
    return
  }
  if (options.help) {
    process.stdout.write(HELP)
    return
  }
  const { runOnce, runWatching } = require('../lib/test-runner/run.js')
  if (options.watch) return runWatching(options)
  return runOnce(options).then((passed) => {
    process.exitCode = passed ? EXIT.PASSED : EXIT.FAILED
  })
}

module.exports = { run, HELP, parseCommandLine }
