#!/usr/bin/env node
'use strict'
// `npm run bench:dev`: how long from saving a route to the first HTTP response that carries the
// new code, under `uncache-tree dev`, `node --watch` and nodemon, side by side in one run, for
//   (a) an Express app of about 900 modules that loads a real SDK (@aws-sdk/client-s3), and
//   (b) the 30k-module generated graph (benchmark/generate-graph.js) behind the same HTTP entry;
// then, under `uncache-tree dev` on (a), reloads and broken saves under continuous load: every
// request must succeed, and none that starts after a reload has been seen may get the old code.
//
//   node benchmark/dev/run.js [--edits N] [--apps express,graph] [--tools dev,node-watch,nodemon]
//                             [--reloads N] [--broken N] [--no-load] [--dev-delay MS]
//
// The heavy packages (express, @aws-sdk/client-s3, nodemon) live in benchmark/dev/package.json and
// are installed here on first use. The apps are generated into benchmark/dev/.apps (kept between
// runs). Every tool runs with its defaults. Each edit rewrites routes/r0.js with a new version
// string; the client asks GET /r/r0 in a tight loop (2 ms apart, a new connection each time, so a
// restarted server is reached as soon as it listens) and the time is taken when the answer carries
// the new version. Medians of the edits after one warm-up edit; the servers listen on 127.0.0.1.
const { spawn, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const http = require('node:http')
const net = require('node:net')
const path = require('node:path')
const { performance } = require('node:perf_hooks')

const HERE = __dirname
const ROOT = path.join(HERE, '..', '..')
const APPS = path.join(HERE, '.apps')
const CLI = path.join(ROOT, 'bin', 'uncache-tree.js')
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

function parseArgs(argv) {
  const opts = { edits: 10, apps: ['express', 'graph'], tools: ['dev', 'node-watch', 'nodemon'], reloads: 100, broken: 10, load: true }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--edits') opts.edits = Number(argv[++i])
    else if (a === '--apps') opts.apps = argv[++i].split(',')
    else if (a === '--tools') opts.tools = argv[++i].split(',')
    else if (a === '--reloads') opts.reloads = Number(argv[++i])
    else if (a === '--broken') opts.broken = Number(argv[++i])
    else if (a === '--no-load') opts.load = false
    else if (a === '--dev-delay') opts.devDelay = Number(argv[++i])
    else throw new Error(`unknown argument ${a}`)
  }
  return opts
}

function ensureDependencies() {
  if (fs.existsSync(path.join(HERE, 'node_modules', '@aws-sdk', 'client-s3')) && fs.existsSync(path.join(HERE, 'node_modules', 'nodemon'))) return
  console.log('installing benchmark/dev dependencies (express, @aws-sdk/client-s3, nodemon)…')
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
  const r = spawnSync(npm, ['install', '--no-audit', '--no-fund'], { cwd: HERE, stdio: 'inherit' })
  if (r.status !== 0) throw new Error('npm install in benchmark/dev failed')
}

function write(dir, rel, text) {
  const file = path.join(dir, rel)
  fs.mkdirSync(path.dirname(file), { recursive: true })
  fs.writeFileSync(file, text)
}

const ROUTES = 20
// An edit not served within this long counts as never served (and ends that tool's cell).
const EDIT_TIMEOUT_MS = 60_000

/** The route that is edited, at `version`. */
const routeSource = (version) =>
  `const services = require('../services')\nmodule.exports = (req, res) => res.send(\`route r0 v${version} \${services.count}\`)\n`

/**
 * An Express app: server.js (listens on PORT, looks the router up on every request and accepts
 * its updates), router.js (accepts its routes), ROUTES routes, and `extra` generated modules
 * (services, models, utils) that the routes require; `heavy` is what load.js requires first.
 */
function writeApp(dir, { extra, heavy }) {
  fs.rmSync(dir, { recursive: true, force: true })
  write(
    dir,
    'server.js',
    "const express = require('express')\nconst { hot } = require('uncache-tree')\nrequire('./load')\n" +
      "let router = require('./router')\nhot(module).accept('./router', () => { router = require('./router') })\n" +
      'const app = express()\napp.use((req, res, next) => router(req, res, next))\n' +
      "app.listen(Number(process.env.PORT), '127.0.0.1', () => console.log(`ready ${Object.keys(require.cache).length} modules`))\n",
  )
  write(dir, 'load.js', heavy)
  const routeNames = Array.from({ length: ROUTES }, (_, i) => `r${i}`)
  write(
    dir,
    'router.js',
    "const express = require('express')\nconst { hot } = require('uncache-tree')\nconst handlers = {}\n" +
      routeNames.map((r) => `handlers.${r} = require('./routes/${r}')`).join('\n') +
      `\nhot(module).accept([${routeNames.map((r) => `'./routes/${r}'`).join(', ')}], (ids) => {\n` +
      "  for (const id of ids) handlers[require('node:path').basename(id, '.js')] = require(id)\n})\n" +
      "const router = express.Router()\nrouter.get('/r/:name', (req, res) => handlers[req.params.name](req, res))\nmodule.exports = router\n",
  )
  write(dir, 'routes/r0.js', routeSource(0))
  for (let i = 1; i < ROUTES; i++) write(dir, `routes/r${i}.js`, `const m = require('../services/s${i % 10}')\nmodule.exports = (req, res) => res.send(\`route r${i} \${m.id}\`)\n`)
  // services/index.js requires every generated module through ten service files.
  const per = Math.ceil(extra / 10)
  const services = []
  for (let s = 0; s < 10; s++) {
    const mods = []
    for (let k = 0; k < per && s * per + k < extra; k++) {
      const n = s * per + k
      const kind = ['models', 'lib', 'handlers'][n % 3]
      write(dir, `${kind}/m${n}.js`, `'use strict'\nconst data = { id: ${n}, name: 'module ${n}', tags: ['a', 'b', 'c'] }\nmodule.exports = { ...data, describe: () => \`\${data.name} (\${data.tags.join(', ')})\` }\n`)
      mods.push(`require('../${kind}/m${n}')`)
    }
    write(dir, `services/s${s}.js`, `const mods = [${mods.join(', ')}]\nmodule.exports = { id: 's${s}', count: mods.length }\n`)
    services.push(`require('./s${s}').count`)
  }
  write(dir, 'services/index.js', `module.exports = { count: ${services.join(' + ')} }\n`)
  fs.mkdirSync(path.join(dir, 'node_modules'))
  fs.symlinkSync(ROOT, path.join(dir, 'node_modules', 'uncache-tree'))
  fs.symlinkSync(path.join(HERE, 'node_modules', 'express'), path.join(dir, 'node_modules', 'express'))
  fs.symlinkSync(path.join(HERE, 'node_modules', '@aws-sdk'), path.join(dir, 'node_modules', '@aws-sdk'))
  write(dir, 'package.json', '{ "name": "bench-dev-app", "private": true }\n')
}

function buildApps(which) {
  const apps = []
  if (which.includes('express')) {
    const dir = path.join(APPS, 'express')
    writeApp(dir, {
      extra: 720,
      heavy:
        "const { S3Client, ListBucketsCommand } = require('@aws-sdk/client-s3')\n" +
        "module.exports = new S3Client({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } })\n" +
        'module.exports.list = () => module.exports.send(new ListBucketsCommand({}))\n',
    })
    apps.push({ name: 'express + @aws-sdk/client-s3', dir })
  }
  if (which.includes('graph')) {
    const dir = path.join(APPS, 'graph-30000')
    writeApp(dir, { extra: 100, heavy: "module.exports = require('./graph/index.js')\n" })
    const { generateGraph } = require('../generate-graph.js')
    // Generated once into benchmark/.fixtures, then copied in (nodemon and node --watch watch the app).
    const fixture = generateGraph(30000)
    fs.cpSync(fixture.dir, path.join(dir, 'graph'), { recursive: true })
    apps.push({ name: 'generated graph, 30k modules', dir })
  }
  return apps
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
    server.on('error', reject)
  })
}

// The command line's options, for the tools' argv (--dev-delay).
let runOptions = {}

const TOOLS = {
  dev: {
    label: 'uncache-tree dev',
    argv: (o) => [process.execPath, CLI, 'dev', 'server.js', ...(o.devDelay === undefined ? [] : ['--delay', String(o.devDelay)])],
  },
  'node-watch': { label: 'node --watch', argv: () => [process.execPath, '--watch', 'server.js'] },
  nodemon: { label: 'nodemon', argv: () => [process.execPath, path.join(HERE, 'node_modules', 'nodemon', 'bin', 'nodemon.js'), 'server.js'] },
}

function request(port, route, agent) {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: route, agent: agent ?? false }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c) => (body += c))
      res.on('end', () => resolve({ status: res.statusCode, body }))
      res.on('error', (error) => resolve({ error }))
    })
    req.on('error', (error) => resolve({ error }))
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')))
  })
}

/** Starts `tool` in `dir`; resolves once GET /r/r0 answers. */
async function startTool(tool, dir, port) {
  const [cmd, ...args] = TOOLS[tool].argv(runOptions)
  const child = spawn(cmd, args, {
    cwd: dir,
    env: { ...process.env, PORT: String(port), AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE: '1', NODE_NO_WARNINGS: '1' },
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
  })
  let output = ''
  child.stdout.on('data', (c) => (output += c))
  child.stderr.on('data', (c) => (output += c))
  const deadline = Date.now() + 180_000
  for (;;) {
    const r = await request(port, '/r/r0')
    if (r.status === 200) break
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`${tool} did not start:\n${output}`)
    await sleep(50)
  }
  const modules = Number(/ready (\d+) modules/.exec(output)?.[1])
  return { child, modules, output: () => output }
}

function stopTool(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve()
    const timer = setTimeout(() => process.kill(-child.pid, 'SIGKILL'), 10_000)
    child.once('exit', () => {
      clearTimeout(timer)
      resolve()
    })
    try {
      process.kill(-child.pid, 'SIGTERM')
    } catch {
      resolve()
    }
  })
}

/** Time from writing version `v` of routes/r0.js to the first answer that carries it. */
async function timeEdit(dir, port, v) {
  const file = path.join(dir, 'routes', 'r0.js')
  const marker = `route r0 v${v} `
  fs.writeFileSync(file, routeSource(v))
  const t0 = performance.now()
  const deadline = t0 + EDIT_TIMEOUT_MS
  for (;;) {
    const r = await request(port, '/r/r0')
    if (r.status === 200 && r.body.startsWith(marker)) return performance.now() - t0
    if (performance.now() > deadline) return undefined
    await sleep(2)
  }
}

async function measureEdits(app, tool, edits) {
  fs.writeFileSync(path.join(app.dir, 'routes', 'r0.js'), routeSource(0))
  const port = await freePort()
  const started = await startTool(tool, app.dir, port)
  const times = []
  try {
    for (let v = 1; v <= edits + 1; v++) {
      await sleep(500) // the save of a person, not a script: watchers settle
      const ms = await timeEdit(app.dir, port, v)
      // A tool that never serves the edit is reported as such, not waited for ten times.
      if (ms === undefined) return { missed: v, modules: started.modules, output: started.output().slice(-2000) }
      if (v > 1) times.push(ms) // the first edit warms up
    }
  } finally {
    await stopTool(started.child)
  }
  return { median: median(times), min: Math.min(...times), max: Math.max(...times), modules: started.modules }
}

const cellText = (c) => (c.missed === undefined ? c.median.toFixed(1) : `no reload in ${EDIT_TIMEOUT_MS / 1000} s`)

/**
 * Under `uncache-tree dev`: `reloads` edits of routes/r0.js and `broken` broken saves (half syntax
 * errors, half throws at load), while LOOPS clients request /r/r0 without pause over keep-alive.
 * Counts failed requests and answers with an older version to requests that started after the
 * newer version had been seen.
 */
async function underLoad(app, reloads, broken) {
  const LOOPS = 4
  fs.writeFileSync(path.join(app.dir, 'routes', 'r0.js'), routeSource(0))
  const port = await freePort()
  const started = await startTool('dev', app.dir, port)
  const agent = new http.Agent({ keepAlive: true, maxSockets: LOOPS })
  let seen = 0 // the newest version an answer carried
  const seenAt = new Map([[0, 0]]) // version -> when its first answer arrived
  let requests = 0
  let failed = 0
  let oldAfterReload = 0
  let stop = false
  const deadline = Date.now() + 15 * 60_000 // bounded whatever happens
  async function loop() {
    while (!stop && Date.now() < deadline) {
      const startedAt = performance.now()
      const newestAtStart = seen
      const r = await request(port, '/r/r0', agent)
      requests++
      if (r.error || r.status !== 200) {
        failed++
        continue
      }
      const v = Number(/ v(\d+) /.exec(r.body)?.[1])
      if (v < newestAtStart && seenAt.get(newestAtStart) <= startedAt) oldAfterReload++
      if (v > seen) {
        seen = v
        seenAt.set(v, performance.now())
      }
    }
  }
  const loops = Array.from({ length: LOOPS }, loop)
  const brokenEvery = broken > 0 ? Math.floor(reloads / broken) : Infinity
  let brokenDone = 0
  const file = path.join(app.dir, 'routes', 'r0.js')
  const waitFor = async (v) => {
    while (seen < v) {
      if (Date.now() > deadline) throw new Error(`version ${v} never served under load`)
      await sleep(1)
    }
  }
  try {
    for (let v = 1; v <= reloads; v++) {
      if (brokenDone < broken && v % brokenEvery === 0) {
        const syntax = brokenDone % 2 === 0
        fs.writeFileSync(file, syntax ? `${routeSource(v)}\nconst = oops\n` : `throw new Error('broken save ${brokenDone}')\n${routeSource(v)}`)
        brokenDone++
        await sleep(300) // the previous version must keep answering meanwhile
        if (seen >= v) throw new Error('a broken save was served')
      }
      fs.writeFileSync(file, routeSource(v))
      await waitFor(v)
      await sleep(60)
    }
  } finally {
    stop = true
    await Promise.all(loops)
    agent.destroy()
    await stopTool(started.child)
  }
  const restarts = (started.output().match(/restarting:/g) ?? []).length
  return { requests, failed, oldAfterReload, reloads, broken: brokenDone, restarts, modules: started.modules }
}

async function main() {
  const opts = parseArgs(process.argv.slice(2))
  runOptions = opts
  ensureDependencies()
  const apps = buildApps(opts.apps)
  const delay = opts.devDelay === undefined ? '' : `, uncache-tree dev --delay ${opts.devDelay}`
  console.log(`node ${process.version}, ${opts.edits} edits per cell (after one warm-up), medians in ms${delay}`)
  const results = []
  for (const app of apps) {
    const row = { app, cells: {} }
    for (const tool of opts.tools) {
      row.cells[tool] = await measureEdits(app, tool, opts.edits)
      const c = row.cells[tool]
      if (c.missed !== undefined) {
        console.log(`  ${app.name} (${c.modules} modules), ${TOOLS[tool].label}: edit ${c.missed} was not served within ${EDIT_TIMEOUT_MS / 1000} s; its last output:\n${c.output.replace(/^/gm, '    | ')}`)
      } else {
        console.log(`  ${app.name} (${c.modules} modules), ${TOOLS[tool].label}: median ${c.median.toFixed(1)} ms (min ${c.min.toFixed(1)}, max ${c.max.toFixed(1)})`)
      }
    }
    results.push(row)
  }
  console.log('\nsave → first response with the new code (median ms)')
  const header = ['app', 'modules', ...opts.tools.map((t) => TOOLS[t].label)]
  if (opts.tools.includes('dev')) for (const t of opts.tools) if (t !== 'dev') header.push(`${TOOLS[t].label} / dev`)
  console.log(`| ${header.join(' | ')} |\n|${header.map(() => ' --- ').join('|')}|`)
  for (const { app, cells } of results) {
    const first = Object.values(cells)[0]
    const cols = [app.name, String(first.modules), ...opts.tools.map((t) => cellText(cells[t]))]
    const ratio = (t) => (cells[t].missed !== undefined || cells.dev.missed !== undefined ? '–' : `${(cells[t].median / cells.dev.median).toFixed(1)}×`)
    if (cells.dev) for (const t of opts.tools) if (t !== 'dev') cols.push(ratio(t))
    console.log(`| ${cols.join(' | ')} |`)
  }
  if (results.length === 2 && results[0].cells.dev?.median && results[1].cells.dev?.median) {
    const [a, b] = results
    console.log(`\nuncache-tree dev, ${b.app.name} / ${a.app.name}: ${(b.cells.dev.median / a.cells.dev.median).toFixed(2)}× ` + `for ${(Object.values(b.cells)[0].modules / Object.values(a.cells)[0].modules).toFixed(0)}× the modules`)
  }
  if (opts.load && apps.length > 0) {
    const app = apps[0]
    const r = await underLoad(app, opts.reloads, opts.broken)
    console.log(
      `\nunder load (${app.name}, uncache-tree dev, 4 clients without pause): ${r.reloads} reloads and ${r.broken} broken saves, ` +
        `${r.requests} requests, ${r.failed} failed, ${r.oldAfterReload} old-code answers after a reload was seen, ${r.restarts} restarts`,
    )
  }
}

main().catch((error) => {
  console.error(error)
  process.exitCode = 1
})
