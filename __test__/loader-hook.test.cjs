'use strict'
// Issue 19, item 7: a loader hook that hands Node the source of a CommonJS file (a 5-line
// `module.register` load hook; Yarn PnP's ESM loader does the same) makes Node compile
// uncache-tree's own files with the ESM loader's `require`, which has no `cache`. uncacheTree
// then blamed Jest. Now it unloads through Module._cache, and only a Jest worker is told about
// Jest. Each case runs in a child process with the package resolvable by name.
const test = require('node:test')
const assert = require('node:assert/strict')
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const ROOT = path.join(__dirname, '..')
const dirs = []
test.after(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true })
})

function project(files) {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'uncache-tree-hook-')))
  dirs.push(dir)
  fs.mkdirSync(path.join(dir, 'node_modules'))
  fs.symlinkSync(ROOT, path.join(dir, 'node_modules', 'uncache-tree'))
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text)
  return dir
}

// The hook: every CommonJS file's source is read and handed to Node (what a transpiling hook does).
const HOOK = {
  'hooks.mjs':
    "import { readFile } from 'node:fs/promises'\n" +
    'export async function load(url, context, next) {\n' +
    '  const result = await next(url, context)\n' +
    "  if (result.format === 'commonjs' && result.source == null) result.source = await readFile(new URL(url))\n" +
    '  return result\n' +
    '}\n',
  'register.mjs': "import { register } from 'node:module'\nregister('./hooks.mjs', import.meta.url)\n",
  'plugin.cjs': "exports.dep = require('./dep.cjs')\n",
  'dep.cjs': 'exports.n = 1\n',
}

function run(dir, file, env = {}) {
  const childEnv = { ...process.env, ...env }
  delete childEnv.JEST_WORKER_ID
  const r = spawnSync(process.execPath, ['--no-deprecation', '--import', './register.mjs', file], { cwd: dir, encoding: 'utf8', env: childEnv })
  return { code: r.status, stdout: r.stdout.trim(), stderr: r.stderr }
}

test('regression (issue 19): under a loader hook that returns CommonJS source, uncacheTree unloads and the next require is fresh', () => {
  const dir = project({
    ...HOOK,
    'main.mjs':
      "import { createRequire } from 'node:module'\nimport path from 'node:path'\n" +
      "import { uncacheTree, invalidate, snapshot } from 'uncache-tree'\n" +
      'const require = createRequire(import.meta.url)\n' +
      "const first = require('./plugin.cjs')\n" +
      "const report = uncacheTree(new URL('./plugin.cjs', import.meta.url))\n" +
      "const second = require('./plugin.cjs')\n" +
      "const again = invalidate(new URL('./dep.cjs', import.meta.url))\n" +
      'const clean = snapshot()\n' +
      "require('./dep.cjs')\n" +
      'const restored = clean.restore()\n' +
      'console.log(JSON.stringify({ removed: report.removed.map((f) => path.basename(f)), fresh: first !== second && first.dep !== second.dep,' +
      ' invalidated: again.removed.map((f) => path.basename(f)), restored: restored.removed.map((f) => path.basename(f)) }))\n',
  })
  const r = run(dir, 'main.mjs')
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(JSON.parse(r.stdout), {
    removed: ['plugin.cjs', 'dep.cjs'],
    fresh: true,
    invalidated: ['plugin.cjs', 'dep.cjs'],
    restored: ['dep.cjs'],
  })
})

test('regression (issue 19): a require.cache that ignores deletions outside Jest is refused without naming Jest', () => {
  const body =
    "const Module = require('node:module')\n" +
    // A cache whose deletions do nothing, the way a foreign module registry's would.
    'Module._cache = new Proxy(Module._cache, { deleteProperty: () => true })\n' +
    "const { uncacheTree } = require('uncache-tree')\n" +
    "try { uncacheTree('./dep.cjs') } catch (e) { console.log(e.code + ': ' + e.message) }\n"
  const dir = project({ ...HOOK, 'foreign.mjs': `import { createRequire } from 'node:module'\nconst require = createRequire(import.meta.url)\nrequire('./dep.cjs')\nconst run = new Function('require', ${JSON.stringify(body)})\nrun(require)\n` })
  const outside = run(dir, 'foreign.mjs')
  assert.equal(outside.code, 0, outside.stderr)
  assert.match(outside.stdout, /^ERR_UNCACHE_UNSUPPORTED_RUNTIME: require\.cache ignores deletions here: something replaced Node's CommonJS module cache/)
  assert.doesNotMatch(outside.stdout, /Jest/)
})
