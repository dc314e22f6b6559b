#!/usr/bin/env node
'use strict'
// `npm run bench:from-string`: unloading a module compiled from a string (what
// require-from-string and template engines do: `new Module` + `_compile`, then cached by hand)
// must not cost more in a large program than in a small one.
//
//   node --expose-gc benchmark/from-string.js [--sizes 1000,20000] [--runs 30]
//
// For each size a fresh process requires the generated graph (generate-graph.js), reads the live
// graph index once (rescan(), as the second unload of a process does), then, `runs` times,
// compiles a small module from a string whose parent is a main-graph module, caches it by hand
// and times uncacheTree() of it. Medians with p25-p75; the last column is each size's median
// over the smallest size's (the target: flat, ≤ 2×).
const { execFileSync } = require('node:child_process')
const path = require('node:path')
const { parseArgs } = require('node:util')
const { generateGraph } = require('./generate-graph.js')
const { quantile } = require('./stats.js')

const ROOT = path.join(__dirname, '..')

/** Sorted uncacheTree() times, in ms, of `runs` from-string modules, in a fresh process with `graph` loaded. */
function measureFromString(graph, runs) {
  const code = `
    const Module = require('node:module')
    const path = require('node:path')
    const api = require(${JSON.stringify(ROOT)})
    require(${JSON.stringify(graph.entry)})
    api.rescan()
    const holder = require.cache[${JSON.stringify(graph.entry)}]
    const dir = path.dirname(${JSON.stringify(graph.entry)})
    const times = []
    for (let k = 0; k < ${runs}; k++) {
      const file = path.join(dir, 'from-string-' + k + '.js')
      const m = new Module(file, holder)
      m.filename = file
      m.paths = Module._nodeModulePaths(dir)
      m._compile("module.exports = [require('./plugin/index.js')]\\n", file)
      require.cache[file] = m
      gc()
      const started = process.hrtime.bigint()
      api.uncacheTree(file)
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
  console.log('| modules | median ms | p25–p75 ms | × smallest |')
  console.log('|---:|---:|---:|---:|')
  let first
  for (const n of sizes) {
    const times = measureFromString(generateGraph(n), runs)
    const median = quantile(times, 0.5)
    first ??= median
    console.log(`| ${n.toLocaleString('en-US')} | ${median.toFixed(3)} | ${quantile(times, 0.25).toFixed(3)}–${quantile(times, 0.75).toFixed(3)} | ${(median / first).toFixed(2)}× |`)
  }
}

module.exports = { measureFromString }

if (require.main === module) main()
