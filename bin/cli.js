'use strict'
// What every command of bin/ shares: the usage error, strict argument parsing that turns
// parseArgs' errors into usage errors, and the one way a usage error is printed (exit 2).
const { parseArgs } = require('node:util')

/** Bad usage: printed with a pointer to the command's help, exit status 2. */
class UsageError extends Error {}

/** `parseArgs` with positionals and strict options; its own messages are good ("Unknown option '--cyles'"). */
function parseCommandArgs(argv, options) {
  try {
    return parseArgs({ args: argv, allowPositionals: true, strict: true, options })
  } catch (error) {
    throw new UsageError(error.message)
  }
}

/** Prints `message` as `<prefix>: message` and the pointer to `uncache-tree <command> --help`. */
function printUsageError(prefix, command, message) {
  process.stderr.write(`${prefix}: ${message}\nRun \`uncache-tree ${command} --help\` for usage.\n`)
}

module.exports = { UsageError, parseCommandArgs, printUsageError }
