'use strict'
// Other libraries that patch the loader, tested with the real packages (devDependencies): the
// edges made through them count as edges made through Node's loader (API.md, "The module graph";
// docs/module-graph.md).
const test = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const { uncacheTree, invalidate, rescan } = require('..')
const { writeTree, requiring } = require('./helpers/fixtures.cjs')

const cache = require.cache

/** A package `instr` in node_modules and three requirers of it. */
function instrumentedApp() {
  return writeTree({
    'node_modules/instr/package.json': JSON.stringify({ name: 'instr', version: '1.0.0', main: 'index.js' }),
    'node_modules/instr/index.js': 'module.exports = { name: "instr", calls: 0 }\n',
    'r1.js': requiring('r1', ['instr']),
    'r2.js': requiring('r2', ['instr']),
    'r3.js': requiring('r3', ['instr']),
  })
}

test('require-in-the-middle: later requirers served from its cache still hold the package', (t) => {
  const { Hook } = require('require-in-the-middle')
  const app = instrumentedApp()
  const hook = new Hook(['instr'], (exports) => Object.assign(Object.create(exports), { patched: true }))
  t.after(() => hook.unhook())
  rescan() // any call puts uncache-tree's require() wrapper above the hook's (docs/module-graph.md)
  const r1 = require(app.file('r1.js'))
  const r2 = require(app.file('r2.js'))
  const r3 = require(app.file('r3.js'))
  const instrFile = app.file('node_modules/instr/index.js')
  const instr = cache[instrFile]
  assert.equal(r2.deps.instr.patched, true, 'r2 got the patched exports from the hook cache')
  assert.equal(r2.deps.instr, r1.deps.instr, 'the same cached value')
  for (const r of ['r1.js', 'r2.js', 'r3.js']) assert.ok(cache[app.file(r)].children.includes(instr), `${r} holds instr`)

  // Unloading the first requirer keeps the package for the others.
  const report = uncacheTree(app.file('r1.js'))
  assert.deepEqual(report.removed, [app.file('r1.js')])
  assert.deepEqual(report.kept, [{ id: instrFile, heldBy: [app.file('r2.js'), app.file('r3.js')] }])
  assert.equal(cache[instrFile], instr, 'same identity')

  // invalidate(package) reaches every requirer, those served by the hook included.
  const inv = invalidate(instrFile)
  assert.deepEqual(inv.removed.map((id) => path.basename(id)).sort(), ['index.js', 'r2.js', 'r3.js'])
  assert.equal(cache[app.file('r2.js')], undefined)
  assert.equal(cache[app.file('r3.js')], undefined)
})

test('require-in-the-middle without a module list (every module hooked): same holders as plain Node', (t) => {
  const { Hook } = require('require-in-the-middle')
  const app = instrumentedApp()
  const hook = new Hook((exports) => exports)
  t.after(() => hook.unhook())
  rescan()
  require(app.file('r1.js'))
  require(app.file('r2.js'))
  const instrFile = app.file('node_modules/instr/index.js')
  const report = uncacheTree(app.file('r2.js'))
  assert.deepEqual(report.kept, [{ id: instrFile, heldBy: [app.file('r1.js')] }])
})

test('OpenTelemetry: an instrumentation of a package (the real @opentelemetry/instrumentation) keeps every requirer a holder', (t) => {
  const { InstrumentationBase, InstrumentationNodeModuleDefinition } = require('@opentelemetry/instrumentation')
  const app = instrumentedApp()
  let patched = 0
  class InstrInstrumentation extends InstrumentationBase {
    constructor() {
      super('uncache-tree-test-instr', '1.0.0', {})
    }

    init() {
      const patch = (exports) => {
        patched++
        exports.patched = true
        return exports
      }
      return [new InstrumentationNodeModuleDefinition('instr', ['*'], patch, (exports) => exports)]
    }
  }
  const instrumentation = new InstrInstrumentation()
  instrumentation.enable()
  t.after(() => instrumentation.disable())
  rescan() // uncache-tree's require() wrapper above the instrumentation's hook
  const r1 = require(app.file('r1.js'))
  require(app.file('r2.js'))
  require(app.file('r3.js'))
  assert.equal(r1.deps.instr.patched, true)
  assert.equal(patched, 1, 'patched once, then served from the hook')
  const instrFile = app.file('node_modules/instr/index.js')
  const instr = cache[instrFile]
  for (const r of ['r1.js', 'r2.js', 'r3.js']) assert.ok(cache[app.file(r)].children.includes(instr), `${r} holds instr`)
  const report = uncacheTree(app.file('r1.js'))
  assert.deepEqual(report.kept, [{ id: instrFile, heldBy: [app.file('r2.js'), app.file('r3.js')] }])
  const inv = invalidate(instrFile)
  assert.deepEqual(inv.removed.map((id) => path.basename(id)).sort(), ['index.js', 'r2.js', 'r3.js'])
})
