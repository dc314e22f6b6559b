'use strict'
// Every ```js block of README.md runs as written. Each block gets its own temp project with
// uncache-tree resolvable (node_modules/uncache-tree -> this checkout) and the small files the
// blocks name: plugins/greeter (index.js, strings.js) with lib/db.js, and counter.js. A block is
// saved under the file name its first comment gives (app.js when it gives none) and run with
// node, or with Vitest when it imports 'vitest'; it must exit 0, and the blocks whose comments
// show output are checked against it. Blocks under "## API" are reference fragments that
// continue one another (`report`, `plugin` come from the text around them): those are compiled,
// not run.
const test = require('node:test')
const assert = require('node:assert/strict')
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const vm = require('node:vm')

const ROOT = path.join(__dirname, '..')
const README = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8')

/** `{ code, heading, section, line }` for every ```js block. */
function jsBlocks(text) {
  const blocks = []
  const lines = text.split('\n')
  let section = ''
  let heading = ''
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]
    if (/^## /.test(line)) section = heading = line.slice(3)
    else if (/^###+ /.test(line)) heading = line.replace(/^#+ /, '')
    else if (/^```/.test(line)) {
      const start = i
      const body = []
      for (i++; i < lines.length && !/^```/.test(lines[i]); i++) body.push(lines[i])
      if (line.trim() === '```js') blocks.push({ code: `${body.join('\n')}\n`, heading, section, line: start + 1 })
    }
  }
  return blocks
}

const made = []
test.after(() => {
  for (const dir of made) fs.rmSync(dir, { recursive: true, force: true })
})

function project() {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'uncache-tree-readme-')))
  made.push(dir)
  const files = {
    'package.json': '{ "name": "readme-example", "private": true, "type": "commonjs" }\n',
    'plugins/greeter/index.js':
      "const strings = require('./strings.js')\nconst db = require('../../lib/db.js')\n" +
      'exports.greet = (name) => { db.rows.push(name); return strings.hello + name }\n',
    'plugins/greeter/strings.js': "exports.hello = 'Hello, '\n",
    'lib/db.js': 'exports.rows = []\n',
    'counter.js': 'let count = 0\nexports.increment = () => ++count\n',
  }
  for (const [file, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true })
    fs.writeFileSync(path.join(dir, file), text)
  }
  fs.mkdirSync(path.join(dir, 'node_modules'))
  fs.symlinkSync(ROOT, path.join(dir, 'node_modules', 'uncache-tree'))
  return dir
}

function run(block) {
  const dir = project()
  const named = block.code.match(/^\/\/ ([\w.-]+\.m?js)\b/)
  const esm = /^import /m.test(block.code)
  const file = named ? named[1] : esm ? 'app.mjs' : 'app.js'
  fs.writeFileSync(path.join(dir, file), block.code)
  const vitest = /from 'vitest'/.test(block.code)
  const args = vitest ? [path.join(ROOT, 'node_modules', 'vitest', 'vitest.mjs'), 'run', '--root', dir, file] : [file]
  if (vitest) fs.symlinkSync(path.join(ROOT, 'node_modules', 'vitest'), path.join(dir, 'node_modules', 'vitest'))
  const env = { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' }
  delete env.NODE_TEST_CONTEXT // a block that uses node:test runs its own tests, as when pasted
  const r = spawnSync(process.execPath, args, { cwd: dir, encoding: 'utf8', env, timeout: 60_000 })
  return { dir, code: r.status, stdout: r.stdout.split(dir).join('/app'), stderr: r.stderr }
}

const blocks = jsBlocks(README)

test('the README has the runnable blocks this test knows about', () => {
  const runnable = blocks.filter((b) => b.section !== 'API').map((b) => b.heading)
  for (const heading of ['Quick start', 'Test isolation', 'node:test', 'Vitest']) assert.ok(runnable.includes(heading), heading)
})

for (const block of blocks) {
  const name = `README.md:${block.line} (${block.heading})`
  if (block.section === 'API') {
    test(`${name} compiles`, () => {
      assert.doesNotThrow(() => new vm.Script(`(async () => {\n${block.code}\n})`, { filename: name }))
    })
    continue
  }
  test(`${name} runs as written`, () => {
    const r = run(block)
    assert.equal(r.code, 0, `exit ${r.code}\n${r.stdout}\n${r.stderr}`)
    if (block.heading === 'Quick start') {
      // The output is what the block's comments show, with the temp dir as /app (line breaks
      // aside: util.inspect wraps by length).
      const flat = (text) => text.replace(/\s+/g, ' ').trim()
      const shown = (expr) => flat(block.code.match(new RegExp(`^console\\.log\\(${expr}\\) // (.*)$`, 'm'))[1])
      const printed = r.stdout.split(/\n(?=[[{])/).map(flat)
      assert.equal(printed[0], shown('report\\.removed'))
      assert.equal(printed[1], shown('report\\.kept'))
      assert.equal(printed[2], "{ collected: [ '/app/plugins/greeter/index.js', '/app/plugins/greeter/strings.js' ], alive: [] }")
      assert.match(block.code, /verifyCollected\(report\)\.then\(console\.log\) \/\/ \{ collected: \[ …both files… \], alive: \[\] \}/)
    } else if (block.heading === 'Vitest') {
      assert.match(r.stdout, /Tests +2 passed \(2\)/)
    } else if (/require\('node:test'\)/.test(block.code)) {
      assert.match(r.stdout, /[#ℹ] pass 2\n/)
      assert.match(r.stdout, /[#ℹ] fail 0\n/)
    }
  })
}

test('the Vitest recipe is needed: without snapshot()/restore() the second test sees the first one\'s state', () => {
  const block = blocks.find((b) => b.heading === 'Vitest')
  const without = { ...block, code: block.code.replace(/beforeEach\(\(\) => \{\n {2}clean = snapshot\(\)\n\}\)\nafterEach\(\(\) => \{\n {2}clean\.restore\(\)\n\}\)\n/, '') }
  assert.notEqual(without.code, block.code)
  const r = run(without)
  assert.equal(r.code, 1)
  assert.match(r.stdout, /✓ counts from zero \d+ms\n +× counts from zero again/)
  assert.match(`${r.stdout}${r.stderr}`, /Tests +1 failed \| 1 passed \(2\)/)
})

test('uncache-tree/node-test inside a real Vitest run throws ERR_UNCACHE_UNSUPPORTED_RUNTIME', () => {
  const code =
    "// node-test.test.mjs\nimport { createRequire } from 'node:module'\nimport { expect, test } from 'vitest'\n" +
    'const require = createRequire(import.meta.url)\n' +
    "test('refused', () => expect(() => require('uncache-tree/node-test')).toThrow(expect.objectContaining({ code: 'ERR_UNCACHE_UNSUPPORTED_RUNTIME', message: expect.stringContaining('runs under Vitest') })))\n"
  const r = run({ code, heading: 'node-test under Vitest' })
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`)
  assert.match(r.stdout, /Tests +1 passed \(1\)/)
})
