'use strict'
// Leak hints of `uncache-tree dev`: a reload that adds a process listener, a timer, a server, a
// file handle or a thread and never removes it costs a few hundred bytes, so no memory figure
// shows it; after 200 reloads it is 200 intervals firing or 257 open fds. After each reload the
// counts of lib/proof/resources.js (taken before it, and once the reload's asynchronous closes
// have settled) are compared; a count that grows by the same +k over three reloads in a row gets
// one warning, naming the reloaded files, the resource and the dispose handler that fixes it.
const { countResources, flatten } = require('../proof/resources.js')
const { resourceAdvice } = require('../proof/advice.js')

// Three reloads in a row with the same +k: one reload proves nothing, two can be a cache warming.
const STREAK = 3

/**
 * What a flattened resource key is, in words, and the dispose handler that frees it (the table
 * the doctor uses too: RESOURCES in lib/proof/advice.js).
 */
function describe(key, k) {
  const many = k === 1 ? '' : 's'
  const name = key.includes(':') ? key.slice(key.indexOf(':') + 1) : ''
  const advice = resourceAdvice(key)
  const what = advice?.one ?? `${name} resource`
  const fix = advice?.handler ?? `hot(module).dispose(() => …) that closes the ${name} this module opens`
  return { what: `${what}${many}`, fix }
}

/**
 * One runner's leak watch. `before()` takes the counts just before a reload; `after(before,
 * files)` compares with the counts now and returns the warnings to print (each resource warns
 * once).
 * @param {{ count?: () => object }} [options] `count`: what countResources() returns (tests)
 */
function createLeakHints({ count = countResources } = {}) {
  const streaks = new Map() // key -> { k, runs, files: Set }
  const warned = new Set()

  function before() {
    return flatten(count())
  }

  function after(beforeCounts, files) {
    const now = flatten(count())
    const keys = new Set([...beforeCounts.keys(), ...now.keys()])
    const warnings = []
    for (const key of keys) {
      const k = (now.get(key) ?? 0) - (beforeCounts.get(key) ?? 0)
      const streak = streaks.get(key)
      if (k <= 0) {
        streaks.delete(key)
        continue
      }
      if (streak === undefined || streak.k !== k) {
        streaks.set(key, { k, runs: 1, files: new Set(files) })
        continue
      }
      streak.runs++
      for (const file of files) streak.files.add(file)
      if (streak.runs < STREAK || warned.has(key)) continue
      warned.add(key)
      const { what, fix } = describe(key, k)
      warnings.push({
        key,
        perReload: k,
        count: now.get(key),
        files: [...streak.files],
        message:
          `each of the last ${STREAK} reloads added ${k} ${what} (${now.get(key)} now), after reloading ` +
          `${[...streak.files].join(', ')}: a dispose handler is missing. Fix: ${fix}.`,
      })
    }
    return warnings
  }

  return { before, after }
}

module.exports = { createLeakHints, describe, STREAK }
