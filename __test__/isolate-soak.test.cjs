'use strict'
// Soak: 2,000 isolates, each loading a 50-module tree whose root holds a 256 KiB ArrayBuffer and
// which requires a "framework" module loaded before (that one must keep its identity). After
// forced garbage collection at most one old generation may be alive and neither the JS heap nor
// ArrayBuffer memory may have grown by 2 MB.
//
// The same check runs on the naive isolate most code writes (remember the cache keys, delete the
// new ones afterwards, as stealthy-require does) and must fail there: the requiring module's
// `children` keeps every generation. That is the proof that the check can fail at all.
const test = require('node:test')
const assert = require('node:assert/strict')
const { isolate } = require('..')
const { forceGc, settleGc } = require('../lib/proof/gc.js')
const { writeTree } = require('./helpers/fixtures.cjs')

const TREE_SIZE = 50
const ISOLATES = 2000
const NAIVE_ISOLATES = 100
const BUFFER_BYTES = 256 * 1024
const MAX_GROWTH_BYTES = 2 * 1000 * 1000
const MAX_ALIVE_OLD_GENERATIONS = 1

/** m0 requires m1 and m2, m1 requires m3 and m4, ... (a binary tree of 50), plus the framework. */
function treeFiles() {
  const files = { 'framework.js': 'module.exports = { name: "framework" }\n' }
  for (let i = 0; i < TREE_SIZE; i++) {
    const lines = ["'use strict'", "const framework = require('../framework.js')"]
    const kids = [2 * i + 1, 2 * i + 2].filter((k) => k < TREE_SIZE)
    for (const k of kids) lines.push(`const m${k} = require('./m${k}.js')`)
    const own = i === 0 ? `, buffer: new ArrayBuffer(${BUFFER_BYTES})` : ''
    lines.push(`module.exports = { framework, deps: [${kids.map((k) => `m${k}`).join(', ')}]${own} }`, '')
    files[`tree/m${i}.js`] = lines.join('\n')
  }
  return files
}

const t = writeTree(treeFiles())
const ROOT = t.file('tree/m0.js')
const framework = require(t.file('framework.js'))

async function measure() {
  await settleGc(4)
  forceGc()
  const { heapUsed, arrayBuffers } = process.memoryUsage()
  return { heapUsed, arrayBuffers }
}

/**
 * Runs `cycles` isolates with `isolateFn`, yielding to the event loop between them as a test
 * runner does between tests (a WeakRef keeps its target alive until the job that created it
 * ends, so a loop that never yields would hold every generation by itself); returns how many
 * old generations are still alive at the end.
 */
async function soak(isolateFn, cycles) {
  const generations = []
  for (let i = 0; i < cycles; i++) {
    isolateFn(() => {
      const root = require(ROOT)
      assert.equal(root.framework, framework)
      generations.push(new WeakRef(root))
    })
    await new Promise((resolve) => setImmediate(resolve))
  }
  await settleGc(6)
  // The newest generation may legitimately still be referenced from this frame's locals.
  return generations.slice(0, -1).filter((ref) => ref.deref() !== undefined).length
}

/** The naive isolate: delete the cache keys that were not there before. Nothing else. */
function naiveIsolate(fn) {
  const before = new Set(Object.keys(require.cache))
  try {
    return fn()
  } finally {
    for (const key of Object.keys(require.cache)) if (!before.has(key)) delete require.cache[key]
  }
}

test(`${ISOLATES} isolates of a ${TREE_SIZE}-module tree: no generation survives, memory stays flat`, async () => {
  await soak(isolate, 50) // warm up: compile caches, pathCache, code of this package
  const start = await measure()
  const started = process.hrtime.bigint()
  const alive = await soak(isolate, ISOLATES)
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  const end = await measure()
  const heapGrowth = end.heapUsed - start.heapUsed
  const bufferGrowth = end.arrayBuffers - start.arrayBuffers
  console.log(
    `isolate soak: ${ISOLATES} isolates x ${TREE_SIZE} modules in ${seconds.toFixed(1)} s; ` +
      `old generations alive ${alive}; heapUsed ${(heapGrowth / 1e6).toFixed(2)} MB, ` +
      `arrayBuffers ${(bufferGrowth / 1e6).toFixed(2)} MB (Node ${process.version})`,
  )
  assert.ok(alive <= MAX_ALIVE_OLD_GENERATIONS, `${alive} old generations alive`)
  assert.ok(heapGrowth < MAX_GROWTH_BYTES, `heapUsed grew ${heapGrowth} bytes`)
  assert.ok(bufferGrowth < MAX_GROWTH_BYTES, `arrayBuffers grew ${bufferGrowth} bytes`)
  assert.equal(require.cache[ROOT], undefined)
  assert.equal(require(t.file('framework.js')), framework)
})

test(`the same check fails for the naive isolate (${NAIVE_ISOLATES} cycles)`, async () => {
  const start = await measure()
  const alive = await soak(naiveIsolate, NAIVE_ISOLATES)
  const end = await measure()
  const bufferGrowth = end.arrayBuffers - start.arrayBuffers
  console.log(`naive isolate: old generations alive ${alive}; arrayBuffers ${(bufferGrowth / 1e6).toFixed(2)} MB`)
  assert.ok(alive > MAX_ALIVE_OLD_GENERATIONS, 'the naive isolate leaks every generation')
  assert.ok(bufferGrowth >= MAX_GROWTH_BYTES)
})
