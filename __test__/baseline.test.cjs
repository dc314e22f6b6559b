'use strict'
// The benchmark's plain-JS baseline (benchmark/baseline-unload.js) must do what uncache-tree
// does, or the ratios in the README compare different work. These tests pin that down on a
// small generated graph in a temp directory.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const Module = require('node:module')
const { generateGraph, PLUGIN_SIZE } = require('../benchmark/generate-graph.js')
const { baselineUnload } = require('../benchmark/baseline-unload.js')

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'uncache-tree-baseline-'))
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }))

let fixture = 0
/** A fresh copy of the graph (new files, so nothing is shared with another test's modules). */
function loadGraph() {
  const graph = generateGraph(300, { dir: path.join(tmp, `graph-${fixture++}`) })
  require(graph.entry)
  return graph
}

const prefixOf = (graph) => graph.dir + path.sep
const graphKeys = (graph) => Object.keys(require.cache).filter((k) => k.startsWith(prefixOf(graph)))

/** Every reference to a removed module that the baseline promises to cut, counted. */
function leftovers(removedObjects, removedNames) {
  let edges = 0
  let parents = 0
  for (const m of Object.values(require.cache)) {
    for (const c of m.children) if (removedObjects.has(c)) edges++
    if (removedObjects.has(m.parent)) parents++
  }
  let paths = 0
  for (const key of Object.keys(Module._pathCache)) if (removedNames.has(Module._pathCache[key])) paths++
  return { edges, parents, paths }
}

test('unloading the plugin removes exactly its 50 private modules, importers first', () => {
  const graph = loadGraph()
  const before = new Map(graphKeys(graph).map((k) => [k, require.cache[k]]))
  const childrenBefore = new Map([...before].map(([k, m]) => [k, m.children.map((c) => c.filename)]))

  const { removed } = baselineUnload(graph.plugin)

  assert.equal(removed.length, PLUGIN_SIZE)
  assert.deepEqual([...removed].sort(), [...graph.pluginFiles].sort())
  assert.equal(removed[0], graph.plugin, 'the target comes first')
  for (const key of removed) assert.equal(require.cache[key], undefined, `${key} is still cached`)
  const position = new Map(removed.map((k, i) => [k, i]))
  for (const key of removed) {
    for (const child of childrenBefore.get(key)) {
      if (position.has(child)) assert.ok(position.get(key) < position.get(child), `${key} must come before ${child}`)
    }
  }
  // the removed modules lose their own links too (nothing of theirs pins the survivors)
  for (const key of removed) {
    assert.equal(before.get(key).children.length, 0)
    assert.equal(before.get(key).parent, undefined)
  }
})

test('main-graph modules the plugin shares stay loaded, with their identity', () => {
  const graph = loadGraph()
  const shared = new Map(graph.pluginMainDeps.map((f) => [f, require.cache[f]]))
  assert.ok(shared.size >= 5, 'the fixture has edges from the plugin into the main graph')
  const graphSize = graphKeys(graph).length

  baselineUnload(graph.plugin)

  assert.equal(graphKeys(graph).length, graphSize - PLUGIN_SIZE, 'nothing outside the plugin went')
  for (const [file, m] of shared) assert.equal(require.cache[file], m, `${file} was unloaded`)
  // re-requiring the plugin loads new plugin modules that link to the very same shared ones
  const oldPlugin = require.cache[graph.plugin]
  require(graph.plugin)
  const newPlugin = require.cache[graph.plugin]
  assert.notEqual(newPlugin, oldPlugin)
  const reachable = new Set()
  const stack = [newPlugin]
  while (stack.length > 0) {
    const m = stack.pop()
    for (const c of m.children) if (!reachable.has(c)) reachable.add(c) && stack.push(c)
  }
  for (const [file, m] of shared) {
    assert.ok(reachable.has(m), `the new plugin reaches the old ${path.basename(file)}`)
    assert.equal(require(file), m.exports)
  }
})

test('no surviving module keeps a reference to a removed one', () => {
  const graph = loadGraph()
  const before = new Map(graphKeys(graph).map((k) => [k, require.cache[k]]))
  const { removed } = baselineUnload(graph.plugin)
  const removedObjects = new Set(removed.map((k) => before.get(k)))
  assert.deepEqual(leftovers(removedObjects, new Set(removed)), { edges: 0, parents: 0, paths: 0 })
  const host = require.cache[graph.entry]
  assert.ok(!host.children.includes(before.get(graph.plugin)), 'index.js no longer lists the plugin')
})

test('unloading from the entry removes the whole graph and cuts the requirer of the entry', () => {
  const graph = loadGraph()
  const before = new Map(graphKeys(graph).map((k) => [k, require.cache[k]]))
  assert.equal(before.size, graph.files)
  const { removed } = baselineUnload(graph.entry)
  assert.equal(removed.length, graph.files)
  assert.deepEqual(graphKeys(graph), [])
  const removedObjects = new Set(before.values())
  assert.deepEqual(leftovers(removedObjects, new Set(removed)), { edges: 0, parents: 0, paths: 0 })
  assert.ok(!module.children.includes(before.get(graph.entry)))
})

test('an id that is not cached is an empty result, twice in a row', () => {
  const graph = loadGraph()
  baselineUnload(graph.plugin)
  assert.deepEqual(baselineUnload(graph.plugin), { removed: [] })
})

let uncacheTree
try {
  ;({ uncacheTree } = require('..'))
} catch {}

test('uncache-tree removes the same keys as the baseline', { skip: typeof uncacheTree !== 'function' && 'uncache-tree does not load' }, () => {
  for (const pick of [(g) => g.plugin, (g) => g.entry]) {
    const a = loadGraph()
    const b = loadGraph() // an identical copy in another directory
    const ours = uncacheTree(pick(a)).removed.map((k) => path.relative(a.dir, k))
    const base = baselineUnload(pick(b)).removed.map((k) => path.relative(b.dir, k))
    assert.deepEqual([...ours].sort(), [...base].sort())
  }
})
