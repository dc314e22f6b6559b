'use strict'
// Every ```js block of README.md runs as written. Each block gets its own temp project with
// uncache-tree resolvable (node_modules/uncache-tree -> this checkout) and the small files the
// blocks name: plugins/greeter (index.js, strings.js) with lib/db.js, and counter.js. A block is
// saved under the file name its first comment gives (app.js when it gives none) and run with
// node, or with Vitest when it imports 'vitest'; it must exit 0, and the blocks whose comments
// show output are checked against it. Blocks under "## API in brief" (and every block of
// docs/api.md) are reference fragments that continue one another (`report`, `plugin`, `reload`
// come from the text around them): those are compiled, not run.
// The README and the docs it sends users to (docs/api.md, building-from-source.md,
// development.md, packaging.md, benchmark/README.md, the plugin-host example): every ```sh
// command names a script, file or CLI command that exists, every relative link resolves, and
// the README stays a user's page (the two clone commands first, at most 20 KB).
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
const REFERENCE = 'API in brief'

test('the README has the runnable blocks this test knows about', () => {
  const runnable = blocks.filter((b) => b.section !== REFERENCE).map((b) => b.heading)
  assert.deepEqual(runnable, ['Quick start'])
  assert.equal(blocks.filter((b) => b.section === REFERENCE).length, 2)
})

for (const block of blocks) {
  const name = `README.md:${block.line} (${block.heading})`
  if (block.section === REFERENCE) {
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

test('uncache-tree/node-test inside a real Vitest run throws ERR_UNCACHE_UNSUPPORTED_RUNTIME', () => {
  const code =
    "// node-test.test.mjs\nimport { createRequire } from 'node:module'\nimport { expect, test } from 'vitest'\n" +
    'const require = createRequire(import.meta.url)\n' +
    "test('refused', () => expect(() => require('uncache-tree/node-test')).toThrow(expect.objectContaining({ code: 'ERR_UNCACHE_UNSUPPORTED_RUNTIME', message: expect.stringContaining('runs under Vitest') })))\n"
  const r = run({ code, heading: 'node-test under Vitest' })
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`)
  assert.match(r.stdout, /Tests +1 passed \(1\)/)
})

// ---------------------------------------------------------------------------------------------
// The README as a user's page, and the docs it links.

const DOCS = ['README.md', 'docs/api.md', 'docs/building-from-source.md', 'docs/development.md', 'docs/packaging.md', 'benchmark/README.md', 'examples/plugin-host/README.md']
// Guides other work of this release writes; a link to one of them may point ahead of its file.
const PENDING_GUIDES = new Set(['docs/dev-server.md', 'docs/doctor.md', 'docs/test-runners.md', 'docs/module-graph.md'])
const pkg = require('../package.json')

/** `{ lang, code, line }` for every fenced block of `text`. */
function fences(text) {
  const out = []
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const open = lines[i].match(/^```(\w*)/)
    if (!open) continue
    const start = i
    const body = []
    for (i++; i < lines.length && !/^```/.test(lines[i]); i++) body.push(lines[i])
    out.push({ lang: open[1], code: body.join('\n'), line: start + 1 })
  }
  return out
}

/** GitHub's anchor for a heading. */
const slug = (heading) => heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\- ]/gu, '').replace(/ /g, '-')

test('README: the two clone commands come first, in a block marked as for a clone; at most 20 KB', () => {
  const [first] = fences(README)
  assert.equal(first.lang, 'sh')
  assert.equal(first.code, 'npm install && npm run demo\nnpm test')
  const before = README.slice(0, README.indexOf('```sh'))
  assert.match(before, /In a clone of this repository/)
  assert.ok(Buffer.byteLength(README) <= 20 * 1024, `${Buffer.byteLength(README)} bytes`)
  // The guides moved out: no README section of theirs is left.
  for (const gone of ['## Dev servers and plugin hosts', '## Test isolation', '## Finding leaks', '## Measured', '## Development', '### Property-based tests']) {
    assert.ok(!README.includes(`\n${gone}`), gone)
  }
  assert.doesNotMatch(README, /\.mocharc[^.]/, 'Mocha ignores .mocharc without an extension')
})

test('README and docs: every relative link resolves (the four guides of this release may be pending)', () => {
  const missing = []
  for (const doc of DOCS) {
    const text = fs.readFileSync(path.join(ROOT, doc), 'utf8')
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target)) continue
      const [file, anchor] = target.split('#')
      const resolved = file === '' ? doc : path.posix.normalize(path.posix.join(path.posix.dirname(doc), file))
      if (!fs.existsSync(path.join(ROOT, resolved))) {
        if (!PENDING_GUIDES.has(resolved)) missing.push(`${doc}: ${target}`)
        continue
      }
      if (anchor !== undefined && resolved.endsWith('.md')) {
        const headings = fs.readFileSync(path.join(ROOT, resolved), 'utf8').split('\n').filter((l) => /^#+ /.test(l)).map((l) => slug(l.replace(/^#+ /, '')))
        if (!headings.includes(anchor)) missing.push(`${doc}: ${target} (no such heading)`)
      }
    }
  }
  assert.deepEqual(missing, [])
})

test('README and docs: every shell command names a script, file or command that exists', () => {
  const { COMMANDS } = require('../bin/uncache-tree.js')
  const problems = []
  for (const doc of DOCS) {
    const text = fs.readFileSync(path.join(ROOT, doc), 'utf8')
    for (const block of fences(text).filter((b) => b.lang === 'sh')) {
      for (const raw of block.code.split('\n')) {
        const line = raw.replace(/\s+#.*$/, '').trim()
        if (line === '') continue
        for (const command of line.split(/\s*&&\s*/)) {
          const words = command.split(/\s+/)
          const where = `${doc}:${block.line}: ${command}`
          if (words[0] === 'npm' && words[1] === 'run') {
            if (pkg.scripts[words[2]] === undefined) problems.push(`${where}: no script ${words[2]}`)
          } else if (words[0] === 'npm' && ['test', 'install'].includes(words[1])) {
            // npm test / npm install [uncache-tree]
          } else if (words[0] === 'npx' && words[1] === 'uncache-tree') {
            if (words[2] !== undefined && !words[2].startsWith('-') && !Object.hasOwn(COMMANDS, words[2])) problems.push(`${where}: no command ${words[2]}`)
          } else if (['node', 'bash'].includes(words[0])) {
            if (!fs.existsSync(path.join(ROOT, words[1]))) problems.push(`${where}: no file ${words[1]}`)
          } else if (['git', 'cd'].includes(words[0])) {
            // the clone of building-from-source.md
          } else {
            problems.push(`${where}: a command this test does not know`)
          }
        }
      }
    }
  }
  assert.deepEqual(problems, [])
})

test('README and docs: every `npm run …` and `node <file>` quoted in the text names a script or file that exists', () => {
  const problems = []
  let seen = 0
  for (const doc of DOCS) {
    const text = fs.readFileSync(path.join(ROOT, doc), 'utf8')
    for (const [, span] of text.matchAll(/`([^`\n]+)`/g)) {
      const script = span.match(/^npm run ([\w:-]+)/)
      const file = span.match(/^node (?:--[\w-]+ )*((?:benchmark|examples|scripts|bin|__test__)\/[\w./-]+\.[cm]?js)\b/)
      if (script) {
        seen++
        if (pkg.scripts[script[1]] === undefined) problems.push(`${doc}: \`${span}\`: no script ${script[1]}`)
      } else if (file) {
        seen++
        if (!fs.existsSync(path.join(ROOT, file[1]))) problems.push(`${doc}: \`${span}\`: no file ${file[1]}`)
      }
    }
  }
  assert.ok(seen >= 10, `${seen} commands seen`)
  assert.deepEqual(problems, [])
})

test('docs/api.md: every js block compiles (reference fragments)', () => {
  const text = fs.readFileSync(path.join(ROOT, 'docs/api.md'), 'utf8')
  const js = fences(text).filter((b) => b.lang === 'js')
  assert.ok(js.length >= 10)
  for (const block of js) {
    assert.doesNotThrow(() => new vm.Script(`(async () => {\n${block.code}\n})`, { filename: `docs/api.md:${block.line}` }))
  }
})

test('README: `npx uncache-tree --help` lists the demo the README starts with', () => {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'uncache-tree.js'), '--help'], { encoding: 'utf8' })
  assert.equal(r.status, 0)
  assert.match(r.stdout, /\n {2}demo +reload a plugin 3,000 times/)
  assert.match(README, /\n```sh\nnpx uncache-tree demo\n```\n/)
})
