#!/usr/bin/env node
'use strict'
// `npm run bench:from-string`: unloading a module compiled from a string (what
// require-from-string and template engines do: `new Module` + `_compile`) must not cost more in
// a large program than in a small one.
//
//   node --expose-gc benchmark/from-string.js [--sizes 1000,20000] [--runs 30]
//
// Two ways such a module exists, each measured:
// - `cached by hand`: compiled with a main-graph module as parent and put into require.cache
//   under its filename; uncacheTree(filename).
// - `require-from-string`: compiled by the real package (a devDependency), which never caches
//   the module and takes it out of its parent's `children`; the string exports its own `module`,
//   and uncacheTree(thatModule) unloads it (a plugin host holding the object does the same).
// For each size and way a fresh process requires the generated graph (generate-graph.js), reads
// the live graph index once (rescan(), as the second unload of a process does), then, `runs`
// times, compiles a small module that requires the plugin and times uncacheTree() of it. Medians
// with p25-p75; the last column is each size's median over the smallest size's (the target:
// flat, ≤ 2×).
const { execFileSync } = require('node:child_process')
const path = require('node:path')
const { parseArgs } = require('node:util')
const { generateGraph } = require('./generate-graph.js')
const { quantile } = require('./stats.js')

const ROOT = path.join(__dirname, '..')

const WAYS = {
  'cached by hand': `
      const m = new Module(file, holder)
      m.filename = file
      m.paths = Module._nodeModulePaths(dir)
      m._compile("module.exports = [require('./plugin/index.js')]\\n", file)
      require.cache[file] = m
      const target = file`,
  'require-from-string': `
      const target = requireFromString("module.exports = { plugin: require('./plugin/index.js'), module }\\n", file).module`,
}

/**
 * Sorted uncacheTree() times, in ms, of `runs` modules compiled from a string the given way
 * (a key of WAYS), in a fresh process with `graph` loaded.
 */
function measureFromString(graph, runs, way = 'cached by hand') {
  const code = `
    const Module = require('node:module')
    const path = require('node:path')
    const api = require(${JSON.stringify(ROOT)})
    const requireFromString = require(${JSON.stringify(require.resolve('require-from-string', { paths: [ROOT] }))})
    require(${JSON.stringify(graph.entry)})
    api.rescan()
    const holder = require.cache[${JSON.stringify(graph.entry)}]
    const dir = path.dirname(${JSON.stringify(graph.entry)})
    const times = []
    for (let k = 0; k < ${runs}; k++) {
      const file = path.join(dir, 'from-string-' + k + '.js')
      ${WAYS[way]}
      gc()
      const started = process.hrtime.bigint()
      api.uncacheTree(target)
      times.push(Number(process.hrtime.bigint() - started) / 1e6)
    }
    console.log(JSON.stringify(times))
  `
  const times = JSON.parse(execFileSync(process.execPath, ['--expose-gc', '-e', code], { encoding: 'utf8', maxBuffer: 1 << 26 }))
  return times.sort((a, b) => a - b)
}

function main() {
  const { values } = parseArgs({ options: { sizes: { type: 'string', default: '1000,20000' }, runs: { type: 'string', default: '30' } } })
  const sizes = values.sizes.split(',').map(Number)
  const runs = Number(values.runs)
  if (sizes.some((n) => !Number.isInteger(n) || n < 20) || !Number.isInteger(runs) || runs < 1) {
    console.error('usage: node --expose-gc benchmark/from-string.js [--sizes 1000,20000] [--runs 30]')
    process.exit(2)
  }
  console.log(`uncacheTree() of a module compiled from a string, ${runs} runs per size, Node ${process.version}`)
  console.log('| modules | compiled | median ms | p25–p75 ms | × smallest |')
  console.log('|---:|---|---:|---:|---:|')
  for (const way of Object.keys(WAYS)) {
    let first
    for (const n of sizes) {
      const times = measureFromString(generateGraph(n), runs, way)
      const median = quantile(times, 0.5)
      first ??= median
      console.log(`| ${n.toLocaleString('en-US')} | ${way} | ${median.toFixed(3)} | ${quantile(times, 0.25).toFixed(3)}–${quantile(times, 0.75).toFixed(3)} | ${(median / first).toFixed(2)}× |`)
    }
  }
}

module.exports = { measureFromString, WAYS }

if (require.main === module) main()
