#!/usr/bin/env node
'use strict'
// npm run fuzz -- --runs N [--seed S] [--repro-dir DIR]
// Runs N random sequences (default 2,000) from seed S (default: random, printed) and prints
// the rate. On a failure the shrunk sequence is written as a standalone script; its path and
// contents are printed and the exit code is 1.
const { parseArgs } = require('node:util')
const { fuzz, stats } = require('./harness.cjs')

async function main() {
  const { values } = parseArgs({
    options: { runs: { type: 'string', default: '2000' }, seed: { type: 'string' }, 'repro-dir': { type: 'string' } },
  })
  const runs = Number(values.runs)
  const seed = values.seed === undefined ? (Date.now() ^ (Math.random() * 0x7fffffff)) | 0 : Number(values.seed)
  if (!Number.isInteger(runs) || runs < 1 || !Number.isInteger(seed)) {
    console.error('usage: npm run fuzz -- --runs N [--seed S] [--repro-dir DIR]')
    process.exit(2)
  }
  console.log(`uncache-tree fuzz: ${runs} sequences, seed ${seed}, Node ${process.version}`)
  const started = Date.now()
  // Progress on long runs (the counter includes shrinking runs after a failure).
  const progress = setInterval(() => {
    // Memory beside the count: a long run that slows down shows whether the process grows with it.
    const { rss, heapUsed } = process.memoryUsage()
    const mb = (n) => `${(n / 1048576).toFixed(0)} MB`
    console.log(`  … ${stats.sequences} sequences after ${((Date.now() - started) / 1000).toFixed(0)} s (rss ${mb(rss)}, heap ${mb(heapUsed)}, ${Object.keys(require.cache).length} cached modules)`)
  }, Number(process.env.UNCACHE_FUZZ_PROGRESS_MS) || 60_000)
  progress.unref()
  const out = await fuzz({ runs, seed, reproDir: values['repro-dir'] })
  clearInterval(progress)
  const rate = (out.runs / (out.ms / 1000)).toFixed(0)
  console.log(`exercised: ${JSON.stringify(stats)}`)
  if (!out.failed) {
    console.log(`passed: ${out.runs} sequences in ${(out.ms / 1000).toFixed(1)} s (${rate} sequences/s), seed ${seed}`)
    return
  }
  console.log(`FAILED after ${out.runs} sequences (${out.shrinks} shrinks), seed ${seed}: ${out.message}`)
  console.log(`repro script: ${out.script}\n----\n${out.contents}----`)
  process.exitCode = 1
}

main().catch((error) => {
  console.error(error)
  process.exitCode = 1
})
