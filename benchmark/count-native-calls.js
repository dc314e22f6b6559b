'use strict'
// Native calls per verb: the child process of __test__/native-calls.test.cjs and of
// benchmark/verbs.js's counted run. Started with UNCACHE_TREE_COUNT_NATIVE_CALLS=1, it requires
// a generated app (generate-graph.js: the main graph, a 50-module plugin that uses some of it,
// and optionally an entry that requires a barrel file), runs each verb on the warm graph, and
// prints one JSON line:
// for each verb, a list of calls, each with the native calls it made by name and what the verb did
// (so the parent can check the verb really ran). Only the verb's own call is counted: the
// require() that puts the graph back after it is not (its loads are recorded, and what that
// defers to the native core is counted in the next verb, which pays it).
//
//   UNCACHE_TREE_COUNT_NATIVE_CALLS=1 node benchmark/count-native-calls.js <modules> [--dir DIR] [--barrel]
//     [--only uncacheTree,invalidate,snapshot/restore,watch,reload]
// `--dir`: where the graph is written (default: generate-graph.js's cached fixture). The watch
// verbs edit the plugin leaf (deepestPluginLeaf) and put it back.
const fs = require('node:fs')
const path = require('node:path')
const { parseArgs } = require('node:util')
const { generateGraph, withBarrel, requirePluginAgain, deepestPluginLeaf } = require('./generate-graph.js')

if (process.env.UNCACHE_TREE_COUNT_NATIVE_CALLS !== '1') {
  throw new Error('run with UNCACHE_TREE_COUNT_NATIVE_CALLS=1: it counts the calls into the native core')
}
const native = require('../lib/native.js')
const api = require('..')

const { values: flags, positionals } = parseArgs({
  allowPositionals: true,
  options: { dir: { type: 'string' }, barrel: { type: 'boolean', default: false }, only: { type: 'string' } },
})
const only = flags.only === undefined ? undefined : new Set(flags.only.split(','))
const plain = generateGraph(Number(positionals[0]), flags.dir === undefined ? {} : { dir: flags.dir })
const graph = flags.barrel ? withBarrel(plain) : plain
let leaf // the plugin leaf whose change reaches the most of the plugin, once it is loaded
const sum = (counts) => Object.values(counts).reduce((a, b) => a + b, 0)

/** Runs `fn`, returns what it returned and the native calls it made. */
function counted(fn) {
  native.resetCallCounts()
  const result = fn()
  const calls = native.callCounts()
  return { result, calls }
}

const results = {}
function record(verb, calls, did) {
  ;(results[verb] ??= []).push({ total: sum(calls), calls, did })
}

const wanted = (verb) => only === undefined || only.has(verb)

async function main() {
  require(graph.entry)
  leaf = deepestPluginLeaf(graph)
  // A process's first unload may read the whole graph (when the package was loaded into a large
  // cache): not counted; the 2nd and 3rd are.
  api.uncacheTree(graph.plugin)
  requirePluginAgain(graph)
  if (wanted('uncacheTree')) {
    for (let k = 0; k < 2; k++) {
      const { result, calls } = counted(() => api.uncacheTree(graph.plugin))
      record('uncacheTree', calls, { removed: result.removed.length, kept: result.kept.length })
      requirePluginAgain(graph)
    }
  }
  if (wanted('invalidate')) {
    for (let k = 0; k < 2; k++) {
      const { result, calls } = counted(() => api.invalidate(leaf))
      record('invalidate', calls, { removed: result.removed.length })
      require(graph.entry)
    }
  }
  if (wanted('snapshot/restore')) {
    // A test's isolation: snapshot(), the test loads a module that uses the plugin, restore().
    for (let k = 0; k < 2; k++) {
      const inside = path.join(graph.dir, `inside-${process.pid}-${k}.js`)
      fs.writeFileSync(inside, `module.exports = require(${JSON.stringify(leaf)})\n`)
      const taken = counted(() => api.snapshot())
      require(inside)
      const restored = counted(() => taken.result.restore())
      fs.rmSync(inside)
      const calls = { ...taken.calls }
      for (const [name, n] of Object.entries(restored.calls)) calls[name] = (calls[name] ?? 0) + n
      record('snapshot/restore', calls, { removed: restored.result.removed.length })
    }
  }
  if (wanted('watch')) await watchVerbs()
  // Last: reload() requires the leaf again from this file, the main module, which then holds it
  // (a save seen by watch() would then warn that the main module keeps the old instance).
  if (wanted('reload')) {
    for (let k = 0; k < 2; k++) {
      const { result, calls } = counted(() => api.reload(leaf))
      record('reload', calls, { removed: result.report.removed.length, fresh: require.cache[leaf]?.exports === result.exports })
      require(graph.entry)
    }
  }
  process.stdout.write(`${JSON.stringify({ modules: Object.keys(require.cache).length, results })}\n`)
}

/** watch(): the call that computes the watched tree, then a save of the leaf and its reload. */
async function watchVerbs() {
  let reloaded
  let failed
  const started = counted(() =>
    api.watch({
      entry: graph.entry,
      debounceMs: 5,
      onReload: (report) => reloaded?.(report),
      onError: (error) => failed?.(error),
    }),
  )
  const watcher = started.result
  record('watch', started.calls, { watchedFiles: watcher.watchedFiles().length })
  const original = fs.readFileSync(leaf, 'utf8')
  try {
    for (let k = 0; k < 2; k++) {
      await new Promise((resolve) => setTimeout(resolve, 50)) // the directory watchers settle
      const done = new Promise((resolve, reject) => {
        const timeout = setTimeout(() => reject(new Error(`watch: no reload within 20 s of saving ${leaf}`)), 20000)
        reloaded = (report) => resolve(report, clearTimeout(timeout))
        failed = (error) => reject(error, clearTimeout(timeout))
      })
      native.resetCallCounts()
      fs.writeFileSync(leaf, `${original}// save ${k}\n`)
      const report = await done
      record('watch save', native.callCounts(), { removed: report.removed.length })
    }
  } finally {
    fs.writeFileSync(leaf, original)
    await watcher.close()
  }
}

main().catch((error) => {
  console.error(error)
  process.exitCode = 1
})
