'use strict'
// `npx uncache-tree demo` (`npm run demo` in a clone): a plugin host reloads its plugin thousands
// of times, once with plain `delete require.cache[...]` and once with uncache-tree, in two
// processes side by side. Both report their memory after forced GC as they go; at the end the
// two series are drawn as a chart and compared. Every number printed is measured in this run.
//
//   node examples/plugin-host/demo.js [--reloads 3000] [--every 50] [--table-kib 256]
//
// bin/demo.js (the CLI command) calls its run(argv); the file also runs on its own.
const { fork } = require('node:child_process')
const os = require('node:os')
const path = require('node:path')
const { parseArgs } = require('node:util')
const { lineChart } = require('./chart')

/** The demo's options from command-line words; a RangeError in those words when one is bad. */
function parseDemoArgs(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      reloads: { type: 'string', default: '3000' },
      every: { type: 'string', default: '50' },
      'table-kib': { type: 'string', default: '256' },
    },
  })
  const options = { reloads: Number(values.reloads), every: Number(values.every), tableKib: Number(values['table-kib']) }
  for (const [name, value, given] of [
    ['--reloads', options.reloads, values.reloads],
    ['--every', options.every, values.every],
    ['--table-kib', options.tableKib, values['table-kib']],
  ]) {
    if (!Number.isInteger(value) || value <= 0) throw new RangeError(`${name} must be a positive integer, got '${given}'`)
  }
  return options
}

let reloads
let every
let tableKib
const MB = 1e6
const STRATEGIES = [
  { name: 'plain delete', marker: '*' },
  { name: 'uncache-tree', marker: 'o' },
]

/** Runs one strategy in a child process; `onSample` sees each sample as it arrives. */
function run(strategy, onSample) {
  return new Promise((resolve, reject) => {
    const child = fork(path.join(__dirname, 'run-host.js'), [strategy.name, String(reloads), String(every)], {
      execArgv: ['--expose-gc'],
      env: { ...process.env, PLUGIN_TABLE_KIB: String(tableKib) },
    })
    const samples = []
    let done
    child.on('message', (message) => {
      if (message.type === 'sample') {
        samples.push(message)
        onSample(message)
      } else if (message.type === 'done') {
        done = message
      }
    })
    child.on('error', reject)
    child.on('exit', (code, signal) => {
      if (code === 0 && done !== undefined) resolve({ ...strategy, samples, ...done })
      else reject(new Error(`the ${strategy.name} run failed (exit ${signal || code})`))
    })
  })
}

// Progress: one line rewritten in place on a terminal, a line per quarter otherwise.
const progress = Object.fromEntries(STRATEGIES.map((s) => [s.name, 0]))
let lastQuarter = -1
function showProgress() {
  const parts = STRATEGIES.map((s) => `${s.name} ${String(progress[s.name]).padStart(String(reloads).length)}/${reloads}`)
  const line = `reloading… ${parts.join(' · ')}`
  if (process.stdout.isTTY) {
    process.stdout.write(`\r${line}`)
    return
  }
  const quarter = Math.floor((4 * Math.min(...Object.values(progress))) / reloads)
  if (quarter > lastQuarter) {
    lastQuarter = quarter
    console.log(line)
  }
}

const total = (s) => s.heapUsed + s.arrayBuffers
const signedMb = (bytes) => `${bytes >= 0 ? '+' : '−'}${(Math.abs(bytes) / MB).toFixed(1)} MB`

async function main() {
  console.log(
    `A plugin host reloads its plugin ${reloads} times (3 files, ${tableKib} KiB table, one helper shared with the host).\n` +
      `Node ${process.version}, ${os.platform()} ${os.arch()}, ${os.cpus()[0]?.model?.trim() || 'unknown CPU'}\n`,
  )
  const started = Date.now()
  showProgress()
  const results = await Promise.all(
    STRATEGIES.map((strategy) =>
      run(strategy, (sample) => {
        progress[strategy.name] = sample.reloads
        showProgress()
      }),
    ),
  )
  if (process.stdout.isTTY) process.stdout.write('\n')
  console.log(`done in ${((Date.now() - started) / 1000).toFixed(1)} s\n`)

  console.log(
    lineChart(
      results.map((r) => ({ label: r.name, marker: r.marker, points: r.samples.map((s) => ({ x: s.reloads, y: total(s) / MB })) })),
      { yUnit: 'MB', xLabel: 'reloads', title: 'memory after forced GC (heapUsed + arrayBuffers)' },
    ),
  )
  console.log()

  const width = Math.max(...results.map((r) => r.name.length))
  for (const r of results) {
    const first = r.samples[0]
    const last = r.samples[r.samples.length - 1]
    console.log(
      `${r.name.padEnd(width)}  heapUsed ${signedMb(last.heapUsed - first.heapUsed).padStart(10)}  ` +
        `arrayBuffers ${signedMb(last.arrayBuffers - first.arrayBuffers).padStart(10)}  ` +
        `old copies collected ${r.collected}/${r.oldCopies}` +
        (r.sharedHelperKept ? '' : '  (shared helper was replaced!)'),
    )
  }
  console.log()

  const [plain, uncache] = results
  const growth = (r) => total(r.samples[r.samples.length - 1]) - total(r.samples[0])
  const counted = `${uncache.collected}/${uncache.oldCopies} collected`
  const outcome =
    uncache.collected === uncache.oldCopies
      ? `uncache-tree freed every old generation (${counted})`
      : `uncache-tree left ${uncache.oldCopies - uncache.collected} old generations alive (${counted})`
  console.log(
    `plain delete: ${signedMb(growth(plain))} after ${reloads} reloads; ` +
      `uncache-tree: ${signedMb(growth(uncache))} — ${outcome}`,
  )
  if (uncache.collected !== uncache.oldCopies || !uncache.sharedHelperKept) process.exitCode = 1
}

/** Runs the demo with command-line words `argv`; resolves when it has printed its verdict. */
function runDemo(argv) {
  ;({ reloads, every, tableKib } = parseDemoArgs(argv))
  return main().catch((error) => {
    if (process.stdout.isTTY) process.stdout.write('\n')
    console.error(error)
    process.exitCode = 1
  })
}

module.exports = { run: runDemo, parseDemoArgs }
if (require.main === module) runDemo(process.argv.slice(2))
