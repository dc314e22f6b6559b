'use strict'
// The logging plugin of leaky.js, fixed: it removes its `process` listener when it is unloaded.
//
// hot(module).dispose() registers a handler that uncache-tree runs just before this module is
// unloaded. It flushes now (this copy will not be around at exit) and removes the listener, the
// only path from `process` to this copy.
const { hot } = require('uncache-tree')

// Lines not yet written; preallocated large on purpose, so that a leak would show on the
// doctor's chart.
const pending = new Array(100_000).fill('')
let count = 0

function flushOnExit() {
  if (count === 0) return
  // Loaded lazily: most runs never need it.
  const fs = require('node:fs')
  fs.appendFileSync('plugin.log', pending.slice(0, count).join('\n') + '\n')
  count = 0
}
process.on('exit', flushOnExit)

hot(module).dispose(() => {
  flushOnExit()
  process.removeListener('exit', flushOnExit)
})

module.exports = {
  name: 'logger',
  log(line) {
    if (count < pending.length) pending[count++] = String(line)
  },
}
