'use strict'
// The leak table of the README: a plugin tree is reloaded 2,000 times in five scenarios with
// four ways of unloading it, and after forced garbage collection we count the old generations
// that are still alive and how much memory grew (heapUsed + arrayBuffers).
//
//   node benchmark/leaks.js [--reloads 2000] [--kib 64] [--json]
//
// Contenders, each called the way its README says, from the module that reloads:
// - plain delete: `delete require.cache[require.resolve(f)]` for each of the tree's files
// - decache@4: `decache('./a')`, then `require('./a')`
// - clear-module@4: `clearModule('./a')`, then `require('./a')`
// - uncache-tree: `uncacheTree('./a')`, then `require('./a')`
//
// Scenarios (docs/node-internals.md §2 and its Addendum): the tree a -> {b, c} -> shared, every
// module holding a filled buffer of --kib KiB.
// - closed: a host module that stays loaded requires the tree and reloads it
// - crossref: a second live module requires shared.js again after each load
// - creq: the tree is loaded through one long-lived createRequire() function (ESM hosts)
// - keptdep: a.js also requires lib.js, which the host uses too (lib should keep its identity)
// - self-reload: code inside the tree unloads its own tree and requires the next generation
//
// Every contender x scenario runs in its own child process (this file, started again with
// UNCACHE_LEAKS_CHILD set), so that no run inherits another's leftovers and peers run without
// uncache-tree loaded.
const path = require('node:path')

const MB = 1e6
const INDEX = path.join(__dirname, '..', 'index.js')
const TRACK = Symbol.for('uncache-tree.leaks.track')
const TREE = ['a', 'b', 'c', 'shared']

const CONTENDERS = ['plain delete', 'decache', 'clear-module', 'uncache-tree']
const SCENARIOS = ['closed', 'crossref', 'creq', 'keptdep', 'self-reload']

if (process.env.UNCACHE_LEAKS_CHILD) {
  runChild(JSON.parse(process.env.UNCACHE_LEAKS_CHILD)).then(
    (result) => process.stdout.write(JSON.stringify(result)),
    (error) => {
      process.stderr.write(`${error && error.stack ? error.stack : error}\n`)
      process.exitCode = 1
    },
  )
} else {
  main().catch((error) => {
    console.error(error)
    process.exitCode = 1
  })
}

// ---------------------------------------------------------------------------------------------
// Child: one contender, one scenario.

/**
 * The source of `unload()` for one contender, as it appears in the module that reloads the tree.
 * `specifier` is what that module passes: './a' from a file next to the tree, or an absolute path.
 */
function unloaderSource(contender, specifier) {
  switch (contender) {
    case 'plain delete':
      return [
        'function unload() {',
        `  for (const f of ${JSON.stringify(TREE.map((n) => `./${n}`))}) delete require.cache[require.resolve(f)]`,
        '}',
      ].join('\n')
    case 'decache':
      return [
        `const decache = require(${JSON.stringify(require.resolve('decache'))})`,
        `const unload = () => decache(${JSON.stringify(specifier)})`,
      ].join('\n')
    case 'clear-module':
      return [
        `const clearModule = require(${JSON.stringify(require.resolve('clear-module'))})`,
        `const unload = () => clearModule(${JSON.stringify(specifier)})`,
      ].join('\n')
    case 'uncache-tree':
      return `const { uncacheTree } = require(${JSON.stringify(INDEX)})\nconst unload = () => uncacheTree(${JSON.stringify(specifier)})`
    default:
      throw new RangeError(`unknown contender ${contender}`)
  }
}

function fixtureFiles(dir, contender, scenario, kib) {
  const track = (name) => `globalThis[Symbol.for('uncache-tree.leaks.track')](module, ${JSON.stringify(name)})`
  // Filled, so that each buffer is real memory and not a lazily zeroed mapping.
  const holdBuffer = `const buffer = Buffer.alloc(${kib * 1024}, ${JSON.stringify(scenario)})`
  const files = {}
  const aExports = ["b: require('./b')", "c: require('./c')"]
  let aExtra = ''
  if (scenario === 'keptdep') aExports.push("lib: require('./lib')")
  if (scenario === 'self-reload') {
    // The plugin handles its own /reload: unload its tree, require the next generation.
    aExtra = `${unloaderSource(contender, './a')}\nfunction reload() {\n  unload()\n  return require('./a')\n}\n`
    aExports.push('reload')
  }
  files['a.js'] = `'use strict'\n${holdBuffer}\n${track('a')}\n${aExtra}module.exports = { name: 'a', buffer, ${aExports.join(', ')} }\n`
  for (const name of ['b', 'c']) {
    files[`${name}.js`] = `'use strict'\n${holdBuffer}\n${track(name)}\nmodule.exports = { buffer, shared: require('./shared') }\n`
  }
  files['shared.js'] = `'use strict'\n${holdBuffer}\n${track('shared')}\nmodule.exports = { buffer }\n`
  files['lib.js'] = `'use strict'\n${track('lib')}\nmodule.exports = { name: 'lib' }\n`
  // The host stays loaded all run long and reloads the tree. In keptdep it requires lib.js
  // after a.js did (lib's first parent is a tree module) and keeps using it.
  files['host.js'] = [
    "'use strict'",
    unloaderSource(contender, './a'),
    'exports.load = () => {',
    "  const a = require('./a')",
    scenario === 'keptdep' ? "  exports.lib = require('./lib')" : '',
    '  return a',
    '}',
    'exports.reload = () => {',
    '  exports.lastReport = unload() // uncache-tree returns a report; the others undefined',
    '  return exports.load()',
    '}',
    '',
  ].join('\n')
  files['second.js'] = "'use strict'\nexports.touch = () => require('./shared')\n"
  // creq: the host of an ESM app loads the tree through one createRequire() function that lives
  // as long as the app, and names the tree by its absolute path when it unloads it.
  files['creq-host.js'] = [
    "'use strict'",
    "const Module = require('node:module')",
    "const creq = Module.createRequire(require.resolve('./host'))",
    unloaderSource(contender, path.join(dir, 'a.js')),
    "exports.load = () => creq('./a')",
    'exports.reload = () => {',
    '  exports.lastReport = unload() // uncache-tree returns a report; the others undefined',
    '  return exports.load()',
    '}',
    '',
  ].join('\n')
  return files
}

async function runChild({ contender, scenario, reloads, kib }) {
  const fs = require('node:fs')
  const os = require('node:os')
  if (contender === 'uncache-tree') require(INDEX) // installed first, as its README asks
  const { settleGc } = require('../lib/proof/gc.js')

  // Every evaluation of a fixture module, held weakly, with its generation. The records are
  // allocated up front (5 modules a generation at most), so that the heap growth measured below
  // holds only one small WeakRef per evaluation of our own bookkeeping.
  const capacity = (reloads + 2) * 5
  const refs = new Array(capacity).fill(null)
  const generations = new Int32Array(capacity)
  const names = new Array(capacity).fill('')
  let count = 0
  let generation = 0
  globalThis[TRACK] = (m, name) => {
    if (count === capacity) throw new Error('more evaluations than the fixture can make')
    refs[count] = new WeakRef(m)
    generations[count] = generation
    names[count++] = name
  }

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'uncache-leaks-'))
  try {
    for (const [name, text] of Object.entries(fixtureFiles(dir, contender, scenario, kib))) fs.writeFileSync(path.join(dir, name), text)
    const file = (name) => path.join(dir, `${name}.js`)
    const host = require(file(scenario === 'creq' ? 'creq-host' : 'host'))
    const second = require(file('second'))

    let plugin
    let libKept = true
    let firstLib
    const cycle = (i) => {
      generation = i + 1
      plugin = scenario === 'self-reload' ? plugin.reload() : host.reload()
      if (scenario === 'crossref') second.touch()
      if (scenario === 'keptdep' && plugin.lib !== firstLib) libKept = false
    }
    generation = 1
    plugin = host.load()
    if (scenario === 'crossref') second.touch()
    firstLib = plugin.lib

    const started = process.hrtime.bigint()
    cycle(1)
    // What uncache-tree's first report says Node still holds (self-reload keeps no report).
    const pinned = host.lastReport ? host.lastReport.pinned.map((p) => p.by) : []
    // Baseline after cycle 1, in the same state as the end: one generation loaded, older ones
    // unloaded. What the first unload pins for good is in both measurements.
    await settleGc()
    const before = process.memoryUsage()
    for (let i = 2; i <= reloads; i++) {
      cycle(i)
      // Each reload in its own event-loop job, as in a host that reloads on a command or a file
      // event. Inside one synchronous job nothing can be collected before the job ends (WeakRefs,
      // ours and uncache-tree's report's, keep their targets alive until then).
      await new Promise((resolve) => setImmediate(resolve))
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9
    await settleGc(6)
    const after = process.memoryUsage()

    // Old means no longer the instance require.cache serves: a module a contender kept (the same
    // instance all along, because a live module still uses it) is not an old generation.
    const current = new Set(Object.values(require.cache))
    const aliveGenerations = new Set()
    const evaluated = {}
    for (let k = 0; k < count; k++) {
      evaluated[names[k]] = (evaluated[names[k]] || 0) + 1
      const m = refs[k].deref()
      if (m !== undefined && !current.has(m)) aliveGenerations.add(generations[k])
    }
    return {
      contender,
      scenario,
      reloads,
      aliveOldGenerations: aliveGenerations.size,
      heapGrowth: after.heapUsed - before.heapUsed,
      arrayBufferGrowth: after.arrayBuffers - before.arrayBuffers,
      libEvaluations: evaluated.lib || 0,
      libKept: scenario === 'keptdep' ? libKept : undefined,
      lastParentPins: pinned.filter((by) => by === 'last-parent').length,
      seconds,
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

// ---------------------------------------------------------------------------------------------
// Parent: run the matrix, print the table.

function runOne(job) {
  const { execFile } = require('node:child_process')
  return new Promise((resolve) => {
    const env = { ...process.env, UNCACHE_LEAKS_CHILD: JSON.stringify(job) }
    execFile(process.execPath, [__filename], { env, maxBuffer: 1 << 24 }, (error, stdout, stderr) => {
      if (error) {
        const reason = stderr.split('\n').find((line) => /Error/.test(line)) || `exit ${error.signal || error.code}`
        resolve({ ...job, error: reason.trim().slice(0, 100) })
      } else {
        resolve(JSON.parse(stdout))
      }
    })
  })
}

function machine() {
  const os = require('node:os')
  const cpus = os.cpus()
  return (
    `${cpus[0] ? cpus[0].model.trim() : 'unknown CPU'} (${cpus.length} vCPU), ` +
    `${Math.round(os.totalmem() / 2 ** 30)} GiB RAM, ${os.type()} ${os.release()} ${os.arch()}`
  )
}

function peerVersion(name) {
  try {
    return require(path.join(path.dirname(require.resolve(name)), 'package.json')).version
  } catch {
    return '?'
  }
}

async function main() {
  const { parseArgs } = require('node:util')
  const os = require('node:os')
  const { values } = parseArgs({
    options: {
      reloads: { type: 'string', default: '2000' },
      kib: { type: 'string', default: '64' },
      json: { type: 'boolean', default: false },
    },
  })
  const reloads = Number(values.reloads)
  const kib = Number(values.kib)
  if (!Number.isInteger(reloads) || reloads < 2) throw new RangeError('--reloads must be an integer >= 2')
  if (!Number.isInteger(kib) || kib < 1) throw new RangeError('--kib must be a positive integer')

  const jobs = []
  for (const scenario of SCENARIOS) for (const contender of CONTENDERS) jobs.push({ contender, scenario, reloads, kib })
  // One child per CPU; leaking children hold up to ~reloads x 4 x kib KiB each.
  const slots = Math.max(1, Math.min(4, os.availableParallelism ? os.availableParallelism() : os.cpus().length))
  const results = []
  let next = 0
  let finished = 0
  const started = Date.now()
  await Promise.all(
    Array.from({ length: slots }, async () => {
      while (next < jobs.length) {
        const job = jobs[next++]
        results.push(await runOne(job))
        finished++
        if (process.stderr.isTTY) process.stderr.write(`\r${finished}/${jobs.length} runs`)
      }
    }),
  )
  if (process.stderr.isTTY) process.stderr.write('\r')
  if (values.json) {
    console.log(JSON.stringify({ node: process.version, machine: machine(), results }, null, 2))
    return
  }

  const find = (scenario, contender) => results.find((r) => r.scenario === scenario && r.contender === contender)
  const cell = (r) => {
    if (r.error) return `error: ${r.error}`
    const growth = (r.heapGrowth + r.arrayBufferGrowth) / MB
    let text = `${r.aliveOldGenerations} / ${growth >= 0 ? '+' : '−'}${Math.abs(growth).toFixed(1)} MB`
    if (r.libKept === false) text += ' ¹'
    if (r.aliveOldGenerations > 0 && r.lastParentPins > 0) text += ' ²'
    return text
  }
  const header = [
    'scenario',
    'plain delete',
    `decache ${peerVersion('decache')}`,
    `clear-module ${peerVersion('clear-module')}`,
    'uncache-tree',
  ]
  const allGenerationsMb = ((4 * kib * 1024 * reloads) / MB).toFixed(0)
  console.log(
    `Leaks after ${reloads} reloads of a 4-module plugin tree ` +
      `(${kib} KiB buffer per module, ${allGenerationsMb} MB over all generations)`,
  )
  console.log(`Node ${process.version} · ${machine()} · ${((Date.now() - started) / 1000).toFixed(0)} s\n`)
  console.log(`| ${header.join(' | ')} |`)
  console.log(`|${header.map(() => '---').join('|')}|`)
  for (const scenario of SCENARIOS) {
    console.log(`| ${scenario} | ${CONTENDERS.map((c) => cell(find(scenario, c))).join(' | ')} |`)
  }
  console.log()
  console.log(
    `Cells: old generations still alive (of ${reloads}) / growth of heapUsed + arrayBuffers, both after forced GC, ` +
      'measured from the state after the first reload to the state after the last.',
  )
  console.log(
    'crossref: uncache-tree keeps shared.js, which second.js still uses (one instance all run long); the others ' +
      'unload it under second.js. keptdep: uncache-tree and plain delete (which deletes only the four tree files) ' +
      'keep lib.js; decache and clear-module do not (¹).',
  )
  const broken = CONTENDERS.filter((c) => find('keptdep', c).libKept === false)
  if (broken.length > 0) {
    const details = broken.map((c) => `${c} (${find('keptdep', c).libEvaluations} evaluations)`).join(', ')
    console.log(`¹ lib.js, which the host keeps using, was unloaded and evaluated again on every reload: ${details}.`)
  }
  if (results.some((r) => r.aliveOldGenerations > 0 && r.lastParentPins > 0)) {
    console.log(
      '² Node >= 22 keeps, in a private slot no code can clear (kLastModuleParent), the module that first required a ' +
        'module that stays loaded: generation 1 stays for the life of the process. One generation, not growing; ' +
        "uncache-tree's report lists it as pinned (last-parent).",
    )
  }
}
