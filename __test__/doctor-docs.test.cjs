'use strict'
// docs/doctor.md runs as written: every `npx uncache-tree doctor …` line of its ```sh blocks is run
// from the repository root (as `node bin/uncache-tree.js doctor …`, the same CLI) and must exit
// with the status its `# exit N` comment gives; every ```js block that names a file of the
// repository in its first comment is that file, word for word; and the gallery table lists every
// example directory of examples/leaks that has a leaky.js.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { runCli } = require('./helpers/cli.cjs')

const ROOT = path.join(__dirname, '..')
const DOC = fs.readFileSync(path.join(ROOT, 'docs', 'doctor.md'), 'utf8')

function blocks(text, language) {
  const found = []
  const re = new RegExp('^```' + language + '\\n([\\s\\S]*?)^```$', 'gm')
  for (let match; (match = re.exec(text)) !== null; ) found.push(match[1])
  return found
}

/** Splits a shell line into words, with single-quoted words kept whole (as sh does). */
function words(line) {
  const out = []
  const re = /'([^']*)'|(\S+)/g
  for (let match; (match = re.exec(line)) !== null; ) out.push(match[1] ?? match[2])
  return out
}

const commands = blocks(DOC, 'sh')
  .flatMap((block) => block.split('\n'))
  .filter((line) => line.startsWith('npx uncache-tree doctor '))
  .map((line) => {
    const [command, comment] = line.split(/\s+#\s*/)
    const status = /^exit (\d)$/.exec(comment ?? '')
    assert.ok(status, `every command says its exit status: ${line}`)
    return { line, args: words(command).slice(2), status: Number(status[1]) }
  })

function run(args) {
  return runCli([...args, '--quiet'])
}

test('docs/doctor.md has commands to run', () => {
  assert.ok(commands.length >= 8, `${commands.length} commands`)
})

test('every doctor command of docs/doctor.md exits as the page says', async () => {
  // Two at a time: each run is a process with its own heap snapshots.
  const results = []
  for (let i = 0; i < commands.length; i += 2) results.push(...(await Promise.all(commands.slice(i, i + 2).map((c) => run(c.args)))))
  results.forEach(({ code, stdout, stderr }, i) => {
    assert.equal(code, commands[i].status, `${commands[i].line}\n${stdout.slice(-1500)}\n${stderr.slice(-1500)}`)
    assert.match(stdout, /^(LEAK|OK): /m, 'a verdict was printed')
  })
})

test('every ```js block that names a repository file is that file', () => {
  const named = blocks(DOC, 'js').filter((code) => /^\/\/ (examples|lib|bin)\/\S+\.js\n/.test(code))
  assert.ok(named.length >= 1)
  for (const code of named) {
    const file = /^\/\/ (\S+)\n/.exec(code)[1]
    assert.equal(code.slice(code.indexOf('\n') + 1), fs.readFileSync(path.join(ROOT, file), 'utf8'), file)
  }
})

test('the gallery table lists every example with a leaky and a fixed variant', () => {
  const dir = path.join(ROOT, 'examples', 'leaks')
  const gallery = ['emitter-listener', 'process-listener', 'interval', 'server', 'axios-interceptor', 'sequelize-hook', 'winston', 'pino', 'prom-client', 'mongoose-models', 'express-routes']
  for (const name of gallery) {
    assert.ok(fs.existsSync(path.join(dir, name, 'leaky.js')) && fs.existsSync(path.join(dir, name, 'fixed.js')), name)
    assert.match(DOC, new RegExp(`^\\| \`${name}/\` \\|`, 'm'), `${name} is in the table`)
  }
})
