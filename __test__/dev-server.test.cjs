'use strict'
// End to end: examples/dev-server, copied into a temp directory and run as a child process,
// driven with real HTTP requests while its route files are edited on disk. The process, its
// listening socket and a keep-alive connection survive every reload; the declined state module
// keeps its state; a syntax error keeps the old route serving; after 300 edits the old route
// generations are collected and exactly one interval runs.
const test = require('node:test')
const assert = require('node:assert/strict')
const { spawn } = require('node:child_process')
const fs = require('node:fs')
const http = require('node:http')
const os = require('node:os')
const path = require('node:path')

const ROOT = path.join(__dirname, '..')
const EDITS = 300

/** The example in a fresh temp directory, with `uncache-tree` resolving to this checkout. */
function copyExample() {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'uncache-tree-dev-server-')))
  fs.cpSync(path.join(ROOT, 'examples', 'dev-server'), dir, { recursive: true })
  fs.mkdirSync(path.join(dir, 'node_modules'))
  fs.symlinkSync(ROOT, path.join(dir, 'node_modules', 'uncache-tree'), 'dir')
  return { dir, file: (name) => path.join(dir, name) }
}

/** Starts the server; resolves once it listens. `output()` is everything it printed so far. */
function start(dir) {
  const child = spawn(process.execPath, ['server.js'], {
    cwd: dir,
    env: { ...process.env, PORT: '0', DEBOUNCE_MS: '10' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout.on('data', (chunk) => (output += chunk))
  child.stderr.on('data', (chunk) => (output += chunk))
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${output}`)), 10000)
    child.once('exit', (code) => reject(new Error(`server exited with ${code}:\n${output}`)))
    child.stdout.on('data', () => {
      const match = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(output)
      if (match) {
        clearTimeout(timer)
        resolve({ child, port: Number(match[1]), output: () => output })
      }
    })
  })
}

function get(port, agent, route) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: route, agent }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk) => (body += chunk))
      res.on('end', () => resolve({ status: res.statusCode, body, localPort: req.socket.localPort }))
    })
    req.on('error', reject)
  })
}

async function until(what, check, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

test('dev-server example: routes reload on save with no restart, and nothing piles up', async (t) => {
  const example = copyExample()
  const server = await start(example.dir)
  t.after(() => server.child.kill('SIGKILL'))
  // One keep-alive connection for the whole test: the same socket must serve every version.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  t.after(() => agent.destroy())
  const debug = async (query = '') => JSON.parse((await get(server.port, agent, `/__debug${query}`)).body)

  const first = await get(server.port, agent, '/hello')
  assert.equal(first.body, 'hello v1\n')
  const startInfo = await debug()
  assert.equal(startInfo.pid, server.child.pid)
  assert.equal(startInfo.port, server.port)
  assert.equal(startInfo.activeIntervals, 1)

  const helloFile = example.file('routes/hello.js')
  const tickerFile = example.file('routes/ticker.js')
  const hello = (version) => `'use strict'\nmodule.exports = (req, res) => {\n  res.end('hello v${version}\\n')\n}\n`
  const tickerSource = fs.readFileSync(tickerFile, 'utf8')
  const ticker = (version) => tickerSource.replace("'ticker v1'", `'ticker v${version}'`)

  await t.test('an edit shows in the next responses, same process, same socket', async () => {
    fs.writeFileSync(helloFile, hello(2))
    const res = await until('hello v2', async () => {
      const r = await get(server.port, agent, '/hello')
      return r.body === 'hello v2\n' && r
    })
    assert.equal(res.localPort, first.localPort, 'the keep-alive connection survived')
    const info = await debug()
    assert.equal(info.pid, server.child.pid)
    assert.equal(info.port, server.port)
  })

  await t.test('a syntax error keeps the old route serving and is logged; the fix goes live', async () => {
    fs.writeFileSync(helloFile, "module.exports = (req, res) => {\n  res.end('oops'\n")
    await until('the error log', () => /reload failed, still serving the previous version/.test(server.output()))
    assert.match(server.output(), /SyntaxError/)
    assert.equal((await get(server.port, agent, '/hello')).body, 'hello v2\n')
    fs.writeFileSync(helloFile, hello(3))
    await until('hello v3', async () => (await get(server.port, agent, '/hello')).body === 'hello v3\n')
  })

  await t.test('the declined state module refuses its own update and keeps its state', async () => {
    const before = await debug()
    fs.appendFileSync(example.file('state.js'), '// edited\n')
    await until('the decline log', () => /state\.js declined the update of state\.js/.test(server.output()))
    assert.equal((await get(server.port, agent, '/hello')).body, 'hello v3\n')
    const after = await debug()
    assert.equal(after.startedAt, before.startedAt)
    assert.ok(after.requests > before.requests, 'the request counter kept counting')
  })

  await t.test(`${EDITS} edits: old generations are collected, one interval runs`, async () => {
    const started = Date.now()
    for (let i = 1; i <= EDITS; i++) {
      const version = 10 + i
      if (i % 2 === 0) {
        fs.writeFileSync(helloFile, hello(version))
        await until(`hello v${version}`, async () => {
          return (await get(server.port, agent, '/hello')).body === `hello v${version}\n`
        })
      } else {
        fs.writeFileSync(tickerFile, ticker(version))
        await until(`ticker v${version}`, async () =>
          (await get(server.port, agent, '/ticker')).body.startsWith(`ticker v${version}:`),
        )
      }
    }
    const elapsed = Date.now() - started
    const info = await debug('?gc=1')
    t.diagnostic(
      `${EDITS} edits in ${elapsed} ms; ${info.reloads} reloads unloaded ${info.unloaded} modules; ` +
        `alive: ${JSON.stringify(info.alive)}; intervals: ${info.activeIntervals}; timers: ${info.timers}`,
    )
    assert.equal(info.pid, server.child.pid)
    assert.ok(info.unloaded >= EDITS, `every edit unloaded its route (${info.unloaded})`)
    assert.ok(info.alive.length <= 1, `old generations still in memory: ${info.alive.join(', ')}`)
    assert.equal(info.activeIntervals, 1, 'each old ticker stopped its interval')
    assert.ok(info.timers <= startInfo.timers, `timers: ${info.timers}, at start ${startInfo.timers}`)
    assert.equal((await get(server.port, agent, '/hello')).localPort, first.localPort)
  })

  server.child.kill('SIGTERM')
  const code = await new Promise((resolve) => server.child.once('exit', (c, signal) => resolve(c ?? signal)))
  assert.equal(code, 0, `the server shut down cleanly:\n${server.output().slice(-2000)}`)
})
