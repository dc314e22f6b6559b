'use strict'
// The runner integrations' defaults and modes, run for real in child processes: packages under
// node_modules stay loaded unless told otherwise (`keep: null` keeps nothing), per-file and
// per-test isolation for node:test, Mocha and Vitest, `onRestore` wherever a restore happens, and
// the node:test setups that would silently isolate nothing, refused with ERR_UNCACHE_TEST_SETUP.
const test = require('node:test')
const assert = require('node:assert/strict')
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { writeTree } = require('./helpers/fixtures.cjs')

const ROOT = path.join(__dirname, '..')
const NODE_MAJOR = Number(process.versions.node.split('.')[0])
const MOCHA = path.join(ROOT, 'node_modules', 'mocha', 'bin', 'mocha.js')
const VITEST = path.join(ROOT, 'node_modules', 'vitest', 'vitest.mjs')
const ISOLATION_OFF = NODE_MAJOR >= 24 ? '--test-isolation=none' : '--experimental-test-isolation=none'

function run(cwd, args) {
  const { NODE_TEST_CONTEXT, ...env } = process.env
  const result = spawnSync(process.execPath, args, {
    cwd,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...env, NODE_OPTIONS: '', NO_COLOR: '1', FORCE_COLOR: '0' },
  })
  if (result.error) throw result.error
  return { status: result.status, output: `${result.stdout}\n${result.stderr}` }
}

/** A project with a package that counts its loads, an app counter, and uncache-tree installed. */
function project(files) {
  const t = writeTree({
    'package.json': '{ "name": "runner-integrations", "private": true }\n',
    'node_modules/counted-pkg/package.json': '{ "name": "counted-pkg", "main": "index.js" }\n',
    'node_modules/counted-pkg/index.js': 'globalThis.pkgLoads = (globalThis.pkgLoads ?? 0) + 1\nexports.loads = globalThis.pkgLoads\n',
    'counter.js': 'let count = 0\nexports.increment = () => ++count\n',
    ...files,
  })
  fs.symlinkSync(ROOT, t.file('node_modules/uncache-tree'), 'dir')
  fs.symlinkSync(path.join(ROOT, 'node_modules', 'vitest'), t.file('node_modules/vitest'), 'dir')
  return t
}

const summary = (output, name) => Number(output.match(new RegExp(`^# ${name} (\\d+)$`, 'm'))?.[1])

test('node:test isolateEach keeps node_modules loaded by default; keep: null keeps nothing', () => {
  const file = (options) => `const { test } = require('node:test')
const assert = require('node:assert/strict')
const { isolateEach } = require('uncache-tree/node-test')
isolateEach(${options})
test('first', () => { assert.equal(require('./counter.js').increment(), 1); console.log('package load', require('counted-pkg').loads) })
test('second', () => { assert.equal(require('./counter.js').increment(), 1); console.log('package load', require('counted-pkg').loads) })
`
  const t = project({ 'default.test.js': file(''), 'nothing-kept.test.js': file('{ keep: null }') })
  const kept = run(t.dir, ['--test', '--test-reporter=tap', 'default.test.js'])
  assert.equal(kept.status, 0, kept.output)
  // (node --test's TAP shows a file's console output as comments.)
  assert.deepEqual(kept.output.match(/package load \d+/g), ['package load 1', 'package load 1'])
  const none = run(t.dir, ['--test', '--test-reporter=tap', 'nothing-kept.test.js'])
  assert.equal(none.status, 0, none.output)
  assert.deepEqual(none.output.match(/package load \d+/g), ['package load 1', 'package load 2'])
})

test('snapshot({ onRestore }) calls onRestore with the report of every restore', () => {
  const t = project({
    'main.js': `const { snapshot } = require('uncache-tree')
const seen = []
const clean = snapshot({ onRestore: (report) => seen.push(report.removed.map((id) => require('node:path').basename(id))) })
require('./counter.js')
const report = clean.restore()
clean.restore()
console.log(JSON.stringify(seen), seen.length === 2 && report.removed.length === 1)
try { snapshot({ onRestore: 1 }) } catch (e) { console.log(e.code) }
`,
  })
  const { status, output } = run(t.dir, ['main.js'])
  assert.equal(status, 0, output)
  assert.match(output, /^\[\["counter\.js"\],\[\]\] true$/m)
  assert.match(output, /^ERR_INVALID_ARG_TYPE$/m)
})

test("onRestore() from uncache-tree/node-test outside `uncache-tree test` throws ERR_UNCACHE_TEST_SETUP", () => {
  const t = project({
    'main.js': `try { require('uncache-tree/node-test').onRestore(() => {}) } catch (e) { console.log(e.code + ': ' + e.message) }\n`,
  })
  const { output } = run(t.dir, ['main.js'])
  assert.match(output, /^ERR_UNCACHE_TEST_SETUP: onRestore\(\) from uncache-tree\/node-test registers a reset for the restores of `uncache-tree test`/m)
  assert.match(output, /pass it to isolateEach\(\{ onRestore \}\)/)
})

const isolationOffNote = NODE_MAJOR < 22 ? 'Node 20 has no --test-isolation' : false

test("isolation off: isolateEach() at a file's top level applies to that file's tests only", { skip: isolationOffNote }, () => {
  const t = project({
    'a.test.js': `const { test } = require('node:test')
const { isolateEach } = require('uncache-tree/node-test')
isolateEach({ onRestore: (report, t) => console.log('restored after', t.name) })
test('a1', () => require('./counter.js').increment())
`,
    'b.test.js': "const { test } = require('node:test')\ntest('b1', () => {})\ntest('b2', () => {})\n",
  })
  const { status, output } = run(t.dir, ['--test', ISOLATION_OFF, '--test-reporter=tap', 'a.test.js', 'b.test.js'])
  assert.equal(status, 0, output)
  assert.deepEqual(output.match(/^restored after .+$/gm), ['restored after a1'])
})

test('isolation off: isolateEach() in a --require preload is refused on Node 22 (its hooks never run), runs on 24+', { skip: isolationOffNote }, () => {
  const t = project({
    'setup.cjs': "require('uncache-tree/node-test').isolateEach({ onRestore: (report, t) => console.log('restored after', t.name) })\n",
    'a.test.js': "const assert = require('node:assert')\nrequire('node:test').test('a1', () => assert.equal(require('./counter.js').increment(), 1))\n",
    'b.test.js': "const assert = require('node:assert')\nrequire('node:test').test('b1', () => assert.equal(require('./counter.js').increment(), 1))\n",
  })
  const { status, output } = run(t.dir, ['--test', ISOLATION_OFF, '--test-reporter=tap', '--require', './setup.cjs', 'a.test.js', 'b.test.js'])
  if (NODE_MAJOR === 22) {
    assert.notEqual(status, 0)
    assert.match(output, /ERR_UNCACHE_TEST_SETUP/)
    assert.match(output, /the hooks a preload registers go to a test root that never runs/)
    assert.match(output, /npx uncache-tree test/)
  } else {
    assert.equal(status, 0, output)
    assert.deepEqual(output.match(/^restored after .+$/gm), ['restored after a1', 'restored after b1'])
  }
})

test("isolation off (Node 24+): isolateEach({ per: 'file' }) in a preload restores when the next file's tests start", { skip: NODE_MAJOR < 24 ? 'needs --test-isolation=none with preload hooks (Node 24+)' : false }, () => {
  const t = project({
    'setup.cjs': "require('uncache-tree/node-test').isolateEach({ per: 'file', onRestore: (report, file) => console.log('restored', require('node:path').basename(file), report.removed.length) })\n",
    'a.test.js': `const assert = require('node:assert')
const { test } = require('node:test')
test('a1', () => assert.equal(require('./counter.js').increment(), 1))
test('a2', () => assert.equal(require('./counter.js').increment(), 2))
`,
    'b.test.js': "const assert = require('node:assert')\nrequire('node:test').test('b1', () => assert.equal(require('./counter.js').increment(), 1))\n",
  })
  const { status, output } = run(t.dir, ['--test', ISOLATION_OFF, '--test-reporter=tap', '--require', './setup.cjs', 'a.test.js', 'b.test.js'])
  assert.equal(status, 0, output)
  assert.deepEqual(output.match(/^restored .+$/gm), ['restored a.test.js 1', 'restored b.test.js 1'])
})

test('Mocha: `--require uncache-tree/mocha` alone keeps packages loaded and gives each test a fresh app', () => {
  const t = project({
    'a.spec.js': `const assert = require('node:assert/strict')
it('first', () => { assert.equal(require('./counter.js').increment(), 1); console.log('package load', require('counted-pkg').loads) })
it('second', () => { assert.equal(require('./counter.js').increment(), 1); console.log('package load', require('counted-pkg').loads) })
`,
  })
  // The installed file by path: Mocha resolves a bare --require from its own folder, and this
  // checkout's Mocha is not installed beside the project's uncache-tree.
  const { status, output } = run(t.dir, [MOCHA, '--require', './node_modules/uncache-tree/mocha.js', 'a.spec.js'])
  assert.equal(status, 0, output)
  assert.match(output, /2 passing/)
  assert.deepEqual(output.match(/package load \d+/g), ['package load 1', 'package load 1'])
})

test("Mocha: createMochaHooks({ per: 'file' }) restores between spec files, with onRestore(report, file)", () => {
  const spec = (name) => `const assert = require('node:assert/strict')
it('${name} first', () => assert.equal(require('./counter.js').increment(), 1))
it('${name} second shares the file\\'s copy', () => assert.equal(require('./counter.js').increment(), 2))
`
  const t = project({
    'hooks.js': `const path = require('node:path')
exports.mochaHooks = require('uncache-tree/mocha').createMochaHooks({
  per: 'file',
  onRestore: (report, file) => console.log('restored', path.basename(file), report.removed.map((id) => path.basename(id)).join(',')),
})
`,
    'a.spec.js': spec('a'),
    'b.spec.js': spec('b'),
  })
  const { status, output } = run(t.dir, [MOCHA, '--require', './hooks.js', 'a.spec.js', 'b.spec.js'])
  assert.equal(status, 0, output)
  assert.match(output, /4 passing/)
  assert.deepEqual(output.match(/restored .+/g), ['restored a.spec.js counter.js', 'restored b.spec.js counter.js'])
  // Per test (the default), the second test of each file would see a fresh counter and fail.
  const perTest = run(t.dir, [MOCHA, '--require', './node_modules/uncache-tree/mocha.js', 'a.spec.js'])
  assert.notEqual(perTest.status, 0)
  assert.match(perTest.output, /1 failing/)
})

const vitestFile = (name) => `import { createRequire } from 'node:module'
import { expect, test } from 'vitest'
const require = createRequire(import.meta.url)
const counter = require('./counter.js')
test('${name} starts from a fresh counter', () => {
  expect(counter.increment()).toBe(1)
  console.log('package load', require('counted-pkg').loads, process.pid)
})
`

test('Vitest: uncache-tree/vitest as a setup file, one process for every file (--pool=forks --no-isolate)', () => {
  const t = project({
    'vitest.config.mjs': "export default { test: { include: ['*.test.mjs'], setupFiles: ['uncache-tree/vitest'] } }\n",
    'vitest.bare.mjs': "export default { test: { include: ['*.test.mjs'] } }\n",
    'a.test.mjs': vitestFile('a'),
    'b.test.mjs': vitestFile('b'),
  })
  const args = [VITEST, 'run', '--pool=forks', '--no-isolate', '--maxWorkers=1']
  const isolated = run(t.dir, args)
  assert.equal(isolated.status, 0, isolated.output)
  assert.match(isolated.output, /Tests\s+2 passed/)
  const loads = [...isolated.output.matchAll(/package load (\d+) (\d+)/g)]
  assert.equal(loads.length, 2, isolated.output)
  assert.equal(loads[0][2], loads[1][2], 'both files ran in one process')
  assert.deepEqual(loads.map((m) => m[1]), ['1', '1'])
  // Without the setup file, the second file finds the first one's counter.
  const bare = run(t.dir, [...args, '--config', 'vitest.bare.mjs'])
  assert.notEqual(bare.status, 0, bare.output)
  assert.match(bare.output, /Tests\s+1 failed \| 1 passed/)
})

test('Vitest: isolateTests() from uncache-tree/vitest/hooks gives each test a fresh app, onRestore after each restore', () => {
  const t = project({
    'setup.mjs': `import { isolateTests } from 'uncache-tree/vitest/hooks'
isolateTests({ onRestore: (report, fileOrTest) => console.log('restore', typeof fileOrTest === 'string' ? 'file' : fileOrTest.name) })
`,
    'vitest.config.mjs': "export default { test: { include: ['*.test.mjs'], setupFiles: ['./setup.mjs'] } }\n",
    'a.test.mjs': `import { createRequire } from 'node:module'
import { expect, test } from 'vitest'
const require = createRequire(import.meta.url)
test('one', () => expect(require('./counter.js').increment()).toBe(1))
test('two', () => expect(require('./counter.js').increment()).toBe(1))
`,
  })
  const { status, output } = run(t.dir, [VITEST, 'run', '--pool=forks', '--no-isolate'])
  assert.equal(status, 0, output)
  assert.match(output, /Tests\s+2 passed/)
  assert.deepEqual(output.match(/^restore .+$/gm), ['restore one', 'restore two', 'restore file'])
})
