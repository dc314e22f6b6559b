'use strict'
// `uncache-tree dev <entry>`. This file only parses arguments; the supervisor (the parent
// process) is lib/dev/supervisor.js and the hot reload inside the program lib/dev/runtime.js.
// bin/uncache-tree.js dispatches here.
const fs = require('node:fs')
const Module = require('node:module')
const path = require('node:path')
const { UsageError, parseCommandArgs, printUsageError } = require('./cli.js')

const DEFAULT_DELAY_MS = 50
const MAX_DELAY_MS = 60_000
const EXIT = { USAGE: 2 }

const HELP = `Usage: uncache-tree dev <entry> [options] [-- <args for the entry>]

Runs <entry> in a child process and reloads the CommonJS modules you save in place,
without a restart: the changed files and their importers are unloaded (dispose
handlers run) and required again, up to a module that accepts the update with
hot(module).accept(). Each changed file is compiled first, through the loader
registered for its extension (tsx, ts-node, @babel/register): a syntax error is
printed with file:line:col and nothing is unloaded. A reload whose new code throws
is rolled back: the previous version keeps serving.

It restarts the program (a new child process) instead when hot reload cannot apply
the change:
  - the entry changed, or a change reaches the entry through modules that do not
    accept it;
  - a change reaches a module that declines updates (hot(module).decline());
  - an ES module, or a --watch file that is not a loaded module (.env, a config
    read with fs) changed;
  - a reload failed with an error thrown outside the changed files (a global
    registry refusing the new code);
  - the program crashed or ended: at the next change.
Type rs + Enter to restart by hand.

Options:
  --watch PATH     also watch PATH (a file or a directory, repeatable); a change
                   there that is not a loaded module restarts
  --ignore GLOB    do not watch paths matching GLOB (repeatable), e.g. 'dist',
                   '*.test.js', 'logs/**'; node_modules is never watched
  --ext LIST       extensions watched inside --watch directories
                   (default: js,cjs,mjs,json,ts,cts,mts,jsx,tsx)
  --delay MS       quiet time after the last change of a save before reloading
                   (default ${DEFAULT_DELAY_MS})
  --require MOD    preload MOD in the program, e.g. tsx/cjs (repeatable)
  --no-restart     never restart: print why a restart would be needed instead
  --quiet          no line per reload on stderr (errors and restarts still print)
  -h, --help       show this help
  -v, --version    print the version of uncache-tree

Exit status:
  0  stopped with SIGINT (Ctrl-C) or SIGTERM
  2  bad usage: unknown option, missing or unresolvable entry, bad number

Example:
  npx uncache-tree dev ./server.js --watch .env --require tsx/cjs -- --port 3000
`

function parseCommandLine(argv, cwd) {
  const split = argv.indexOf('--')
  const own = split === -1 ? argv : argv.slice(0, split)
  const args = split === -1 ? [] : argv.slice(split + 1)
  const parsed = parseCommandArgs(own, {
    watch: { type: 'string', multiple: true },
    ignore: { type: 'string', multiple: true },
    ext: { type: 'string' },
    delay: { type: 'string' },
    require: { type: 'string', multiple: true, short: 'r' },
    'no-restart': { type: 'boolean' },
    quiet: { type: 'boolean', short: 'q' },
    help: { type: 'boolean', short: 'h' },
    version: { type: 'boolean', short: 'v' },
  })
  const { values, positionals } = parsed
  if (values.help) return { help: true }
  if (values.version) return { version: true }
  const [entry, ...extra] = positionals
  if (entry === undefined) throw new UsageError('missing <entry>: name the program to run, e.g. `uncache-tree dev ./server.js`')
  if (extra.length > 0) {
    throw new UsageError(`unexpected argument '${extra[0]}': arguments for the entry go after --, e.g. \`dev ${entry} -- ${extra.join(' ')}\``)
  }
  const { parseExtensions, DEFAULT_EXTENSIONS } = require('../lib/dev/options.js')
  const options = {
    entry: resolveEntry(entry, cwd),
    args,
    cwd,
    watch: (values.watch ?? []).map((p) => {
      if (p === '') throw new UsageError('--watch needs a path, e.g. --watch .env')
      return path.resolve(cwd, p)
    }),
    ignore: values.ignore ?? [],
    ext: values.ext === undefined ? DEFAULT_EXTENSIONS : parseExtensions(values.ext),
    delay: DEFAULT_DELAY_MS,
    require: values.require ?? [],
    noRestart: values['no-restart'] === true,
    quiet: values.quiet === true,
  }
  if (options.ext.length === 0) throw new UsageError(`--ext needs a comma-separated list, e.g. --ext js,json; got '${values.ext}'`)
  for (const glob of options.ignore) if (glob === '') throw new UsageError("--ignore needs a glob, e.g. --ignore 'dist/**'")
  for (const name of options.require) if (name === '') throw new UsageError('--require needs a module name, e.g. --require tsx/cjs')
  if (values.delay !== undefined) {
    if (!/^\d+$/.test(values.delay)) throw new UsageError(`--delay must be a whole number of milliseconds, got '${values.delay}'`)
    options.delay = Number(values.delay)
    if (options.delay > MAX_DELAY_MS) throw new UsageError(`--delay must be from 0 to ${MAX_DELAY_MS}, got ${options.delay}`)
  }
  return options
}

/** The entry's file, resolved as `node <entry>` would find it from `cwd`. */
function resolveEntry(entry, cwd) {
  const absolute = path.resolve(cwd, entry)
  let file
  try {
    file = Module.createRequire(path.join(cwd, '[dev]')).resolve(absolute)
  } catch {
    throw new UsageError(`cannot find the entry '${entry}' (looked for ${absolute}): name a file to run, e.g. \`uncache-tree dev ./server.js\``)
  }
  if (file.endsWith('.node')) throw new UsageError(`${file} is a native addon, not a program to run`)
  // Node runs the real file of a symlinked entry (unless --preserve-symlinks-main).
  return fs.realpathSync(file)
}

function run(argv) {
  let options
  try {
    options = parseCommandLine(argv, process.cwd())
  } catch (error) {
    if (!(error instanceof UsageError)) throw error
    printUsageError('uncache-tree dev', 'dev', error.message)
    process.exitCode = EXIT.USAGE
    return
  }
  if (options.help) return process.stdout.write(HELP)
  if (options.version) return process.stdout.write(`${require('../package.json').version}\n`)
  require('../lib/dev/supervisor.js').supervise(options)
}

module.exports = { run, HELP, parseCommandLine }
