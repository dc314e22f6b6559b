#!/usr/bin/env node
'use strict'
// `npm run bench:require`: what the loader wrappers cost when a program loads its code, and what
// the live graph index holds per module.
//
//   node benchmark/require-overhead.js [--size 30000] [--runs 5]
//
// Each run is a fresh process that requires the generated graph (generate-graph.js) through its
// index.js, either plainly or with uncache-tree loaded first (`--require uncache-tree/register`,
// which installs the wrappers and nothing else). Runs alternate between the two, so machine noise
// hits both; medians are compared. The plain run also reports its heap after a forced GC; the run
// with the package reports the same and the index's own figures, so the difference per module is
// what the wrappers and the index keep (the index reads the graph once at the end, as the first
// unload would).
const { execFileSync } = require('node:child_process')
const path = require('node:path')
const { generateGraph } = require('./generate-graph.js')

const ROOT = path.join(__dirname, '..')

function child(withPackage, entry) {
  const code = `
    const started = process.hrtime.bigint()
    require(${JSON.stringify(entry)})
    const ms = Number(process.hrtime.bigint() - started) / 1e6
    const out = { ms }
    if (${withPackage}) {
      const api = require(${JSON.stringify(ROOT)})
      out.index = api.rescan()
      const gi = require(${JSON.stringify(path.join(ROOT, 'lib/graph/graph-index.js'))})
      out.native = gi.stats(globalThis[Symbol.for('uncache-tree.state.v1')].graphIndex)
    }
    for (let i = 0; i < 4; i++) gc()
    out.heap = process.memoryUsage().heapUsed
    console.log(JSON.stringify(out))`
  const args = ['--expose-gc', ...(withPackage ? ['--require', path.join(ROOT, 'register.js')] : []), '-e', code]
  return JSON.parse(execFileSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 24 }))
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

function main() {
  const argv = process.argv.slice(2)
  const arg = (name, fallback) => {
    const i = argv.indexOf(name)
    return i < 0 ? fallback : Number(argv[i + 1])
  }
  const size = arg('--size', 30000)
  const runs = arg('--runs', 5)
  const graph = generateGraph(size)
  const plain = []
  const wrapped = []
  child(false, graph.entry) // warm the file system cache
  for (let r = 0; r < runs; r++) {
    const order = r % 2 === 0 ? [false, true] : [true, false]
    for (const withPackage of order) (withPackage ? wrapped : plain).push(child(withPackage, graph.entry))
  }
  const plainMs = median(plain.map((o) => o.ms))
  const wrappedMs = median(wrapped.map((o) => o.ms))
  const last = wrapped.at(-1)
  const modules = last.index.modules
  const heapPerModule = (median(wrapped.map((o) => o.heap)) - median(plain.map((o) => o.heap))) / modules
  console.log(`require() of a ${size}-module graph (+50 plugin modules), ${runs} runs each, Node ${process.version}`)
  console.log(`  without uncache-tree: ${plainMs.toFixed(0)} ms (median)`)
  console.log(`  with the wrappers:    ${wrappedMs.toFixed(0)} ms (median), ${(wrappedMs / plainMs).toFixed(3)}×`)
  console.log(`live graph index: ${modules} modules, ${last.index.edges} edges`)
  console.log(`  native graph: ${last.native.nativeBytes} bytes, ${(last.native.nativeBytes / modules).toFixed(0)} bytes per module`)
  console.log(`  JS heap with the package minus without: ${heapPerModule.toFixed(0)} bytes per module (ids, keys, finalizer cells, and the package's own code)`)
}

main()
