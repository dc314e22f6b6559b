#!/usr/bin/env node
'use strict'
// `npm run bench:invalidate`: what invalidate() and reload() of one plugin file cost as the cache
// grows, with the importers found through the live graph index against a flatten of the whole
// cache (the planner of every version before the index; reload's rollback capture needed it too).
//
//   node --expose-gc benchmark/invalidate.js [--sizes 1000,10000,30000] [--runs N] [--barrel]
//
// `--barrel`: the program's entry is app.js, which requires index.js and a barrel file that
// requires every module of the main graph (an `index.js` that re-exports a whole library): the
// invalidated chain ends at app.js, whose dependencies include the barrel (a leaf of the plan:
// its own thousands of `children` need not be read).
//
// For each size the generated graph (generate-graph.js) is required through its index.js. Each
// sample invalidates the plugin's last file, which bubbles up through the plugin to index.js
// (about ten modules), then requires index.js again, which loads just those anew (untimed). The
// contenders alternate, gc() before every timed call; medians. reload() loads the leaf again
// inside the timed call (one file). Before timing, one round checks that every contender removed
// the same modules.
const path = require('node:path')
const { generateGraph, withBarrel } = require('./generate-graph.js')

const cache = require.cache

function parseArgs(argv) {
  const opts = { sizes: [1000, 10000, 30000], runs: 15, barrel: false }
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--sizes') opts.sizes = argv[++i].split(',').map(Number)
    else if (argv[i] === '--runs') opts.runs = Number(argv[++i])
    else if (argv[i] === '--barrel') opts.barrel = true
    else throw new Error(`unknown argument ${argv[i]} (usage: [--sizes 1000,10000] [--runs N] [--barrel])`)
  }
  return opts
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

function main() {
  if (typeof gc !== 'function') throw new Error('run with node --expose-gc')
  const { sizes, runs, barrel } = parseArgs(process.argv.slice(2))
  const api = require('..')
  const { invalidateKeys } = require('../lib/hot/invalidate.js')
  const { reloadKeys } = require('../lib/hot/reload.js')
  const { parseInvalidateOptions, parseReloadOptions } = require('../lib/options.js')
  const opts = parseInvalidateOptions({})
  const reloadOpts = parseReloadOptions({})
  const contenders = {
    'invalidate (index)': (file) => api.invalidate(file),
    'invalidate, full flatten': (file) => invalidateKeys(cache, [file], opts, { fromFile: __filename, fullScan: true }).report,
    'reload (index)': (file) => api.reload(file).report,
    'reload, full flatten': (file) => reloadKeys(cache, [file], file, __filename, reloadOpts, { fullScan: true }).report,
  }
  console.log(`invalidate() and reload() of one plugin file${barrel ? ', the entry requiring a barrel file' : ''}, Node ${process.version}, ${runs} samples per contender`)
  console.log('| cached modules | contender | median ms | removed |')
  console.log('|---:|---|---:|---:|')
  for (const n of sizes) {
    const graph = barrel ? withBarrel(generateGraph(n)) : generateGraph(n)
    require(graph.entry)
    const leaf = graph.pluginFiles.at(-1)
    const removed = {}
    const samples = Object.fromEntries(Object.keys(contenders).map((name) => [name, []]))
    for (let r = 0; r < runs + 2; r++) {
      for (const [name, run] of r % 2 === 0 ? Object.entries(contenders) : Object.entries(contenders).reverse()) {
        gc()
        const started = process.hrtime.bigint()
        const report = run(leaf)
        const ms = Number(process.hrtime.bigint() - started) / 1e6
        if (r >= 2) samples[name].push(ms)
        removed[name] = [...report.removed].sort()
        require(graph.entry)
      }
    }
    const names = Object.keys(contenders)
    for (const name of names) {
      if (JSON.stringify(removed[name]) !== JSON.stringify(removed[names[0]])) throw new Error(`${name} removed other modules than ${names[0]} at ${n}`)
    }
    for (const name of Object.keys(contenders)) {
      console.log(`| ${Object.keys(cache).length.toLocaleString('en')} | ${name} | ${median(samples[name]).toFixed(2)} | ${removed[name].length} |`)
    }
    // The next size starts from a cache without this graph.
    api.uncacheTree(graph.entry)
    for (const key of Object.keys(cache)) if (key.startsWith(graph.dir + path.sep)) delete cache[key]
  }
}

main()
