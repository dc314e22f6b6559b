#!/usr/bin/env node
'use strict'
// The command line: `uncache-tree <command> …`. Each command is a file of its own in bin/ that
// exports run(argv) and its HELP; this file only picks one. Commands load the native core only
// when they run, so `--help`, `--version` and usage errors work where the binary is missing.

const COMMANDS = {
  doctor: { file: './doctor.js', summary: 'does memory grow with every reload of <entry>? (exit 1 on a leak)' },
  demo: { file: './demo.js', summary: 'reload a plugin 3,000 times with and without uncache-tree; chart the memory' },
  dev: { file: './dev.js', summary: 'run <entry> with hot reload, restarting where hot reload cannot apply a change' },
  test: { file: './test.js', summary: 'run node:test files in one process, fresh app modules per file, packages loaded once' },
}

const USAGE = `Usage: uncache-tree <command> [options]

Commands:
${Object.entries(COMMANDS)
  .map(([name, { summary }]) => `  ${name.padEnd(10)} ${summary}`)
  .join('\n')}
  help [cmd] show this help, or a command's

Options:
  -h, --help     show this help (\`uncache-tree <command> --help\` for a command's)
  -v, --version  print the version of uncache-tree
`

function usageError(message) {
  process.stderr.write(`uncache-tree: ${message}\nRun \`uncache-tree --help\` for usage.\n`)
  process.exitCode = 2
}

/** The known command closest to `name` (at most two edits away), for "did you mean". */
function closestCommand(name) {
  const distance = (a, b) => {
    const row = Array.from({ length: b.length + 1 }, (_, j) => j)
    for (let i = 1; i <= a.length; i++) {
      let diagonal = row[0]
      row[0] = i
      for (let j = 1; j <= b.length; j++) {
        const above = row[j]
        row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1))
        diagonal = above
      }
    }
    return row[b.length]
  }
  return Object.keys(COMMANDS).find((known) => distance(name, known) <= 2)
}

function main(argv) {
  const [first, ...rest] = argv
  if (first === undefined) return usageError(`missing command: one of ${Object.keys(COMMANDS).join(', ')}`)
  if (first === '-h' || first === '--help') return process.stdout.write(USAGE)
  if (first === '-v' || first === '--version') return process.stdout.write(`${require('../package.json').version}\n`)
  if (first === 'help') {
    if (rest[0] === undefined) return process.stdout.write(USAGE)
    if (!Object.hasOwn(COMMANDS, rest[0])) return usageError(`unknown command '${rest[0]}'`)
    return process.stdout.write(require(COMMANDS[rest[0]].file).HELP)
  }
  if (!Object.hasOwn(COMMANDS, first)) {
    if (first.startsWith('-')) return usageError(`${first} goes after a command, e.g. \`uncache-tree doctor ./plugin.js ${first}\``)
    const near = closestCommand(first)
    return usageError(`unknown command '${first}'${near === undefined ? '' : `: did you mean \`${near}\`?`}`)
  }
  return require(COMMANDS[first].file).run(rest)
}

module.exports = { COMMANDS }
if (require.main === module) main(process.argv.slice(2))
