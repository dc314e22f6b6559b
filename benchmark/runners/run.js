#!/usr/bin/env node
'use strict'
// `npm run bench:runners`: one generated suite (generate.js) run whole, as a user runs it, by
// each test runner setup, timed as whole processes side by side; then a watch re-run.
//
//   node benchmark/runners/run.js [--runs N] [--only NAME,NAME] [--files N] [--tests N] [--json FILE]
//
// - The heavy packages (benchmark/runners/package.json) are installed here on first use, so the
//   repository's own `npm install` stays light. The runners are the repository's devDependencies.
// - Every configuration runs once untimed (warm-up: Jest's transform cache, the OS file cache),
//   then the configurations take turns, round after round (A B C … A B C …), so that a machine
//   that slows down mid-run slows every configuration alike. Each run's wall time and peak RSS
//   (of the largest single process, from /usr/bin/time) are recorded; the table gives medians
//   and each median's ratio to Jest's and to `node --test`'s.
// - Test timeouts are raised to 2 minutes everywhere: on a loaded machine, a first test that loads
//   heavy packages can exceed Mocha's 2 s or Jest's and Vitest's 5 s defaults.
// - Every configuration must pass every test, except the floor (one process, no isolation), which
//   must fail: a run that does not is reported as an error, not timed.
// - Watch: `uncache-tree test --watch` on the suite; a test file is touched N times, and the time
//   from the write to the "re-ran 1 file" line is recorded (median).
// Uses the Node that runs this script (`PATH=…/node22/bin:$PATH npm run bench:runners` for 22).
const { spawn, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { generate } = require('./generate.js')

const HERE = __dirname
const REPO = path.join(HERE, '..', '..')
const SUITE = path.join(HERE, 'suite')
const BIN = {
  jest: path.join(REPO, 'node_modules', 'jest', 'bin', 'jest.js'),
  vitest: path.join(REPO, 'node_modules', 'vitest', 'vitest.mjs'),
  mocha: path.join(REPO, 'node_modules', 'mocha', 'bin', 'mocha.js'),
  uncacheTree: path.join(REPO, 'bin', 'uncache-tree.js'),
}
const NODE = process.execPath

/** name → { args, passed(output, status) } — every one a whole-process run from the suite's folder. */
const CONFIGURATIONS = {
  jest: { label: 'Jest (default, in band)', args: [BIN.jest, '--ci', '--runInBand', '--testTimeout=120000'], counts: /Tests:\s+(?:(\d+) failed, )?(\d+) passed, (\d+) total/ },
  'vitest-forks': { label: 'Vitest forks (isolate)', args: [BIN.vitest, 'run', '--pool=forks', '--testTimeout=120000', '--config', 'vitest.isolate.config.mjs'], counts: /Tests\s+(?:(\d+) failed \| )?(\d+) passed \((\d+)\)/ },
  // The files one by one: `node --test <folder>` takes the folder for a file on Node 22 and 24.
  'node-test': { label: '`node --test` (a process per file)', args: () => ['--test', '--test-reporter=tap', ...suiteFiles('nodetest')], counts: 'tap' },
  'ut-file': { label: '`uncache-tree test` per file', args: [BIN.uncacheTree, 'test', '--require', './reset.cjs', '--test-reporter', 'tap', 'nodetest/'], counts: 'tap' },
  'ut-test': { label: '`uncache-tree test --per test`', args: [BIN.uncacheTree, 'test', '--per', 'test', '--require', './reset.cjs', '--test-reporter', 'tap', 'nodetest/'], counts: 'tap' },
  'mocha-plugin': { label: 'Mocha + uncache-tree/mocha (per file)', args: [BIN.mocha, '--timeout', '120000', '--require', './mocha-hooks.cjs', 'mocha/'], counts: /(\d+) passing(?:[\s\S]*?(\d+) failing)?/ },
  'vitest-no-isolate': { label: 'Vitest forks `--no-isolate` + uncache-tree/vitest', args: [BIN.vitest, 'run', '--pool=forks', '--no-isolate', '--testTimeout=120000'], counts: /Tests\s+(?:(\d+) failed \| )?(\d+) passed \((\d+)\)/ },
  floor: { label: 'one process, no isolation (the floor; must fail)', args: ['--test-reporter=tap', 'no-isolation.js'], counts: 'tap', mustFail: true },
}

const suiteFiles = (folder) => fs.readdirSync(path.join(SUITE, folder)).sort().map((f) => `${folder}/${f}`)

function parseArgs(argv) {
  const opts = { runs: 3, only: Object.keys(CONFIGURATIONS), files: 24, tests: 8, json: undefined, watchRuns: 5 }
  for (let i = 0; i < argv.length; i++) {
    const value = () => argv[++i]
    if (argv[i] === '--runs') opts.runs = Number(value())
    else if (argv[i] === '--only') opts.only = value().split(',')
    else if (argv[i] === '--files') opts.files = Number(value())
    else if (argv[i] === '--tests') opts.tests = Number(value())
    else if (argv[i] === '--json') opts.json = value()
    else if (argv[i] === '--watch-runs') opts.watchRuns = Number(value())
    else throw new Error(`unknown argument ${argv[i]}`)
  }
  for (const name of opts.only) if (!CONFIGURATIONS[name]) throw new Error(`unknown configuration ${name}: ${Object.keys(CONFIGURATIONS).join(', ')}`)
  return opts
}

function installPackages() {
  const marker = path.join(HERE, 'node_modules', '.package-lock.json')
  if (fs.existsSync(marker)) return
  console.log('installing the heavy packages into benchmark/runners/node_modules (once)…')
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
  const result = spawnSync(npm, ['install', '--no-audit', '--no-fund'], { cwd: HERE, stdio: 'inherit' })
  if (result.status !== 0) throw new Error('npm install in benchmark/runners failed')
}

const env = () => {
  const { NODE_TEST_CONTEXT, NODE_OPTIONS, ...rest } = process.env
  return { ...rest, NO_COLOR: '1', FORCE_COLOR: '0', NODE_NO_WARNINGS: '1', CI: '1' }
}

const TIME = fs.existsSync('/usr/bin/time') ? '/usr/bin/time' : null

/** One whole-process run: `{ seconds, rssMB, passed, failed, total, status }`. */
function runOnce(name) {
  const config = CONFIGURATIONS[name]
  const args = typeof config.args === 'function' ? config.args() : config.args
  const command = TIME === null ? [NODE, ...args] : [TIME, '-f', 'UNCACHE_TREE_BENCH %e %M %U %S', NODE, ...args]
  const started = performance.now()
  const result = spawnSync(command[0], command.slice(1), { cwd: SUITE, env: env(), encoding: 'utf8', maxBuffer: 64 << 20, timeout: 600_000 })
  const output = `${result.stdout}\n${result.stderr}`
  const measured = output.match(/UNCACHE_TREE_BENCH ([\d.]+) (\d+) ([\d.]+) ([\d.]+)/)
  const seconds = measured ? Number(measured[1]) : (performance.now() - started) / 1000
  const rssMB = measured ? Number(measured[2]) / 1024 : NaN
  // CPU time of the whole process tree (user + system): on a shared machine, less noisy than wall.
  const cpu = measured ? Number(measured[3]) + Number(measured[4]) : NaN
  let passed
  let failed
  if (config.counts === 'tap') {
    passed = Number(output.match(/^# pass (\d+)$/m)?.[1])
    failed = Number(output.match(/^# fail (\d+)$/m)?.[1])
  } else {
    const m = output.match(config.counts)
    if (name === 'mocha-plugin') {
      passed = Number(m?.[1])
      failed = Number(m?.[2] ?? 0)
    } else {
      failed = Number(m?.[1] ?? 0)
      passed = Number(m?.[2])
    }
  }
  const status = result.status
  return { seconds, rssMB, cpu, passed, failed, status, output }
}

function check(name, run, tests) {
  const config = CONFIGURATIONS[name]
  if (config.mustFail) {
    if (run.status === 0 || !(run.failed > 0)) throw new Error(`${name} passed, but a run without isolation must fail:\n${run.output.slice(-2000)}`)
    return
  }
  if (run.status !== 0 || run.passed !== tests || run.failed !== 0) {
    throw new Error(`${name}: expected ${tests} passing tests, got ${run.passed} passed, ${run.failed} failed (exit ${run.status}):\n${run.output.slice(-3000)}`)
  }
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/** Milliseconds from a write to a test file to the watcher's "re-ran 1 file" line, per run. */
async function watchReruns(runs) {
  const child = spawn(NODE, [BIN.uncacheTree, 'test', '--watch', '--require', './reset.cjs', '--test-reporter', 'dot', 'nodetest/'], { cwd: SUITE, env: env() })
  let stderr = ''
  const waitFor = (pattern, from) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`watch: timed out waiting for ${pattern}:\n${stderr}`)), 120_000)
      const check = () => {
        const match = stderr.slice(from).match(pattern)
        if (match) {
          clearTimeout(timer)
          child.stderr.off('data', check)
          resolve({ match, at: performance.now() })
        }
      }
      child.stderr.on('data', check)
      check()
    })
  child.stderr.setEncoding('utf8')
  child.stderr.on('data', (chunk) => (stderr += chunk))
  child.stdout.resume()
  const times = []
  const reported = []
  try {
    await waitFor(/watching \d+ files/, 0)
    const file = path.join(SUITE, 'nodetest', 'file03.test.js')
    for (let i = 0; i < runs; i++) {
      // Let the standby process load its packages, as it does while a person edits.
      await new Promise((resolve) => setTimeout(resolve, 10_000))
      const from = stderr.length
      const wrote = performance.now()
      fs.appendFileSync(file, `// edit ${i}\n`)
      const { match, at } = await waitFor(/re-ran 1 file after a change to \S+ in (\d+) ms: (\w+)/, from)
      if (match[2] !== 'passed') throw new Error(`watch re-run failed:\n${stderr}`)
      times.push(at - wrote)
      reported.push(Number(match[1]))
    }
  } finally {
    child.kill('SIGINT')
  }
  return { times, reported }
}

async function main() {
  const opts = parseArgs(process.argv.slice(2))
  installPackages()
  const shape = generate(SUITE, REPO, { files: opts.files, testsPerFile: opts.tests })
  fs.writeFileSync(path.join(SUITE, 'vitest.isolate.config.mjs'), "export default { test: { include: ['vitest/*.test.mjs'] } }\n")
  console.log(`Node ${process.version}, ${shape.files} test files, ${shape.tests} tests, ${shape.appModules} app modules; ${opts.runs} timed runs of each after one warm-up, in turns`)
  const results = Object.fromEntries(opts.only.map((name) => [name, []]))
  for (let round = 0; round <= opts.runs; round++) {
    for (const name of opts.only) {
      const run = runOnce(name)
      check(name, run, shape.tests)
      process.stdout.write(`${round === 0 ? 'warm-up' : `run ${round}`} ${name}: ${run.seconds.toFixed(2)} s, CPU ${run.cpu.toFixed(2)} s, ${run.rssMB.toFixed(0)} MB\n`)
      if (round > 0) results[name].push(run)
    }
  }
  const summary = {}
  for (const name of opts.only) {
    const runs = results[name]
    summary[name] = {
      seconds: median(runs.map((r) => r.seconds)),
      min: Math.min(...runs.map((r) => r.seconds)),
      max: Math.max(...runs.map((r) => r.seconds)),
      cpu: median(runs.map((r) => r.cpu)),
      rssMB: median(runs.map((r) => r.rssMB)),
    }
  }
  const ratio = (name, base, field = 'seconds') => (summary[base] ? `${(summary[name][field] / summary[base][field]).toFixed(2)}×` : '–')
  console.log(`\n| configuration | wall s, median (min–max) | × Jest | × node --test | CPU s | CPU × Jest | peak RSS MB |\n|---|---:|---:|---:|---:|---:|---:|`)
  for (const name of opts.only) {
    const s = summary[name]
    console.log(
      `| ${CONFIGURATIONS[name].label} | ${s.seconds.toFixed(2)} (${s.min.toFixed(2)}–${s.max.toFixed(2)}) | ${ratio(name, 'jest')} | ${ratio(name, 'node-test')} | ` +
        `${s.cpu.toFixed(2)} | ${ratio(name, 'jest', 'cpu')} | ${s.rssMB.toFixed(0)} |`,
    )
  }
  let watch
  if (opts.watchRuns > 0) {
    watch = await watchReruns(opts.watchRuns)
    console.log(`\nwatch: a re-run of one changed test file, write to result line: median ${median(watch.times).toFixed(0)} ms (${watch.times.map((t) => t.toFixed(0)).join(', ')}); the command's own figure (first event to result): median ${median(watch.reported)} ms`)
  }
  if (opts.json) fs.writeFileSync(opts.json, JSON.stringify({ node: process.version, shape, summary, watch }, null, 2))
}

main().catch((error) => {
  console.error(error.stack ?? error)
  process.exitCode = 1
})
