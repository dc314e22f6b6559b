'use strict'
// A logging plugin that LEAKS: it adds a listener to `process` and never removes it.
//
// `process` lives as long as the program. Its 'exit' listener list holds `flushOnExit`, whose
// scope holds `pending` and `require` -- and `require` holds this module. Every reload adds one
// more listener (after ten, Node prints a MaxListenersExceededWarning: a classic sign of this
// leak). fixed.js is the cure.

// Lines not yet written; preallocated large on purpose, so that each leaked copy shows on the
// doctor's chart.
const pending = new Array(100_000).fill('')
let count = 0

function flushOnExit() {
  if (count === 0) return
  // Loaded lazily: most runs never need it.
  const fs = require('node:fs')
  fs.appendFileSync('plugin.log', pending.slice(0, count).join('\n') + '\n')
}
process.on('exit', flushOnExit)

module.exports = {
  name: 'logger',
  log(line) {
    if (count < pending.length) pending[count++] = String(line)
  },
}
