'use strict'
// Forced garbage collection that works without --expose-gc: V8 installs `gc` in contexts created
// after the flag is set, so a fresh vm context hands us the function. Used by verifyCollected(),
// the doctor and the tests; the flag change is process-wide but only adds a global `gc` to
// contexts created later.
const v8 = require('node:v8')
const vm = require('node:vm')

let collect = typeof globalThis.gc === 'function' ? globalThis.gc : undefined

function forceGc() {
  if (collect === undefined) {
    v8.setFlagsFromString('--expose-gc')
    collect = vm.runInNewContext('gc')
  }
  collect()
}

/** Several full collections with turns of the event loop between them, so that weak references
 * and FinalizationRegistry callbacks settle (a WeakRef target lives until the end of the job
 * that created the WeakRef). */
async function settleGc(rounds = 4) {
  for (let i = 0; i < rounds; i++) {
    forceGc()
    await new Promise((resolve) => setImmediate(resolve))
  }
}

module.exports = { forceGc, settleGc }
