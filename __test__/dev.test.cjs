'use strict'
// Issue 17. In this process: watch() reloads only files whose contents changed, sees edits of a
// symlink's target, refuses ES modules (ERR_UNCACHE_ESM, as reload and invalidate do), warns when
// the main module or a declined module keeps old code; ERR_UNCACHE_RELOAD_FAILED names the user's
// frame; hot.invalidate() and hot.watchFile(). Then `uncache-tree dev` end to end: each test
// spawns bin/uncache-tree.js dev on an app generated in a temp dir, edits files and reads the
// child's answers over HTTP on 127.0.0.1 and its stderr (compile before dispose, the reload line,
// each restart rule, rs, --no-restart, signals and exit codes, leak hints).
const test = require('node:test')
const assert = require('node:assert/strict')
const { spawn, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const http = require('node:http')
const path = require('node:path')
const { pathToFileURL } = require('node:url')
const { watch, reload, invalidate, hot, UncacheError } = require('..')
const { writeTree } = require('./helpers/fixtures.cjs')
const { recorder } = require('./helpers/watch-recorder.cjs')

const ROOT = path.join(__dirname, '..')
const CLI = path.join(ROOT, 'bin', 'uncache-tree.js')
const PKG = JSON.stringify(ROOT)
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** watch() with a recorder that also records warnings. */
function watchWithWarnings(options) {
  const rec = recorder()
  const warnings = []
  const watcher = watch({ debounceMs: 10, ...options, ...rec.callbacks, onWarning: (w) => warnings.push(w) })
  return { rec, warnings, watcher }
}

// ---------------------------------------------------------------------------------------------
// 2. watch(): contents decide

test('regression: a rewrite with the same bytes (tsc, cp -r, git checkout, formatter) reloads nothing', async (t) => {
  const tree = writeTree({
    'app.js': "exports.counter = require('./counter')\n",
    'counter.js': 'let n = 0\nexports.add = () => ++n\n',
  })
  // The main module (this file) holds counter.js too: a needless reload gave it a second instance.
  const counter = require(tree.file('counter.js'))
  require(tree.file('app.js'))
  counter.add()
  counter.add()
  const { rec, warnings, watcher } = watchWithWarnings({ entry: tree.file('app.js') })
  t.after(() => watcher.close())
  const source = fs.readFileSync(tree.file('counter.js'))
  // New mtime, same inode.
  fs.writeFileSync(tree.file('counter.js'), source)
  // New inode (tsc and editors write a temp file and rename it over).
  fs.writeFileSync(tree.file('.counter.tmp'), source)
  fs.renameSync(tree.file('.counter.tmp'), tree.file('counter.js'))
  // Deleted and written again (rm -rf dist && tsc).
  fs.unlinkSync(tree.file('counter.js'))
  fs.writeFileSync(tree.file('counter.js'), source)
  const later = new Date(Date.now() + 5000)
  fs.utimesSync(tree.file('counter.js'), later, later)
  await sleep(300)
  assert.equal(rec.pending(), 0, 'no reload, no error')
  assert.equal(require.cache[tree.file('counter.js')].exports, counter, 'one instance: the one the main module holds')
  assert.equal(require(tree.file('app.js')).counter.add(), 3, 'the app and the main module count together')
  assert.deepEqual(warnings, [])
  // The watcher still works: a real change reloads.
  fs.writeFileSync(tree.file('app.js'), "exports.counter = require('./counter')\nexports.v = 2\n")
  const event = await rec.next()
  assert.equal(event.type, 'reload')
  assert.deepEqual(event.report.removed, [tree.file('app.js')])
  assert.equal(event.exports.v, 2)
})

test('regression: an edit of a symlink target is seen in fs.watch mode', async (t) => {
  const tree = writeTree({
    'app/index.js': "exports.config = require('./config')\n",
    'shared/config.js': 'module.exports = { port: 1 }\n',
  })
  fs.symlinkSync(tree.file('shared/config.js'), tree.file('app/config.js'))
  require(tree.file('app/index.js'))
  const { rec, watcher } = watchWithWarnings({ entry: tree.file('app/index.js'), paths: [tree.file('app')] })
  t.after(() => watcher.close())
  assert.ok(watcher.watchedFiles().includes(tree.file('app/config.js')))
  await sleep(50)
  // The link's own directory hears nothing of this.
  fs.writeFileSync(tree.file('shared/config.js'), 'module.exports = { port: 2 }\n')
  const event = await rec.next(3000)
  assert.equal(event.type, 'reload')
  assert.equal(event.exports.config.port, 2)
  assert.ok(event.report.removed.includes(tree.file('shared/config.js')))
})

test('regression: an ES module in the watched tree goes to onError as ERR_UNCACHE_ESM, never a stale onReload', async (t) => {
  const tree = writeTree({
    'app.js': "exports.esm = require('./esm.mjs')\n",
    'esm.mjs': 'export const v = 1\n',
    'plain.mjs': 'export const v = 1\n',
  })
  require(tree.file('app.js'))
  const { rec, watcher } = watchWithWarnings({ entry: tree.file('app.js') })
  t.after(() => watcher.close())
  assert.ok(watcher.watchedFiles().includes(tree.file('esm.mjs')))
  fs.writeFileSync(tree.file('esm.mjs'), 'export const v = 2\n')
  const event = await rec.next()
  assert.equal(event.type, 'error')
  assert.ok(event.error instanceof UncacheError)
  assert.equal(event.error.code, 'ERR_UNCACHE_ESM')
  assert.equal(event.error.id, tree.file('esm.mjs'))
  assert.match(event.error.message, /never evaluates an ES module twice/)
  await sleep(100)
  assert.equal(rec.pending(), 0, 'no onReload with the old namespace')
  // An ES module as the entry is refused up front.
  assert.throws(() => watch({ entry: tree.file('plain.mjs') }), { code: 'ERR_UNCACHE_ESM' })
})

test('regression: a reloaded module the main module still holds is a warning, not only skipped: main', async (t) => {
  const tree = writeTree({
    'app.js': "exports.config = require('./config')\n",
    'config.js': 'module.exports = { v: 1 }\n',
  })
  const configSeenByMain = require(tree.file('config.js'))
  require(tree.file('app.js'))
  const { rec, warnings, watcher } = watchWithWarnings({ entry: tree.file('app.js') })
  t.after(() => watcher.close())
  fs.writeFileSync(tree.file('config.js'), 'module.exports = { v: 2 }\n')
  const event = await rec.next()
  assert.equal(event.exports.config.v, 2)
  assert.equal(configSeenByMain.v, 1)
  assert.equal(warnings.length, 1)
  assert.equal(warnings[0].name, 'UncacheWarning')
  assert.equal(warnings[0].code, 'UNCACHE_HELD_BY_MAIN')
  assert.deepEqual(warnings[0].modules, [tree.file('config.js')])
  assert.match(warnings[0].message, new RegExp(`${tree.file('config.js')} reloaded, but the main module ${__filename} still holds the old instance`))
})

test('regression: an update refused by a declined module is a warning naming both', async (t) => {
  const tree = writeTree({
    'app.js': "exports.state = require('./state')\n",
    'state.js': `require(${PKG}).hot(module).decline()\nexports.helper = require('./helper')\n`,
    'helper.js': 'module.exports = 1\n',
  })
  require(tree.file('app.js'))
  const { rec, warnings, watcher } = watchWithWarnings({ entry: tree.file('app.js') })
  t.after(() => watcher.close())
  fs.writeFileSync(tree.file('helper.js'), 'module.exports = 2\n')
  const event = await rec.next()
  assert.equal(event.type, 'reload')
  assert.equal(event.exports.state.helper, 1, 'the old code keeps running')
  assert.equal(warnings.length, 1)
  assert.equal(warnings[0].code, 'UNCACHE_DECLINED')
  assert.equal(warnings[0].id, tree.file('state.js'))
  assert.deepEqual(warnings[0].modules, [tree.file('helper.js')])
})

test('watch(): onWarning must be a function; without it a warning goes to process.emitWarning', async (t) => {
  assert.throws(() => watch({ entry: __filename, onWarning: 1 }), { code: 'ERR_INVALID_ARG_TYPE' })
  const tree = writeTree({ 'app.js': "exports.c = require('./c')\n", 'c.js': 'module.exports = 1\n' })
  require(tree.file('c.js'))
  require(tree.file('app.js'))
  const rec = recorder()
  const emitted = []
  const onWarning = (w) => emitted.push(w)
  process.on('warning', onWarning)
  t.after(() => process.off('warning', onWarning))
  const watcher = watch({ entry: tree.file('app.js'), debounceMs: 10, ...rec.callbacks })
  t.after(() => watcher.close())
  fs.writeFileSync(tree.file('c.js'), 'module.exports = 2\n')
  await rec.next()
  await sleep(20)
  assert.deepEqual(emitted.map((w) => w.code), ['UNCACHE_HELD_BY_MAIN'])
})

// ---------------------------------------------------------------------------------------------
// 3. reload / invalidate of an ES module

test('regression: reload and invalidate of an imported ES module throw ERR_UNCACHE_ESM and change nothing', async () => {
  const tree = writeTree({ 'x.mjs': 'export const v = 1\n', 'req.mjs': 'export const v = 1\n' })
  await import(pathToFileURL(tree.file('x.mjs')).href)
  const keys = Object.keys(require.cache).length
  for (const call of [
    () => reload(tree.file('x.mjs')),
    () => reload(pathToFileURL(tree.file('x.mjs'))),
    () => invalidate(tree.file('x.mjs')),
    () => invalidate([tree.file('x.mjs')]),
  ]) {
    assert.throws(call, (error) => {
      assert.ok(error instanceof UncacheError)
      assert.equal(error.code, 'ERR_UNCACHE_ESM')
      assert.equal(error.id, tree.file('x.mjs'))
      assert.match(error.message, /Node never evaluates an ES module twice in a process/)
      assert.match(error.message, /uncache-tree dev/)
      assert.match(error.message, /CommonJS/)
      return true
    })
  }
  assert.equal(Object.keys(require.cache).length, keys, 'nothing loaded or unloaded')
  if (process.features.require_module) {
    // require(esm): the cached wrapper is refused too.
    require(tree.file('req.mjs'))
    assert.throws(() => invalidate(tree.file('req.mjs')), { code: 'ERR_UNCACHE_ESM' })
    assert.throws(() => reload(tree.file('req.mjs')), { code: 'ERR_UNCACHE_ESM' })
    assert.ok(require.cache[tree.file('req.mjs')] !== undefined, 'still cached')
  }
})

// ---------------------------------------------------------------------------------------------
// 4. ERR_UNCACHE_RELOAD_FAILED names the user's frame

test('regression: ERR_UNCACHE_RELOAD_FAILED names the throwing frame in node_modules and the user line that called it', () => {
  const tree = writeTree({
    'node_modules/registry/index.js':
      'const names = new Set()\nexports.register = (name) => {\n  if (names.has(name)) throw new Error(`A metric with the name ${name} has already been registered.`)\n  names.add(name)\n}\n',
    'plugin.js': "const registry = require('registry')\nregistry.register('requests')\n",
  })
  // The host holds the registry too (as a host holds prom-client): it stays loaded.
  require(tree.file('node_modules/registry/index.js'))
  require(tree.file('plugin.js'))
  assert.throws(
    () => reload(tree.file('plugin.js')),
    (error) => {
      assert.equal(error.code, 'ERR_UNCACHE_RELOAD_FAILED')
      const thrown = `${tree.file('node_modules/registry/index.js')}:3`
      const user = `${tree.file('plugin.js')}:2`
      assert.ok(error.message.includes(`at ${thrown}, called from ${user}.`), error.message)
      return true
    },
  )
  // A throw in the user's own file names that file once.
  const own = writeTree({ 'a.js': 'module.exports = 1\n' })
  require(own.file('a.js'))
  fs.writeFileSync(own.file('a.js'), 'module.exports = 1\nnull.x\n')
  assert.throws(() => reload(own.file('a.js')), (error) => {
    assert.ok(error.message.includes(`at ${own.file('a.js')}:2.`), error.message)
    assert.ok(!error.message.includes('called from'))
    return true
  })
})

// ---------------------------------------------------------------------------------------------
// 5. hot.invalidate() and hot.watchFile()

test('hot.invalidate(): a self-accepting module whose new version calls it passes the update to its importers', async (t) => {
  const tree = writeTree({
    'app.js': "exports.widget = require('./widget')\nexports.loads = (globalThis.appLoads = (globalThis.appLoads || 0) + 1)\n",
    'widget.js': `const { hot } = require(${PKG})\nhot(module).accept()\nexports.shape = 'a'\n`,
  })
  require(tree.file('app.js'))
  const { rec, watcher } = watchWithWarnings({ entry: tree.file('app.js') })
  t.after(() => watcher.close())
  // A plain edit: only widget.js reloads (it accepts itself).
  fs.writeFileSync(tree.file('widget.js'), `const { hot } = require(${PKG})\nhot(module).accept()\nexports.shape = 'b'\n`)
  let event = await rec.next()
  assert.deepEqual(event.report.removed, [tree.file('widget.js')])
  assert.equal(globalThis.appLoads, 1)
  // The new version cannot take over in place: it invalidates, and app.js reloads too.
  fs.writeFileSync(
    tree.file('widget.js'),
    `const { hot } = require(${PKG})\nhot(module).accept()\nexports.shape = 'c'\nif (hot(module).data === undefined) hot(module).invalidate()\n`,
  )
  event = await rec.next()
  assert.deepEqual(event.report.removed, [tree.file('widget.js')])
  event = await rec.next()
  assert.deepEqual(event.report.removed, [tree.file('app.js'), tree.file('widget.js')])
  assert.equal(event.exports.widget.shape, 'c')
  assert.equal(globalThis.appLoads, 2)
})

test('hot.invalidate() with no watcher: the module and its importers are unloaded on the next turn', async () => {
  const tree = writeTree({
    'app.js': "exports.part = require('./part')\n",
    'part.js': `const { hot } = require(${PKG})\nhot(module).accept()\nexports.invalidate = () => hot(module).invalidate()\n`,
  })
  const app = require(tree.file('app.js'))
  app.part.invalidate()
  assert.ok(require.cache[tree.file('part.js')] !== undefined, 'not during the call')
  await new Promise((resolve) => setImmediate(resolve))
  assert.equal(require.cache[tree.file('part.js')], undefined)
  assert.equal(require.cache[tree.file('app.js')], undefined)
  assert.notEqual(require(tree.file('app.js')), app)
})

test('hot.watchFile(): editing a tied template reloads the module that reads it', async (t) => {
  const tree = writeTree({
    'app.js': "exports.page = require('./page')\n",
    'page.js': `const fs = require('node:fs')\nconst { hot } = require(${PKG})\nexports.html = fs.readFileSync(hot(module).watchFile('./page.html'), 'utf8')\n`,
    'page.html': '<h1>one</h1>',
  })
  require(tree.file('app.js'))
  const { rec, watcher } = watchWithWarnings({ entry: tree.file('app.js') })
  t.after(() => watcher.close())
  assert.ok(watcher.watchedFiles().includes(tree.file('page.html')))
  fs.writeFileSync(tree.file('page.html'), '<h1>two</h1>')
  const event = await rec.next()
  assert.deepEqual(event.report.removed, [tree.file('app.js'), tree.file('page.js')])
  assert.equal(event.exports.page.html, '<h1>two</h1>')
  // The new instance tied the file again: a second edit reloads too.
  fs.writeFileSync(tree.file('page.html'), '<h1>three</h1>')
  assert.equal((await rec.next()).exports.page.html, '<h1>three</h1>')
})

test('hot.watchFile() returns the absolute path; takes paths and file: URLs only', () => {
  const h = hot(module)
  assert.equal(h.watchFile('./x.env'), path.join(__dirname, 'x.env'))
  assert.equal(h.watchFile(pathToFileURL('/tmp/y.json')), '/tmp/y.json')
  assert.throws(() => h.watchFile(5), { code: 'ERR_INVALID_ARG_TYPE' })
  assert.throws(() => h.watchFile(''), { code: 'ERR_INVALID_ARG_VALUE' })
  assert.throws(() => h.watchFile('http://x/y'), { code: 'ERR_INVALID_ARG_VALUE' })
})

// ---------------------------------------------------------------------------------------------
// 1. `uncache-tree dev`, end to end

/**
 * An app in a temp dir: server.js (the entry) serves GET /<name> from routes/<name>.js through
 * router.js, which accepts its routes' updates. Each answer carries the process id.
 */
function devApp(extra = {}) {
  return writeTree({
    'server.js':
      "const http = require('node:http')\n" +
      "const router = require('./router')\n" +
      'const server = http.createServer((req, res) => router.handle(req, res))\n' +
      "server.listen(0, '127.0.0.1', () => console.log(`listening ${server.address().port} pid ${process.pid}`))\n",
    'router.js':
      `const { hot } = require(${PKG})\n` +
      'const routes = {}\n' +
      "for (const name of ['a', 'b']) routes[name] = require(`./routes/${name}`)\n" +
      "hot(module).accept(['./routes/a', './routes/b'], (ids) => {\n" +
      "  for (const id of ids) routes[require('node:path').basename(id, '.js')] = require(id)\n" +
      '})\n' +
      'exports.handle = (req, res) => {\n' +
      '  const route = routes[req.url.slice(1)]\n' +
      "  if (route === undefined) { res.statusCode = 404; return res.end('none') }\n" +
      '  res.end(`${route()} ${process.pid}`)\n' +
      '}\n',
    'routes/a.js': "module.exports = () => 'a1'\n",
    'routes/b.js': "module.exports = () => 'b1'\n",
    ...extra,
  })
}

/** Runs `uncache-tree dev` in `dir`; resolves once the program listens. */
function startDev(dir, args = ['server.js'], { env = {} } = {}) {
  const child = spawn(process.execPath, [CLI, 'dev', ...args], {
    cwd: dir,
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  const out = { stdout: '', stderr: '' }
  child.stdout.on('data', (chunk) => (out.stdout += chunk))
  child.stderr.on('data', (chunk) => (out.stderr += chunk))
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
  const dev = {
    child,
    out,
    exited,
    /** Waits until `predicate(out)` holds. */
    async until(predicate, what, timeoutMs = 10000) {
      const deadline = Date.now() + timeoutMs
      while (!predicate(out)) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\nstdout:\n${out.stdout}\nstderr:\n${out.stderr}`)
        await sleep(20)
      }
    },
    /** The port and pid of the n-th start (0-based; default: the last). */
    listening(n) {
      const all = [...out.stdout.matchAll(/listening (\d+) pid (\d+)/g)]
      const match = n === undefined ? all.at(-1) : all[n]
      return match && { port: Number(match[1]), pid: Number(match[2]) }
    },
    starts: () => [...out.stdout.matchAll(/listening (\d+) pid (\d+)/g)].length,
    async waitStart(count) {
      await dev.until(() => dev.starts() >= count, `start #${count}`)
      return dev.listening(count - 1)
    },
    /** GET /route on the last start, until `expected` (a RegExp) matches the body. */
    async answer(route, expected, timeoutMs = 10000) {
      const deadline = Date.now() + timeoutMs
      let last
      for (;;) {
        try {
          last = await get(dev.listening().port, route)
          if (expected.test(last)) return last
        } catch (error) {
          last = String(error)
        }
        if (Date.now() > deadline) throw new Error(`no answer matching ${expected} on /${route}; last: ${last}\nstderr:\n${out.stderr}`)
        await sleep(25)
      }
    },
    async stop(signal = 'SIGINT') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      return exited
    },
  }
  return dev
}

function get(port, route) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: route, agent: false }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk) => (body += chunk))
      res.on('end', () => resolve(body))
    })
    req.on('error', reject)
    req.setTimeout(2000, () => req.destroy(new Error('timeout')))
  })
}

/** Starts dev in `tree.dir`, stopped after the test. */
async function running(t, tree, args, options) {
  const dev = startDev(tree.dir, args, options)
  t.after(() => dev.stop('SIGTERM'))
  await dev.waitStart(1)
  return dev
}

test('dev: a saved route reloads in place (same process), with one line on stderr', async (t) => {
  const tree = devApp()
  const dev = await running(t, tree)
  const { pid } = dev.listening()
  assert.equal(await dev.answer('/a', /^a1 /), `a1 ${pid}`)
  fs.writeFileSync(tree.file('routes/a.js'), "module.exports = () => 'a2'\n")
  assert.equal(await dev.answer('/a', /^a2 /), `a2 ${pid}`, 'new code, same process')
  await dev.until((o) => /reloaded/.test(o.stderr), 'the reload line')
  assert.match(dev.out.stderr, /^\[uncache-tree\] reloaded routes\/a\.js: 1 module\(s\) in \d+\.\d ms$/m)
  assert.equal(dev.starts(), 1)
})

test('dev --quiet: no reload line', async (t) => {
  const tree = devApp()
  const dev = await running(t, tree, ['server.js', '--quiet'])
  fs.writeFileSync(tree.file('routes/a.js'), "module.exports = () => 'a2'\n")
  await dev.answer('/a', /^a2 /)
  await sleep(100)
  assert.equal(dev.out.stderr, '')
})

test('regression: dev compiles before dispose: a syntax error prints file:line:col and unloads nothing', async (t) => {
  const tree = devApp({
    'routes/a.js': `require(${PKG}).hot(module).dispose(() => console.log('disposed a1'))\nmodule.exports = () => 'a1'\n`,
  })
  const dev = await running(t, tree)
  const { pid } = dev.listening()
  fs.writeFileSync(tree.file('routes/a.js'), "module.exports = () => 'a2'\nconst x = {\n  y: 1,,\n}\n")
  await dev.until((o) => /SyntaxError/.test(o.stderr), 'the syntax error')
  assert.match(dev.out.stderr, /^\[uncache-tree\] routes\/a\.js:3:8 SyntaxError: Unexpected token ','$/m)
  assert.match(dev.out.stderr, /nothing was reloaded; the previous version keeps running/)
  assert.equal(await get(dev.listening().port, '/a'), `a1 ${pid}`, 'the old route serves')
  assert.doesNotMatch(dev.out.stdout, /disposed a1/, 'its dispose handler did not run')
  fs.writeFileSync(tree.file('routes/a.js'), "module.exports = () => 'a3'\n")
  assert.equal(await dev.answer('/a', /^a3 /), `a3 ${pid}`)
  assert.match(dev.out.stdout, /disposed a1/)
})

test('dev --require tsx/cjs: TypeScript routes reload, and the compile check goes through tsx', async (t) => {
  const tree = devApp({
    'router.js':
      `const { hot } = require(${PKG})\nlet a = require('./routes/a.ts')\n` +
      "hot(module).accept(['./routes/a.ts'], () => { a = require('./routes/a.ts') })\n" +
      'exports.handle = (req, res) => res.end(`${a.default()} ${process.pid}`)\n',
    'routes/a.ts': "const label: string = 'ts1'\nexport default (): string => label\n",
  })
  const dev = await running(t, tree, ['server.js', '--require', 'tsx/cjs'], {
    env: { NODE_PATH: path.join(ROOT, 'node_modules') },
  })
  const { pid } = dev.listening()
  assert.equal(await dev.answer('/a', /^ts1 /), `ts1 ${pid}`)
  fs.writeFileSync(tree.file('routes/a.ts'), "const label: string = 'ts2'\nexport default (): string => label\n")
  assert.equal(await dev.answer('/a', /^ts2 /), `ts2 ${pid}`)
  // Valid JavaScript would not parse this either, but only tsx knows `label: string` is fine.
  fs.writeFileSync(tree.file('routes/a.ts'), "const label: string = 'ts3'\nexport default (): string => {\n  return label +\n}\n")
  await dev.until((o) => /routes\/a\.ts:\d+:\d+ /.test(o.stderr), 'the TypeScript syntax error')
  assert.match(dev.out.stderr, /nothing was reloaded/)
  assert.equal(await get(dev.listening().port, '/a'), `ts2 ${pid}`)
})

test('dev restarts when the entry changes', async (t) => {
  const tree = devApp()
  const dev = await running(t, tree)
  const first = dev.listening()
  fs.appendFileSync(tree.file('server.js'), '// edited\n')
  const second = await dev.waitStart(2)
  assert.notEqual(second.pid, first.pid)
  assert.match(dev.out.stderr, /restarting: the entry server\.js changed/)
  assert.equal(await dev.answer('/a', /^a1 /), `a1 ${second.pid}`)
})

test('dev restarts when a change bubbles up to the entry without a module accepting it', async (t) => {
  const tree = devApp({ 'util.js': "module.exports = 'u1'\n" })
  fs.appendFileSync(tree.file('router.js'), "exports.util = require('./util')\n")
  const dev = await running(t, tree)
  const first = dev.listening()
  fs.writeFileSync(tree.file('util.js'), "module.exports = 'u2'\n")
  const second = await dev.waitStart(2)
  assert.notEqual(second.pid, first.pid)
  assert.match(dev.out.stderr, /restarting: the change of util\.js reaches the entry server\.js through modules that do not accept it/)
})

test('dev restarts when a change reaches a declined module', async (t) => {
  const tree = devApp({
    'routes/a.js': "module.exports = () => require('../state').label\n",
    'state.js': `require(${PKG}).hot(module).decline()\nexports.label = require('./label')\n`,
    'label.js': "module.exports = 'L1'\n",
  })
  const dev = await running(t, tree)
  const first = dev.listening()
  assert.equal(await dev.answer('/a', /^L1 /), `L1 ${first.pid}`)
  await sleep(300) // state.js and label.js loaded with that request: the watcher looks for new files 100 ms later
  fs.writeFileSync(tree.file('label.js'), "module.exports = 'L2'\n")
  const second = await dev.waitStart(2)
  assert.notEqual(second.pid, first.pid)
  assert.match(dev.out.stderr, /restarting: the change of label\.js reaches state\.js, which declines updates/)
  assert.equal(await dev.answer('/a', /^L2 /), `L2 ${second.pid}`)
})

test('dev restarts when an ES module changes', async (t) => {
  const tree = devApp({
    'routes/a.js': process.features.require_module
      ? "const esm = require('../esm.mjs')\nmodule.exports = () => esm.label\n"
      : "module.exports = () => 'esm'\n",
    'esm.mjs': "export const label = 'E1'\n",
  })
  const args = process.features.require_module ? ['server.js'] : ['server.js', '--watch', 'esm.mjs']
  const dev = await running(t, tree, args)
  const first = dev.listening()
  fs.writeFileSync(tree.file('esm.mjs'), "export const label = 'E2'\n")
  const second = await dev.waitStart(2)
  assert.notEqual(second.pid, first.pid)
  assert.match(dev.out.stderr, /restarting: the ES module esm\.mjs changed: Node never evaluates an ES module twice/)
  if (process.features.require_module) assert.equal(await dev.answer('/a', /^E2 /), `E2 ${second.pid}`)
})

test('dev: an ES module program restarts at every change of a module it imported', async (t) => {
  const tree = writeTree({
    'package.json': '{ "type": "module" }\n',
    'server.js':
      "import http from 'node:http'\nimport { label } from './label.js'\n" +
      'const server = http.createServer((req, res) => res.end(`${label} ${process.pid}`))\n' +
      "server.listen(0, '127.0.0.1', () => console.log(`listening ${server.address().port} pid ${process.pid}`))\n",
    'label.js': "export const label = 'M1'\n",
  })
  const dev = await running(t, tree)
  const first = dev.listening()
  assert.equal(await dev.answer('/', /^M1 /), `M1 ${first.pid}`)
  // Node 20 reports the imported files from its loader thread: give the message time to arrive.
  await sleep(300)
  fs.writeFileSync(tree.file('label.js'), "export const label = 'M2'\n")
  const second = await dev.waitStart(2)
  assert.notEqual(second.pid, first.pid)
  assert.match(dev.out.stderr, /restarting: label\.js changed, and server\.js is an ES module: Node never evaluates an ES module twice/)
  assert.equal(await dev.answer('/', /^M2 /), `M2 ${second.pid}`)
})

test('dev restarts when a --watch file that is not a module changes (.env)', async (t) => {
  const tree = devApp({
    '.env': 'GREETING=hello\n',
    'routes/a.js': "module.exports = () => require('node:fs').readFileSync(require('node:path').join(__dirname, '../.env'), 'utf8').trim()\n",
  })
  const dev = await running(t, tree, ['server.js', '--watch', '.env'])
  const first = dev.listening()
  fs.writeFileSync(tree.file('.env'), 'GREETING=bye\n')
  const second = await dev.waitStart(2)
  assert.notEqual(second.pid, first.pid)
  assert.match(dev.out.stderr, /restarting: \.env changed \(watched with --watch; not a module the program loaded\)/)
})

test('dev --watch DIR with --ignore and --ext: only matching files restart', async (t) => {
  const tree = devApp({
    'config/app.json': '{ "v": 1 }\n',
    'config/notes.txt': 'notes\n',
    'config/logs/out.json': '{}\n',
  })
  const dev = await running(t, tree, ['server.js', '--watch', 'config', '--ignore', 'config/logs', '--ext', 'json'])
  const first = dev.listening()
  await sleep(100)
  fs.writeFileSync(tree.file('config/notes.txt'), 'other notes\n') // not in --ext
  fs.writeFileSync(tree.file('config/logs/out.json'), '{ "x": 1 }\n') // --ignore
  await sleep(400)
  assert.equal(dev.starts(), 1, dev.out.stderr)
  fs.writeFileSync(tree.file('config/app.json'), '{ "v": 2 }\n')
  const second = await dev.waitStart(2)
  assert.notEqual(second.pid, first.pid)
  assert.match(dev.out.stderr, /restarting: config\/app\.json changed \(watched with --watch/)
})

test('dev restarts when a reload fails with an error thrown outside the changed files (a global registry)', async (t) => {
  const tree = devApp({
    'node_modules/metrics/index.js':
      'const names = new Set()\nexports.counter = (name) => {\n  if (names.has(name)) throw new Error(`A metric with the name ${name} has already been registered.`)\n  names.add(name)\n  return name\n}\n',
    'routes/a.js': "const metric = require('metrics').counter('hits')\nmodule.exports = () => 'm1'\n",
  })
  const dev = await running(t, tree)
  const first = dev.listening()
  fs.writeFileSync(tree.file('routes/a.js'), "const metric = require('metrics').counter('hits')\nmodule.exports = () => 'm2'\n")
  const second = await dev.waitStart(2)
  assert.notEqual(second.pid, first.pid)
  assert.match(dev.out.stderr, /restarting: reloading routes\/a\.js failed with an error thrown in node_modules\/metrics\/index\.js, outside the changed files/)
  assert.equal(await dev.answer('/a', /^m2 /), `m2 ${second.pid}`)
})

test('dev: a reload whose error is in the changed file keeps the old code and does not restart', async (t) => {
  const tree = devApp()
  const dev = await running(t, tree)
  const { pid } = dev.listening()
  fs.writeFileSync(tree.file('routes/a.js'), "module.exports = () => 'a2'\nnotDefined()\n")
  await dev.until((o) => /reload of routes\/a\.js failed/.test(o.stderr), 'the failure')
  assert.match(dev.out.stderr, /reload of routes\/a\.js failed at .*routes\/a\.js:2; the previous version keeps running/)
  assert.equal(await get(dev.listening().port, '/a'), `a1 ${pid}`)
  fs.writeFileSync(tree.file('routes/a.js'), "module.exports = () => 'a3'\n")
  assert.equal(await dev.answer('/a', /^a3 /), `a3 ${pid}`)
  assert.equal(dev.starts(), 1)
})

test('dev: a crashed program restarts at the next change', async (t) => {
  const tree = devApp({ 'routes/b.js': "throw new Error('broken at startup')\n" })
  const dev = startDev(tree.dir)
  t.after(() => dev.stop('SIGTERM'))
  await dev.until((o) => /crashed \(exit code 1\); waiting for a change to restart/.test(o.stderr), 'the crash')
  assert.equal(dev.starts(), 0)
  // The file that threw was never cached; the supervisor watches it anyway.
  fs.writeFileSync(tree.file('routes/b.js'), "module.exports = () => 'b2'\n")
  const started = await dev.waitStart(1)
  assert.equal(await dev.answer('/b', /^b2 /), `b2 ${started.pid}`)
})

test('dev: rs + Enter restarts; other input goes to the program', async (t) => {
  const tree = devApp({
    'server.js':
      "const http = require('node:http')\nconst router = require('./router')\n" +
      "process.stdin.on('data', (d) => console.log(`stdin: ${String(d).trim()}`))\n" +
      'const server = http.createServer((req, res) => router.handle(req, res))\n' +
      "server.listen(0, '127.0.0.1', () => console.log(`listening ${server.address().port} pid ${process.pid}`))\n",
  })
  const dev = await running(t, tree)
  const first = dev.listening()
  dev.child.stdin.write('hello\n')
  await dev.until((o) => /stdin: hello/.test(o.stdout), 'the passed-on line')
  dev.child.stdin.write('rs\n')
  const second = await dev.waitStart(2)
  assert.notEqual(second.pid, first.pid)
  assert.match(dev.out.stderr, /restarting: rs/)
  assert.doesNotMatch(dev.out.stdout, /stdin: rs/)
})

test('dev --no-restart prints why a restart would be needed, and keeps the process', async (t) => {
  const tree = devApp()
  const dev = await running(t, tree, ['server.js', '--no-restart'])
  const { pid } = dev.listening()
  fs.appendFileSync(tree.file('server.js'), '// edited\n')
  await dev.until((o) => /a restart is needed/.test(o.stderr), 'the notice')
  assert.match(dev.out.stderr, /a restart is needed to apply this change: the entry server\.js changed\. --no-restart: not restarting/)
  await sleep(200)
  assert.equal(dev.starts(), 1)
  assert.equal(await get(dev.listening().port, '/a'), `a1 ${pid}`)
})

for (const signal of ['SIGINT', 'SIGTERM']) {
  test(`dev: ${signal} goes to the program; the command exits 0`, async (t) => {
    const tree = devApp({
      'server.js':
        "const http = require('node:http')\nconst router = require('./router')\n" +
        `process.on('${signal}', () => { console.log('got ${signal}'); process.exit(0) })\n` +
        'const server = http.createServer((req, res) => router.handle(req, res))\n' +
        "server.listen(0, '127.0.0.1', () => console.log(`listening ${server.address().port} pid ${process.pid}`))\n",
    })
    const dev = await running(t, tree)
    const { pid } = dev.listening()
    const result = await dev.stop(signal)
    assert.deepEqual(result, { code: 0, signal: null })
    assert.match(dev.out.stdout, new RegExp(`got ${signal}`))
    assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, 'the program is gone')
  })
}

test('dev: usage errors exit 2', () => {
  const tree = devApp()
  for (const [args, message] of [
    [[], /missing <entry>/],
    [['nope.js'], /cannot find the entry 'nope\.js'/],
    [['server.js', '--delya', '5'], /Unknown option '--delya'/],
    [['server.js', '--delay', 'soon'], /--delay must be a whole number/],
    [['server.js', 'extra'], /arguments for the entry go after --/],
  ]) {
    const result = spawnSync(process.execPath, [CLI, 'dev', ...args], { cwd: tree.dir, encoding: 'utf8' })
    assert.equal(result.status, 2, `${args.join(' ')}: ${result.stderr}`)
    assert.match(result.stderr, message)
  }
  const help = spawnSync(process.execPath, [CLI, 'dev', '--help'], { encoding: 'utf8' })
  assert.equal(help.status, 0)
  assert.match(help.stdout, /^Usage: uncache-tree dev <entry>/)
})

test('dev: arguments after -- go to the entry', async (t) => {
  const tree = devApp({ 'args.js': 'console.log(`args ${JSON.stringify(process.argv.slice(2))}`)\nsetInterval(() => {}, 1000)\n' })
  const dev = startDev(tree.dir, ['args.js', '--', '--port', '3000'])
  t.after(() => dev.stop('SIGTERM'))
  await dev.until((o) => /args /.test(o.stdout), 'the entry output')
  assert.match(dev.out.stdout, /args \["--port","3000"\]/)
})

test('dev: a template tied with hot.watchFile reloads its module in place', async (t) => {
  const tree = devApp({
    'routes/a.js': `const fs = require('node:fs')\nconst { hot } = require(${PKG})\nconst text = fs.readFileSync(hot(module).watchFile('./a.txt'), 'utf8').trim()\nmodule.exports = () => text\n`,
    'routes/a.txt': 'T1\n',
  })
  const dev = await running(t, tree)
  const { pid } = dev.listening()
  assert.equal(await dev.answer('/a', /^T1 /), `T1 ${pid}`)
  fs.writeFileSync(tree.file('routes/a.txt'), 'T2\n')
  assert.equal(await dev.answer('/a', /^T2 /), `T2 ${pid}`)
  assert.equal(dev.starts(), 1)
})

test('dev leak hints: a count that grows by the same amount over three reloads prints one warning', async (t) => {
  const tree = devApp({
    'routes/a.js': "setInterval(() => {}, 60000)\nprocess.on('SIGUSR2', () => {})\nmodule.exports = () => 'v0'\n",
  })
  const dev = await running(t, tree)
  for (let v = 1; v <= 4; v++) {
    fs.writeFileSync(tree.file('routes/a.js'), `setInterval(() => {}, 60000)\nprocess.on('SIGUSR2', () => {})\nmodule.exports = () => 'v${v}'\n`)
    await dev.answer('/a', new RegExp(`^v${v} `))
    await sleep(300) // the counts are taken once the reload has settled
  }
  const leaks = dev.out.stderr.split('\n').filter((line) => line.includes('leak:'))
  assert.equal(leaks.length, 2, dev.out.stderr)
  const timer = leaks.find((line) => /timer/.test(line))
  assert.match(timer, /each of the last 3 reloads added 1 timer \(\d+ now\), after reloading routes\/a\.js: a dispose handler is missing\. Fix: hot\(module\)\.dispose\(\(\) => clearInterval\(timer\)\)/)
  const listener = leaks.find((line) => /SIGUSR2/.test(line))
  assert.match(listener, /added 1 process 'SIGUSR2' listener .*process\.off\('SIGUSR2', handler\)/)
})

test('dev leak hints: a route that disposes what it opens gets none', async (t) => {
  const tree = devApp()
  const source = (v) =>
    `const { hot } = require(${PKG})\nconst timer = setInterval(() => {}, 60000)\nhot(module).dispose(() => clearInterval(timer))\nmodule.exports = () => 'v${v}'\n`
  fs.writeFileSync(tree.file('routes/a.js'), source(0))
  const dev = await running(t, tree)
  for (let v = 1; v <= 4; v++) {
    fs.writeFileSync(tree.file('routes/a.js'), source(v))
    await dev.answer('/a', new RegExp(`^v${v} `))
    await sleep(300)
  }
  assert.doesNotMatch(dev.out.stderr, /leak:/)
})
