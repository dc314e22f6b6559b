'use strict'
// Every ```js block of docs/module-graph.md runs as written: saved under the file name its first
// comment gives, in a temp project where `uncache-tree` resolves to this checkout, run with node;
// it must exit 0 and print what the block says it prints.
const test = require('node:test')
const assert = require('node:assert/strict')
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const ROOT = path.join(__dirname, '..')
const DOC = fs.readFileSync(path.join(ROOT, 'docs', 'module-graph.md'), 'utf8')
const blocks = [...DOC.matchAll(/^```js\n([\s\S]*?)^```/gm)].map((m) => m[1])
// What each block prints (its console.log line), in order.
const OUTPUT = ['kept db.js held by host.js', 'removed alias.js, plugin.js']

test('docs/module-graph.md has the blocks this test expects', () => {
  assert.equal(blocks.length, OUTPUT.length)
})

for (const [k, code] of blocks.entries()) {
  const name = /^\/\/ ([\w.-]+\.js)/.exec(code)?.[1] ?? `block-${k}.js`
  test(`docs/module-graph.md block ${k + 1} (${name}) runs as written`, () => {
    const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'uncache-tree-graph-doc-')))
    try {
      fs.mkdirSync(path.join(dir, 'node_modules'))
      fs.symlinkSync(ROOT, path.join(dir, 'node_modules', 'uncache-tree'), 'dir')
      fs.writeFileSync(path.join(dir, name), code)
      const out = spawnSync(process.execPath, [path.join(dir, name)], { cwd: dir, encoding: 'utf8' })
      assert.equal(out.status, 0, out.stderr)
      assert.equal(out.stdout.trim(), OUTPUT[k])
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
}
