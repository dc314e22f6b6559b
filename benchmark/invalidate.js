#!/usr/bin/env node
'use strict'
// `npm run bench:invalidate`: what invalidate() of one plugin file costs as the cache grows, with
// the importers found through the live graph index against a flatten of the whole cache (the
// planner of every version before the index).
//
//   node --expose-gc benchmark/invalidate.js [--sizes 1000,10000,30000] [--runs N]
//
// For each size the generated graph (generate-graph.js) is required through its index.js. Each
// sample invalidates the plugin's last file, which bubbles up through the plugin to index.js
// (about ten modules), then requires index.js again, which loads just those anew (untimed). The
// two contenders alternate, gc() before every timed call; medians. Before timing, one round checks
// that both removed the same modules.
const path = require('node:path')
const { generateGraph } = require('./generate-graph.js')

const cache = require.cache

function parseArgs(argv) {
  const opts = { sizes: [1000, 10000, 30000], runs: 15 }
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--sizes') opts.sizes = argv[++i].split(',').map(Number)
    else if (argv[i] === '--runs') opts.runs = Number(argv[++i])
    else throw new Error(`unknown argument ${argv[i]} (usage: [--sizes 1000,10000] [--runs N])`)
  }
  return opts
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

function main() {
  if (typeof gc !== 'function') throw new Error('run with node --expose-gc')
  const { sizes, runs } = parseArgs(process.argv.slice(2))
  const api = require('..')
  const { invalidateKeys } = require('../lib/hot/invalidate.js')
  const { parseInvalidateOptions } = require('../lib/options.js')
  const opts = parseInvalidateOptions({})
  const contenders = {
    'uncache-tree (index)': (file) => api.invalidate(file),
    'full flatten': (file) => invalidateKeys(cache, [file], opts, { fromFile: __filename, fullScan: true }).report,
  }
  console.log(`invalidate(one plugin file), Node ${process.version}, ${runs} samples per contender`)
  console.log('| cached modules | contender | median ms | removed |')
  console.log('|---:|---|---:|---:|')
  for (const n of sizes) {
    const graph = generateGraph(n)
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
    const [a, b] = Object.keys(contenders)
    if (JSON.stringify(removed[a]) !== JSON.stringify(removed[b])) throw new Error(`the contenders removed different modules at ${n}`)
    for (const name of Object.keys(contenders)) {
      console.log(`| ${Object.keys(cache).length.toLocaleString('en')} | ${name} | ${median(samples[name]).toFixed(2)} | ${removed[name].length} |`)
    }
    // The next size starts from a cache without this graph.
    api.uncacheTree(graph.entry)
    for (const key of Object.keys(cache)) if (key.startsWith(graph.dir + path.sep)) delete cache[key]
  }
}

main()
