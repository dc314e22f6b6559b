#!/usr/bin/env node
'use strict'
// Smoke test of an installed uncache-tree, run where `require('uncache-tree')` resolves (a
// consumer project, or this repository through its own name): a two-file plugin in a temp dir is
// loaded, unloaded and loaded fresh. Prints which native binary was loaded, relative to the
// current directory. Used by scripts/ci-packaging.sh and the release workflow.
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'uncache-tree-smoke-')))
try {
  fs.mkdirSync(path.join(dir, 'plugin'))
  fs.writeFileSync(path.join(dir, 'plugin', 'index.js'), "exports.dep = require('./dep.js')\n")
  fs.writeFileSync(path.join(dir, 'plugin', 'dep.js'), 'exports.n = 1\n')
  const { uncacheTree } = require('uncache-tree')
  const entry = path.join(dir, 'plugin', 'index.js')
  const first = require(entry)
  const report = uncacheTree(entry)
  assert.deepEqual(report.removed.map((f) => path.relative(dir, f)), [path.join('plugin', 'index.js'), path.join('plugin', 'dep.js')])
  assert.deepEqual(report.kept, [])
  const second = require(entry)
  assert.notEqual(second, first)
  assert.notEqual(second.dep, first.dep)
  const binaries = Object.keys(require.cache).filter((k) => k.endsWith('.node'))
  assert.equal(binaries.length, 1)
  console.log(
    `smoke ok on Node ${process.version} (${process.platform}-${process.arch}): removed ${report.removed.length} modules; ` +
      `binary ${path.relative(process.cwd(), binaries[0])}`,
  )
} finally {
  fs.rmSync(dir, { recursive: true, force: true })
}
