'use strict'
// The test-runner integrations, run for real: node:test with isolateEach (examples/node-test),
// Mocha with the root hook plugin (examples/mocha), and Jest, where isolate() must refuse with
// ERR_UNCACHE_UNSUPPORTED_RUNTIME and point to jest.isolateModules (examples/jest). Each
// example's own assertions check per-test freshness; here we check that the runner passed,
// that every test saw a different copy (from the lines the examples print), and that the same
// specs fail without the integration (so the examples can fail at all).
const test = require('node:test')
const assert = require('node:assert/strict')
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { writeTree } = require('./helpers/fixtures.cjs')

const ROOT = path.join(__dirname, '..')
const EXAMPLES = path.join(ROOT, 'examples')

function run(args) {
  // NODE_TEST_CONTEXT is how `node --test` tells the files it runs that they are its children;
  // a runner started from one would refuse to run files of its own.
  const { NODE_TEST_CONTEXT, ...env } = process.env
  const result = spawnSync(process.execPath, args, {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...env, NODE_OPTIONS: '', NO_COLOR: '1', FORCE_COLOR: '0' },
  })
  if (result.error) throw result.error
  return { status: result.status, output: `${result.stdout}\n${result.stderr}` }
}

/** The copies of counter.js the tests printed, by test name. */
function copies(output) {
  const seen = new Map()
  for (const match of output.matchAll(/counter\.js copy (\d+) in "([^"]+)"/g)) seen.set(match[2], Number(match[1]))
  return seen
}

const nodeTestFiles = ['counter.test.js', 'subtests.test.js'].map((f) => path.join(EXAMPLES, 'node-test', f))

test('node:test: isolateEach gives every test its own copy of the modules it loads', () => {
  const { status, output } = run(['--test', '--test-reporter=tap', ...nodeTestFiles])
  assert.equal(status, 0, output)
  assert.match(output, /^# fail 0$/m)
  assert.match(output, /^# pass 12$/m)
  const seen = copies(output)
  // counter.test.js: five tests, five copies; subtests.test.js: three subtests, three copies.
  // Each file runs in its own process, so each counts its copies from 1.
  assert.deepEqual(
    [
      'the first test counts from zero',
      'the next test counts from zero again',
      'the shared fixture keeps its identity',
      'gets a fresh copy too',
      'subtests',
    ].map((name) => seen.get(name)),
    [1, 2, 3, 4, 5],
  )
  assert.deepEqual(['case one', 'case two', 'case three'].map((name) => seen.get(name)), [1, 2, 3])
})

test('node:test: the same file without isolateEach fails (the example can fail)', () => {
  const source = fs.readFileSync(nodeTestFiles[0], 'utf8')
  assert.match(source, /^isolateEach\(\)$/m)
  const t = writeTree({
    'counter.test.js': source.replace(/^isolateEach\(\)$/m, '').replace("'../../node-test.js'", JSON.stringify(path.join(ROOT, 'node-test.js'))),
    'counter.js': fs.readFileSync(path.join(EXAMPLES, 'node-test', 'counter.js'), 'utf8'),
    'config.js': fs.readFileSync(path.join(EXAMPLES, 'node-test', 'config.js'), 'utf8'),
  })
  const { status, output } = run(['--test', '--test-reporter=tap', t.file('counter.test.js')])
  assert.notEqual(status, 0)
  assert.match(output, /no count left over from the first test/)
})

test('node:test: concurrent tests under isolateEach fail with ERR_UNCACHE_ISOLATE_OVERLAP', () => {
  const t = writeTree({
    'concurrent.test.js': `
const { test } = require('node:test')
const { isolateEach } = require(${JSON.stringify(path.join(ROOT, 'node-test.js'))})
isolateEach()
test('parent', { concurrency: true }, async (t) => {
  await Promise.all([
    t.test('slow', () => new Promise((resolve) => setTimeout(resolve, 50))),
    t.test('fast', () => {}),
  ])
})
`,
  })
  const { status, output } = run(['--test', '--test-reporter=tap', t.file('concurrent.test.js')])
  assert.notEqual(status, 0)
  assert.match(output, /ERR_UNCACHE_ISOLATE_OVERLAP/)
  assert.match(output, /test 'parent > fast' started while test 'parent > slow' \(isolated per test\) is still running/)
})

const MOCHA = path.join(ROOT, 'node_modules', 'mocha', 'bin', 'mocha.js')
const MOCHA_SPEC = path.join('examples', 'mocha', 'counter.spec.js')

test('Mocha: the root hook plugin gives every test its own copy', () => {
  const { status, output } = run([MOCHA, '--require', './mocha.js', MOCHA_SPEC])
  assert.equal(status, 0, output)
  assert.match(output, /3 passing/)
  const seen = copies(output)
  assert.deepEqual(
    [
      'counts from zero in the first test',
      'counts from zero again in the next test',
      'shares the fixtures loaded before the tests',
    ].map((name) => seen.get(name)),
    [1, 2, 3],
  )
})

test('Mocha: the same spec without the plugin fails (the example can fail)', () => {
  const { status, output } = run([MOCHA, MOCHA_SPEC])
  assert.notEqual(status, 0)
  assert.match(output, /no count left over from the first test/)
})

test('Mocha: createMochaHooks(options) builds the hooks for a root hook file of your own', () => {
  const t = writeTree({
    'hooks.js': `const path = require('node:path')
const { createMochaHooks } = require(${JSON.stringify(path.join(ROOT, 'mocha.js'))})
exports.mochaHooks = createMochaHooks({
  keep: /kept\\.js$/,
  onRestore(report, test) {
    console.log('restored after', JSON.stringify(test.title), JSON.stringify(report.removed.map((id) => path.basename(id))))
  },
})
`,
    'kept.js': 'module.exports = {}\n',
    'fresh.js': 'module.exports = {}\n',
    'a.spec.js': `
const assert = require('node:assert/strict')
let kept
it('one', () => { kept = require('./kept.js'); require('./fresh.js') })
it('two', () => { assert.equal(require('./kept.js'), kept) })
`,
  })
  const { status, output } = run([MOCHA, '--require', t.file('hooks.js'), t.file('a.spec.js')])
  assert.equal(status, 0, output)
  assert.match(output, /restored after "one" \["fresh\.js"\]/)
  assert.match(output, /restored after "two" \[\]/)
})

test('Jest: isolate() refuses with ERR_UNCACHE_UNSUPPORTED_RUNTIME and points to jest.isolateModules', () => {
  const jest = path.join(ROOT, 'node_modules', 'jest', 'bin', 'jest.js')
  const { status, output } = run([jest, '--config', path.join(EXAMPLES, 'jest', 'jest.config.js'), '--ci'])
  assert.equal(status, 0, output)
  assert.match(output, /Tests:\s+2 passed, 2 total/)
  assert.match(output, /isolate\(\) and snapshot\(\) refuse to run inside Jest/)
})
