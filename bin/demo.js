'use strict'
// `uncache-tree demo`: the memory-chart demo of the README, from an installed package. The demo
// itself is examples/plugin-host/demo.js (shipped in the package): a plugin host reloads its
// plugin with plain `delete require.cache` and with uncache-tree, side by side, and draws both.
// bin/uncache-tree.js dispatches here.
const { printUsageError } = require('./cli.js')

const HELP = `Usage: uncache-tree demo [options]

A plugin host reloads its plugin (3 files, one with a 256 KiB table, plus a helper
the host also uses) thousands of times, in two processes side by side: one drops it
with plain \`delete require.cache[...]\`, the other with uncacheTree(). Memory after a
forced GC is drawn as a chart in the terminal, then compared (about a minute).
Exit 1 if uncache-tree left an old generation alive.

Options:
  --reloads N      reloads per process (default 3000)
  --every N        sample memory every N reloads (default 50)
  --table-kib N    size of the plugin's table in KiB (default 256)
  -h, --help       show this help
`

function run(argv) {
  if (argv.includes('-h') || argv.includes('--help')) return process.stdout.write(HELP)
  const demo = require('../examples/plugin-host/demo.js')
  try {
    demo.parseDemoArgs(argv)
  } catch (error) {
    printUsageError('uncache-tree', 'demo', error.message)
    process.exitCode = 2
    return
  }
  return demo.run(argv)
}

module.exports = { run, HELP }
