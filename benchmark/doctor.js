#!/usr/bin/env node
'use strict'
// `npm run bench:doctor`: what the doctor costs on a real-sized app, and its three-snapshot diff
// against memlab's findLeaks, in one run.
//
//   node benchmark/doctor.js [--cycles N] [--modules N] [--skip-memlab] [--skip-examples]
//
// 1. An Express app of about 900 modules (express and its dependencies, kept loaded as a host
//    keeps node_modules, plus --modules generated route files, default 850) in
//    benchmark/.fixtures/doctor-app: `clean.js` builds a Router from every route file; `leaky.js`
//    does the same and adds a `process` listener that holds the router, so every reload keeps a
//    whole generation of the app. `uncache-tree doctor` runs on each (--cycles, default 20), in its
//    own process; the table gives the time per cycle, the doctor process's peak RSS and the last
//    heap it measured, and their ratio (the target: peak RSS ≤ 2× the final heap on the leaky app).
// 2. The bundled examples the last release timed (README, "Cost"), 20 cycles each, with the
//    release's wall times beside today's.
// 3. `benchmark/heapsnapshot.js --diff-only`: uncache-tree's HeapSnapshotDiff against memlab's
//    findLeaksBySnapshotFilePaths on the same three ~200 MB snapshots (memlab from
//    benchmark/doctor/package.json, installed on first use with PUPPETEER_SKIP_DOWNLOAD=1).
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const ROOT = path.join(__dirname, '..')
const BIN = path.join(ROOT, 'bin', 'uncache-tree.js')
const APP = path.join(__dirname, '.fixtures', 'doctor-app')
const MEMLAB_DIR = path.join(__dirname, 'doctor')

const args = process.argv.slice(2)
const option = (name, fallback) => {
  const at = args.indexOf(`--${name}`)
  return at === -1 ? fallback : Number(args[at + 1])
}
const CYCLES = option('cycles', 20)
const MODULES = option('modules', 850)

// The last release's figures (README, "Cost" of the doctor: 20 cycles, Node 20, same 2-core VM).
const RELEASE_SECONDS = {
  'timer-buffer': 1.0,
  'emitter-listener': 1.0,
  'timeout-chain': 1.0,
  registry: 1.3,
  'process-listener': 10,
  interval: 23,
  'global-array': 26,
}
const EXAMPLE_ARGS = { 'emitter-listener': ['--keep', 'bus\\.js$'] }

const MB = 1024 * 1024
const mb = (bytes) => `${(bytes / MB).toFixed(0)} MB`

/** The app: route files with a little data each, a clean entry and a leaky one. */
function writeApp() {
  const marker = path.join(APP, `.modules-${MODULES}`)
  if (fs.existsSync(marker)) return
  fs.rmSync(APP, { recursive: true, force: true })
  fs.mkdirSync(path.join(APP, 'routes'), { recursive: true })
  const requires = []
  for (let i = 0; i < MODULES; i++) {
    fs.writeFileSync(
      path.join(APP, 'routes', `r${i}.js`),
      `'use strict'\nconst rows = Array.from({ length: 40 }, (_, j) => ({ id: j, name: 'route ${i} row ' + j }))\n` +
        `module.exports = (router) => router.get('/r${i}', (req, res) => res.json(rows))\n`,
    )
    requires.push(`require('./routes/r${i}.js')(router)`)
  }
  const build = `'use strict'\nconst express = require('express')\nconst router = express.Router()\n${requires.join('\n')}\n`
  fs.writeFileSync(path.join(APP, 'clean.js'), `${build}module.exports = router\n`)
  fs.writeFileSync(path.join(APP, 'leaky.js'), `${build}process.on('SIGUSR2', () => router.stack.length)\nmodule.exports = router\n`)
  fs.writeFileSync(marker, '')
}

/** Runs the doctor CLI; returns its JSON result and the wall time of the whole command. */
function doctor(entry, extra = [], cwd = ROOT) {
  const started = process.hrtime.bigint()
  const run = spawnSync(process.execPath, [BIN, 'doctor', entry, '--json', '--quiet', ...extra], { cwd, encoding: 'utf8', maxBuffer: 512 * MB })
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  let result
  try {
    result = JSON.parse(run.stdout)
  } catch {
    throw new Error(`doctor ${entry} printed no JSON (exit ${run.status}): ${run.stderr.slice(-2000)}`)
  }
  return { result, seconds, code: run.status }
}

function header() {
  const cpus = os.cpus()
  console.log(`Node ${process.version} (${process.platform}-${process.arch}), ${cpus.length} × ${cpus[0]?.model ?? 'cpu'}, load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`)
  console.log('(wall times on a shared machine swing with its load; CPU times and ratios taken side by side hold better)')
}

function appTable() {
  writeApp()
  console.log(`\n### The doctor on an Express app (${MODULES} route modules + express, ${CYCLES} cycles)\n`)
  console.log('| entry | exit | modules reloaded | wall per cycle | CPU per cycle | whole run (wall / CPU) | peak RSS | final heap | peak RSS / final heap |')
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|')
  for (const name of ['clean', 'leaky']) {
    const { result, seconds, code } = doctor(path.join(APP, `${name}.js`), ['--cycles', String(CYCLES)])
    const loaded = result.modules.perCycle
    const { peakRss, finalHeap } = result.memory
    const cpu = result.cpuMs / 1000
    console.log(
      `| ${name}.js | ${code} | ${loaded} | ${(result.durationMs / result.cycles / 1000).toFixed(2)} s | ${(cpu / result.cycles).toFixed(2)} s | ${seconds.toFixed(1)} s / ${cpu.toFixed(1)} s | ${mb(peakRss)} | ${mb(finalHeap)} | ${(peakRss / finalHeap).toFixed(2)}× |`,
    )
  }
}

function examplesTable() {
  console.log('\n### The bundled examples, 20 cycles: the last release (README "Cost") and now\n')
  console.log('The release measured wall time at a load average of about 5; compare the CPU column when this machine is busier.\n')
  console.log('| example | exit | release (wall) | now (wall) | now / release | now (CPU of the doctor process) | peak RSS |')
  console.log('|---|---:|---:|---:|---:|---:|---:|')
  for (const [name, before] of Object.entries(RELEASE_SECONDS)) {
    const { seconds, code, result } = doctor(path.join('examples', 'leaks', name, 'leaky.js'), ['--cycles', '20', ...(EXAMPLE_ARGS[name] ?? [])])
    console.log(`| ${name}/leaky.js | ${code} | ${before.toFixed(1)} s | ${seconds.toFixed(1)} s | ${(seconds / before).toFixed(2)}× | ${(result.cpuMs / 1000).toFixed(1)} s | ${mb(result.memory.peakRss)} |`)
  }
}

function memlabTable() {
  console.log('\n### Three-snapshot diff: uncache-tree against memlab findLeaks (benchmark/heapsnapshot.js --diff-only)\n')
  const run = spawnSync(process.execPath, [path.join(__dirname, 'heapsnapshot.js'), '--diff-only'], {
    stdio: 'inherit',
    env: { ...process.env, UNCACHE_TREE_MEMLAB_DIR: MEMLAB_DIR, PUPPETEER_SKIP_DOWNLOAD: '1' },
  })
  if (run.status !== 0) throw new Error(`benchmark/heapsnapshot.js --diff-only exited ${run.status}`)
}

header()
appTable()
if (!args.includes('--skip-examples')) examplesTable()
if (!args.includes('--skip-memlab')) memlabTable()
