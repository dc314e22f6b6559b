'use strict'
// docs/dev-server.md runs as written. The ```js blocks of each section are saved in a fresh temp
// project under the file name their first comment gives, with uncache-tree and the real packages
// from npm (devDependencies) resolvable; the section's `try-*.js` block is run and must print
// `ok` and exit 0. Where the recipe marks lines `// ← the fix`, it is run again without them and
// must then fail: the fix is what makes it pass. Sections without a try block are compiled.
const test = require('node:test')
const assert = require('node:assert/strict')
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const vm = require('node:vm')

const ROOT = path.join(__dirname, '..')
const GUIDE = fs.readFileSync(path.join(ROOT, 'docs', 'dev-server.md'), 'utf8')
const FIX = /^.*\/\/ ← the fix\n/gm

/** Sections (### or ##) with their ```js blocks: `{ heading, blocks: [{ name, code, line }] }`. */
function sections(text) {
  const result = []
  let current
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    if (/^##+ /.test(lines[i])) {
      current = { heading: lines[i].replace(/^#+ /, ''), blocks: [] }
      result.push(current)
    } else if (lines[i].trim() === '```js') {
      const start = i + 1
      const body = []
      for (i++; i < lines.length && !/^```/.test(lines[i]); i++) body.push(lines[i])
      const code = `${body.join('\n')}\n`
      const name = /^\/\/ ([\w./-]+\.js)\n/.exec(code)?.[1]
      current.blocks.push({ name, code, line: start })
    }
  }
  return result.filter((s) => s.blocks.length > 0)
}

const made = []
test.after(() => {
  for (const dir of made) fs.rmSync(dir, { recursive: true, force: true })
})

/** A project with the section's files; every package the blocks require links to this checkout's. */
function project(blocks, withoutFix) {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'uncache-tree-recipe-')))
  made.push(dir)
  fs.writeFileSync(path.join(dir, 'package.json'), '{ "name": "recipe", "private": true }\n')
  fs.mkdirSync(path.join(dir, 'node_modules'))
  fs.symlinkSync(ROOT, path.join(dir, 'node_modules', 'uncache-tree'))
  const packages = new Set()
  for (const block of blocks) {
    fs.writeFileSync(path.join(dir, block.name), withoutFix ? block.code.replace(FIX, '') : block.code)
    for (const [, name] of block.code.matchAll(/require\('([^.'][^']*)'\)/g)) {
      if (!name.startsWith('node:') && name !== 'uncache-tree') packages.add(name.split('/')[0])
    }
  }
  for (const name of packages) fs.symlinkSync(path.join(ROOT, 'node_modules', name), path.join(dir, 'node_modules', name))
  return dir
}

function run(dir, file) {
  const env = { ...process.env }
  delete env.NODE_TEST_CONTEXT
  const r = spawnSync(process.execPath, [file], { cwd: dir, encoding: 'utf8', env, timeout: 30_000 })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

const all = sections(GUIDE)

test('the guide has a tested recipe for each library the issue names', () => {
  const tried = all.flatMap((s) => s.blocks.filter((b) => b.name?.startsWith('try-')).map((b) => b.name))
  assert.deepEqual(tried.sort(), [
    'try-axios.js',
    'try-express.js',
    'try-mongoose.js',
    'try-pino.js',
    'try-prom-client.js',
    'try-sequelize.js',
    'try-server-swap.js',
    'try-winston.js',
  ])
})

for (const section of all) {
  const tryBlock = section.blocks.find((b) => b.name?.startsWith('try-'))
  if (tryBlock === undefined) {
    test(`docs/dev-server.md "${section.heading}": its blocks compile`, () => {
      for (const block of section.blocks) {
        assert.doesNotThrow(() => new vm.Script(`(function (exports, require, module) {\n${block.code}\n})`), `line ${block.line}`)
      }
    })
    continue
  }
  test(`docs/dev-server.md "${section.heading}": ${tryBlock.name} runs as written`, () => {
    for (const block of section.blocks) assert.ok(block.name, `the block at line ${block.line} names its file`)
    const result = run(project(section.blocks, false), tryBlock.name)
    assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`)
    assert.match(result.stdout, /^ok$/m)
  })
  if (section.blocks.some((b) => FIX.test(b.code))) {
    FIX.lastIndex = 0
    test(`docs/dev-server.md "${section.heading}": without the lines marked "the fix", ${tryBlock.name} fails`, () => {
      const result = run(project(section.blocks, true), tryBlock.name)
      assert.notEqual(result.code, 0, `it passed without the fix:\n${result.stdout}`)
      assert.doesNotMatch(result.stdout, /^ok$/m)
    })
  }
  FIX.lastIndex = 0
}
