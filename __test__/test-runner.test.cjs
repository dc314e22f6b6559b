'use strict'
// `uncache-tree test`, run for real as a child process on a generated suite: an app with module
// state (a config singleton, a counter), a package with its own model registry (as mongoose's),
// and test files that each check that they start from a clean app. The same suite run in one
// process without isolation must fail, so that passing means something.
const test = require('node:test')
const assert = require('node:assert/strict')
const { spawn, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { writeTree } = require('./helpers/fixtures.cjs')

const ROOT = path.join(__dirname, '..')
const CLI = path.join(ROOT, 'bin', 'uncache-tree.js')

function childEnv() {
  // NODE_TEST_CONTEXT is how `node --test` tells the files it runs that they are its children.
  const { NODE_TEST_CONTEXT, ...env } = process.env
  return { ...env, NODE_OPTIONS: '', NO_COLOR: '1', FORCE_COLOR: '0' }
}

function run(cwd, args) {
  const result = spawnSync(process.execPath, args, { cwd, encoding: 'utf8', timeout: 60_000, env: childEnv() })
  if (result.error) throw result.error
  return { status: result.status, stdout: result.stdout, stderr: result.stderr, output: `${result.stdout}\n${result.stderr}` }
}

const uncacheTreeTest = (cwd, ...args) => run(cwd, [CLI, 'test', ...args])

/** A test file checking that it starts from a clean app and that the package loaded once. */
const cleanAppTest = (name, extra = '') => `const { test } = require('node:test')
const assert = require('node:assert/strict')
const config = require('../app/config.js')
const counter = require('../app/counter.js')
${extra}
test('${name} starts from a clean app', () => {
  assert.deepEqual(config.values, {}, 'config left over from another file')
  config.values.touchedBy = '${name}'
  assert.equal(counter.increment(), 1, 'count left over from another file')
})
test('${name} finds the package loaded once', () => {
  assert.equal(require('registry-pkg').loads, 1, 'registry-pkg was loaded again')
})
`

function suite(extraFiles = {}) {
  const t = writeTree({
    'package.json': '{ "name": "suite", "private": true }\n',
    'node_modules/registry-pkg/package.json': '{ "name": "registry-pkg", "main": "index.js" }\n',
    // A registry that outlives the modules defining models in it, as mongoose's does.
    'node_modules/registry-pkg/index.js': `globalThis.registryLoads = (globalThis.registryLoads ?? 0) + 1
const models = new Map()
exports.loads = globalThis.registryLoads
exports.model = (name) => {
  if (models.has(name)) throw new Error('OverwriteModelError: Cannot overwrite ' + name + ' model once compiled.')
  models.set(name, { name })
  return models.get(name)
}
exports.deleteModel = (pattern) => { for (const name of [...models.keys()]) if (pattern.test(name)) models.delete(name) }
`,
    'app/config.js': 'module.exports = { values: {} }\n',
    'app/counter.js': 'let count = 0\nexports.increment = () => ++count\n',
    'app/only-one.js': 'module.exports = "used by one.test.js only"\n',
    'test/one.test.js': cleanAppTest('one', "require('../app/only-one.js')"),
    'test/two.test.js': cleanAppTest('two'),
    'test/three.test.js': cleanAppTest('three'),
    ...extraFiles,
  })
  return t
}

const summary = (output, name) => Number(output.match(new RegExp(`^# ${name} (\\d+)$`, 'm'))?.[1])

test('per file (the default): every file starts with a fresh app, the package loads once, exit 0', () => {
  const t = suite()
  const { status, output } = uncacheTreeTest(t.dir, '--test-reporter', 'tap')
  assert.equal(status, 0, output)
  assert.equal(summary(output, 'pass'), 6, output)
  assert.equal(summary(output, 'fail'), 0, output)
  // One suite per file, named by its path, in name order.
  assert.deepEqual([...output.matchAll(/^ok \d+ - (.+)$/gm)].map((m) => m[1]), ['test/one.test.js', 'test/three.test.js', 'test/two.test.js'])
})

test('the same suite in one process without isolation fails (the suite can fail)', () => {
  const t = suite({
    'all.js': "for (const f of ['one', 'two', 'three']) require(`./test/${f}.test.js`)\n",
  })
  const { status, output } = run(t.dir, ['--test-reporter=tap', 'all.js'])
  assert.equal(status, 1, output)
  assert.equal(summary(output, 'fail'), 2, output)
  assert.match(output, /config left over from another file/)
})

test('--per test: every test starts fresh; per file, the tests of a file share what they load', () => {
  const t = suite({
    'test/per-test.test.js': `const { test } = require('node:test')
const assert = require('node:assert/strict')
test('first', () => assert.equal(require('../app/counter.js').increment(), 1))
test('second', () => assert.equal(require('../app/counter.js').increment(), 1))
`,
  })
  const perTest = uncacheTreeTest(t.dir, '--per', 'test', '--test-reporter', 'tap', 'test/per-test.test.js', 'test/one.test.js')
  assert.equal(perTest.status, 0, perTest.output)
  assert.equal(summary(perTest.output, 'pass'), 4)
  const perFile = uncacheTreeTest(t.dir, '--test-reporter', 'tap', 'test/per-test.test.js')
  assert.equal(perFile.status, 1, perFile.output)
  assert.match(perFile.output, /not ok 2 - second/)
})

test('--keep replaces the default: what it matches stays loaded across files, packages no longer do', () => {
  const t = suite()
  const { status, output } = uncacheTreeTest(t.dir, '--keep', 'app[\\\\/]config\\.js$', '--test-reporter', 'tap', 'test/one.test.js', 'test/two.test.js')
  assert.equal(status, 1, output)
  // two.test.js sees one's config (kept) and a second load of the package (not kept any more).
  assert.match(output, /config left over from another file/)
  assert.match(output, /registry-pkg was loaded again/)
  assert.equal(summary(output, 'fail'), 2, output)
})

test("a kept package keeps its own state: OverwriteModelError until onRestore resets it", () => {
  const modelTest = (name) => `const { test } = require('node:test')
const assert = require('node:assert/strict')
const User = require('../app/user.js')
test('${name} defines the User model', () => assert.equal(User.name, 'User'))
`
  const t = suite({
    'app/user.js': "module.exports = require('registry-pkg').model('User')\n",
    'test/model-a.test.js': modelTest('a'),
    'test/model-b.test.js': modelTest('b'),
    'reset.cjs': `const { onRestore } = require(${JSON.stringify(path.join(ROOT, 'node-test.js'))})
onRestore((report, file) => require('registry-pkg').deleteModel(/.+/))
`,
  })
  const files = ['test/model-a.test.js', 'test/model-b.test.js']
  const without = uncacheTreeTest(t.dir, '--test-reporter', 'tap', ...files)
  assert.equal(without.status, 1, without.output)
  assert.match(without.output, /OverwriteModelError: Cannot overwrite User model once compiled/)
  const withReset = uncacheTreeTest(t.dir, '--require', './reset.cjs', '--test-reporter', 'tap', ...files)
  assert.equal(withReset.status, 0, withReset.output)
  assert.equal(summary(withReset.output, 'pass'), 2)
})

test('exit 1 when a test fails or a file throws while loading; the files after it still run', () => {
  const t = suite({
    'test/fails.test.js': "require('node:test').test('fails', () => { throw new Error('expected failure') })\n",
    'test/throws.test.js': "throw new Error('cannot load')\n",
  })
  const { status, output } = uncacheTreeTest(t.dir, '--test-reporter', 'tap', 'test/throws.test.js', 'test/fails.test.js', 'test/one.test.js')
  assert.equal(status, 1, output)
  assert.match(output, /not ok 1 - test\/throws\.test\.js[\s\S]*cannot load/)
  assert.match(output, /not ok 1 - fails[\s\S]*expected failure/)
  assert.match(output, /^ok 3 - test\/one\.test\.js$/m)
  // A file that cannot load fails the run by itself (node:test counts no failed test for it).
  const alone = uncacheTreeTest(t.dir, '--test-reporter', 'tap', 'test/throws.test.js', 'test/one.test.js')
  assert.equal(alone.status, 1, alone.output)
  assert.equal(summary(alone.output, 'fail'), 0)
})

test('a file whose after hook throws fails the run, and the files after it still run with a fresh app', () => {
  const t = suite({
    'test/after-throws.test.js': `const { test, after } = require('node:test')
require('../app/config.js').values.leftBy = 'after-throws'
after(() => { throw new Error('after hook broke') })
test('passes', () => {})
`,
  })
  const { status, output } = uncacheTreeTest(t.dir, '--test-reporter', 'tap', 'test/after-throws.test.js', 'test/one.test.js')
  assert.equal(status, 1, output)
  assert.match(output, /not ok 1 - test\/after-throws\.test\.js[\s\S]*after hook broke/)
  // one.test.js ran, and found no config left over (the app was restored all the same).
  assert.match(output, /^ok 2 - test\/one\.test\.js$/m)
})

test('exit 2 for usage errors, each with a message that says what is wrong', () => {
  const t = suite({ 'test/esm.test.mjs': "import { test } from 'node:test'\ntest('x', () => {})\n", 'empty/readme.txt': '' })
  const cases = [
    [['--bogus'], /Unknown option '--bogus'/],
    [['--per', 'suite', 'test/one.test.js'], /--per must be 'file' or 'test', got 'suite'/],
    [['--keep', '(', 'test/one.test.js'], /--keep \(: not a regular expression/],
    [['missing.test.js'], /missing\.test\.js: no such file or folder/],
    [['empty'], /empty: no test files in this folder/],
    [['test/esm.test.mjs'], /test\/esm\.test\.mjs: an ES module\. Node evaluates an ES module once per process/],
    [['--test-reporter', 'nope', 'test/one.test.js'], /--test-reporter nope: not one of spec, tap, dot, junit, lcov/],
    [['--test-reporter-destination', 'out.txt', 'test/one.test.js'], /one --test-reporter-destination per --test-reporter/],
  ]
  for (const [args, message] of cases) {
    const { status, stdout, stderr } = uncacheTreeTest(t.dir, ...args)
    assert.equal(status, 2, `${args.join(' ')}\n${stderr}`)
    assert.match(stderr, message)
    assert.equal(stdout, '')
  }
})

test("node:test's reporters: spec (default), dot, junit, and a destination file", () => {
  const t = suite()
  const spec = uncacheTreeTest(t.dir, 'test/one.test.js')
  assert.equal(spec.status, 0, spec.output)
  assert.match(spec.stdout, /^▶ test\/one\.test\.js$/m)
  assert.match(spec.stdout, /^ {2}✔ one starts from a clean app/m)
  assert.match(spec.stdout, /^ℹ pass 2$/m)
  const dot = uncacheTreeTest(t.dir, '--test-reporter', 'dot', 'test/one.test.js')
  assert.match(dot.stdout, /^\.\.\.?$/m)
  const junit = uncacheTreeTest(t.dir, '--test-reporter', 'junit', '--test-reporter-destination', 'junit.xml', '--test-reporter', 'tap', '--test-reporter-destination', 'stdout', 'test/one.test.js')
  assert.equal(junit.status, 0, junit.output)
  assert.match(junit.stdout, /^# pass 2$/m)
  const xml = fs.readFileSync(t.file('junit.xml'), 'utf8')
  assert.match(xml, /<testsuites>/)
  assert.match(xml, /<testcase name="one starts from a clean app"/)
})

test("a file's top-level hooks and isolateEach() apply to that file's tests only", () => {
  const t = suite({
    'test/hooks-a.test.js': `const { test, beforeEach } = require('node:test')
const { isolateEach } = require(${JSON.stringify(path.join(ROOT, 'node-test.js'))})
beforeEach((t) => console.log('hook of a before', t.name))
isolateEach({ onRestore: (report, t) => console.log('restored after', t.name) })
test('a1', () => {})
test('a2', () => {})
`,
    'test/hooks-b.test.js': "const { test } = require('node:test')\ntest('b1', () => {})\n",
  })
  const { status, output } = uncacheTreeTest(t.dir, '--test-reporter', 'tap', 'test/hooks-a.test.js', 'test/hooks-b.test.js')
  assert.equal(status, 0, output)
  assert.deepEqual(output.match(/^hook of a before .+$/gm), ['hook of a before a1', 'hook of a before a2'])
  assert.deepEqual(output.match(/^restored after .+$/gm), ['restored after a1', 'restored after a2'])
})

test('--require preloads a module that stays loaded for the whole run', () => {
  const t = suite({
    'preload.cjs': 'globalThis.preloaded = (globalThis.preloaded ?? 0) + 1\nmodule.exports = {}\n',
    'test/preload-a.test.js': "require('node:test').test('a', () => require('node:assert').equal(globalThis.preloaded, 1))\n",
    'test/preload-b.test.js': `const assert = require('node:assert')
require('node:test').test('b', () => {
  assert.equal(globalThis.preloaded, 1)
  assert.ok(require.cache[require.resolve('../preload.cjs')], 'the preload is still loaded')
})
`,
  })
  const { status, output } = uncacheTreeTest(t.dir, '--require', './preload.cjs', '--test-reporter', 'tap', 'test/preload-a.test.js', 'test/preload-b.test.js')
  assert.equal(status, 0, output)
  assert.equal(summary(output, 'pass'), 2)
})

/** Lines of a running process's stream, awaited one pattern at a time. */
function lineWaiter(stream) {
  let text = ''
  let waiting = null
  stream.setEncoding('utf8')
  stream.on('data', (chunk) => {
    text += chunk
    if (waiting !== null && waiting.pattern.test(text)) {
      const { resolve } = waiting
      waiting = null
      resolve()
    }
  })
  return {
    text: () => text,
    mark: () => text.length,
    until(pattern, ms = 20_000) {
      if (pattern.test(text)) return Promise.resolve()
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern}; got:\n${text}`)), ms)
        waiting = { pattern, resolve: () => (clearTimeout(timer), resolve()) }
      })
    },
  }
}

test('--watch re-runs only the test files a change reaches, in a process with the packages loaded', async () => {
  const t = suite()
  const child = spawn(process.execPath, [CLI, 'test', '--watch', '--test-reporter', 'tap', 'test/'], { cwd: t.dir, env: childEnv() })
  const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)))
  const out = lineWaiter(child.stdout)
  const err = lineWaiter(child.stderr)
  try {
    await err.until(/watching \d+ files for changes/)
    assert.equal(summary(out.text(), 'pass'), 6, out.text())
    // A module only one.test.js loads: one.test.js alone runs again.
    let from = out.mark()
    fs.appendFileSync(t.file('app/only-one.js'), '// changed\n')
    await err.until(/re-ran 1 file after a change to app[\\/]only-one\.js in \d+ ms: passed/)
    assert.deepEqual([...out.text().slice(from).matchAll(/^ok \d+ - (test\/.+)$/gm)].map((m) => m[1]), ['test/one.test.js'])
    // The package was loaded by the standby process before the change, once.
    assert.match(out.text().slice(from), /^ {4}ok 2 - one finds the package loaded once$/m)
    // A test file: that file alone.
    from = out.mark()
    fs.appendFileSync(t.file('test/two.test.js'), '// changed\n')
    await err.until(/re-ran 1 file after a change to test[\\/]two\.test\.js in \d+ ms: passed/)
    assert.deepEqual([...out.text().slice(from).matchAll(/^ok \d+ - (test\/.+)$/gm)].map((m) => m[1]), ['test/two.test.js'])
    // A module every file loads: all three; a failing edit is reported as failed.
    from = out.mark()
    fs.writeFileSync(t.file('app/counter.js'), 'let count = 10\nexports.increment = () => ++count\n')
    await err.until(/re-ran 3 files after a change to app[\\/]counter\.js in \d+ ms: failed/)
    assert.equal(summary(out.text().slice(from), 'fail'), 3)
    // A file nothing loaded: no run.
    const before = err.text()
    fs.writeFileSync(t.file('app/unused.js'), 'module.exports = 1\n')
    await new Promise((resolve) => setTimeout(resolve, 300))
    assert.equal(err.text(), before)
  } finally {
    child.kill('SIGINT')
  }
  // Ctrl+C ends the watch with the last run's status (the failing one).
  assert.equal(await exited, 1, err.text())
})
