'use strict'
// Every setup of docs/test-runners.md runs as written. Each `## ` section becomes a temp project
// holding the files of "The example suite" and the section's own code blocks (a block's first
// line names its file: `// test/first.test.js`), with uncache-tree and the runners installed as
// links to this checkout's. Each ```sh block's commands run in order and must exit 0; a block
// whose first line is `# Node 24+` runs on those versions only. `npx <tool>` runs the project's
// own copy of the tool, as npx would.
const test = require('node:test')
const assert = require('node:assert/strict')
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const ROOT = path.join(__dirname, '..')
const GUIDE = fs.readFileSync(path.join(ROOT, 'docs', 'test-runners.md'), 'utf8')
const NODE_MAJOR = Number(process.versions.node.split('.')[0])

const TOOLS = {
  'uncache-tree': path.join(ROOT, 'bin', 'uncache-tree.js'),
  mocha: path.join(ROOT, 'node_modules', 'mocha', 'bin', 'mocha.js'),
  vitest: path.join(ROOT, 'node_modules', 'vitest', 'vitest.mjs'),
  jest: path.join(ROOT, 'node_modules', 'jest', 'bin', 'jest.js'),
}
// Packages the guide's files require, linked into each project's node_modules.
const LINKED = ['vitest', 'jest-light-runner', 'mongoose', 'prom-client']

/** `{ title, files: Map<path, source>, commands: { line, minNode }[] }` per `## ` section. */
function sections(text) {
  const out = []
  let current = null
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].startsWith('## ')) {
      current = { title: lines[i].slice(3), files: new Map(), commands: [] }
      out.push(current)
    } else if (current !== null && /^```(js|sh)$/.test(lines[i])) {
      const kind = lines[i].slice(3)
      const body = []
      for (i++; !lines[i].startsWith('```'); i++) body.push(lines[i])
      if (kind === 'js') {
        const name = body[0].match(/^\/\/ ([\w./-]+\.(?:c|m)?js)\b/)?.[1]
        assert.ok(name, `a js block of "${current.title}" names no file: ${body[0]}`)
        current.files.set(name, `${body.join('\n')}\n`)
      } else {
        const minNode = Number(body[0].match(/^# Node (\d+)\+$/)?.[1] ?? 0)
        for (const line of body) if (line !== '' && !line.startsWith('#')) current.commands.push({ line, minNode })
      }
    }
  }
  return out
}

const SECTIONS = sections(GUIDE)
const EXAMPLE_SUITE = SECTIONS.find((s) => s.title === 'The example suite').files

const made = []
test.after(() => {
  for (const dir of made) fs.rmSync(dir, { recursive: true, force: true })
})

function project(files) {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'uncache-tree-guide-')))
  made.push(dir)
  fs.writeFileSync(path.join(dir, 'package.json'), '{ "name": "guide-example", "private": true, "type": "commonjs" }\n')
  for (const [name, source] of [...EXAMPLE_SUITE, ...files]) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true })
    fs.writeFileSync(path.join(dir, name), source)
  }
  fs.mkdirSync(path.join(dir, 'node_modules'))
  fs.symlinkSync(ROOT, path.join(dir, 'node_modules', 'uncache-tree'), 'dir')
  for (const name of LINKED) fs.symlinkSync(path.join(ROOT, 'node_modules', name), path.join(dir, 'node_modules', name), 'dir')
  return dir
}

/** A command line of the guide as node's arguments (words split on spaces; none are quoted). */
function argvOf(line) {
  const words = line.split(/\s+/)
  if (words[0] === 'npx') return [TOOLS[words[1]], ...words.slice(2)]
  assert.equal(words[0], 'node', `unexpected command: ${line}`)
  return words.slice(1)
}

function runIn(dir, line) {
  const { NODE_TEST_CONTEXT, ...env } = process.env
  const result = spawnSync(process.execPath, argvOf(line), {
    cwd: dir,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...env, NODE_OPTIONS: '', NO_COLOR: '1', FORCE_COLOR: '0', CI: '1' },
  })
  if (result.error) throw result.error
  return { status: result.status, output: `${result.stdout}\n${result.stderr}` }
}

/**
 * Mocha resolves a bare `--require` from its own folder, and this checkout's Mocha is not
 * installed beside the project's uncache-tree: for the Mocha section, `uncache-tree` is made
 * resolvable from the checkout's node_modules, as it is in a project that installed both.
 */
function withSelfLink(fn) {
  const link = path.join(ROOT, 'node_modules', 'uncache-tree')
  const made = !fs.existsSync(link)
  if (made) fs.symlinkSync('..', link, 'dir')
  try {
    return fn()
  } finally {
    if (made) fs.unlinkSync(link)
  }
}

test('the guide has the sections this test expects, each with commands', () => {
  const runnable = SECTIONS.filter((s) => s.commands.length > 0).map((s) => s.title)
  assert.deepEqual(runnable, [
    'node:test: `uncache-tree test`',
    'node:test with `node --test`',
    'Mocha',
    'Vitest',
    'Jest (jest-light-runner)',
    'Any runner: `snapshot()` and `isolate()`',
    'Packages kept loaded keep their own state',
  ])
})

test('the example suite fails in one process without isolation (so the setups can fail)', () => {
  const dir = project(new Map([['all.js', "require('./test/first.test.js')\nrequire('./test/second.test.js')\n"]]))
  const { status, output } = runIn(dir, 'node --test-reporter=tap all.js')
  assert.equal(status, 1, output)
  assert.match(output, /not ok 2 - second file counts from zero/)
})

for (const section of SECTIONS.filter((s) => s.commands.length > 0)) {
  test(`guide: ${section.title} runs as written`, () => {
    const dir = project(section.files)
    for (const { line, minNode } of section.commands) {
      if (NODE_MAJOR < minNode) continue
      const { status, output } = section.title === 'Mocha' ? withSelfLink(() => runIn(dir, line)) : runIn(dir, line)
      assert.equal(status, 0, `${line}\n${output}`)
      // Every command ran tests, and at least the two files of a runner's example.
      assert.doesNotMatch(output, /\b0 passing\b|Tests:\s+0 total|^# pass 0$/m, line)
    }
  })
}

test('guide: without the reset preload, the second model file fails with OverwriteModelError', () => {
  const section = SECTIONS.find((s) => s.title === 'Packages kept loaded keep their own state')
  const dir = project(section.files)
  const { status, output } = runIn(dir, 'npx uncache-tree test --test-reporter tap models/')
  assert.equal(status, 1, output)
  assert.match(output, /name: 'OverwriteModelError'/)
  assert.match(output, /Cannot overwrite `User` model once compiled/)
})
