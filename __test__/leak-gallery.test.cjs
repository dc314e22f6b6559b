'use strict'
// The leak gallery (examples/leaks/<name>/leaky.js and fixed.js), built on the real packages:
// `uncache-tree doctor` must say exit 1 for every leaky variant, naming what grows (the count,
// the refusing package's registry, or the holder of the objects that pile up) and the fix, and
// exit 0 for every fixed one. Most of these leaks are a few hundred bytes per reload: only the
// counts and the object groups can catch them. The runs are independent processes, a few at a time.
const test = require('node:test')
const assert = require('node:assert/strict')
const os = require('node:os')
const path = require('node:path')
const { runCli } = require('./helpers/cli.cjs')

const ROOT = path.join(__dirname, '..')
const CYCLES = '9'
const PARALLEL = Math.max(2, Math.min(4, os.availableParallelism?.() ?? 2))

/**
 * Each example: the doctor's extra arguments (the modules a host keeps), and what the leaky
 * verdict must name: `count` (a key of counts.growing and where it is added), `refused` (the
 * package and its release call) or `holder` (a growing group's holder and fix).
 */
const GALLERY = [
  { name: 'emitter-listener', args: ['--keep', 'bus\\.js$'], count: { key: /^emitterListeners:examples\/leaks\/emitter-listener\/bus\.js exports tick$/, addedBy: /leaky\.js:11:5$/, fix: /removeListener/ } },
  { name: 'process-listener', count: { key: /^processListeners:exit$/, addedBy: /leaky\.js:20:9$/, fix: /process\.removeListener\('exit', listener\)/ } },
  { name: 'interval', holder: { text: /^closure at .*interval\/leaky\.js:13:13 ← _onTimeout ← Timeout/, fix: /clearInterval/ } },
  { name: 'server', count: { key: /^activeResources:TCPServerWrap$/, fix: /server\.close\(\)/ } },
  { name: 'axios-interceptor', holder: { text: /^closure at .*axios-interceptor\/leaky\.js:8:32 ← fulfilled ← Object ← Object\.request\.handlers/, fix: /interceptors\.request\.eject\(id\)/ } },
  { name: 'sequelize-hook', args: ['--keep', 'db\\.js$'], holder: { text: /^closure at .*sequelize-hook\/leaky\.js:7:34 ← Object\.hooks\.beforeQuery/, fix: /removeHook\(type, name\)/ } },
  { name: 'winston', count: { key: /^fds$/, addedBy: /winston\/leaky\.js:10:16$/, fix: /^Inside winston: .*logger\.close\(\)/ } },
  { name: 'pino', args: ['--keep', 'logger\\.js$'], count: { key: /^threads$/, addedBy: /pino\/leaky\.js:9:24$/, fix: /^Inside pino: .*logger\.child\(\).*transport\.end\(\)/ } },
  { name: 'prom-client', refused: { package: 'prom-client', message: /already been registered/, fix: /register\.removeSingleMetric\(name\)/ } },
  { name: 'mongoose-models', refused: { package: 'mongoose', message: /Cannot overwrite `User` model/, fix: /mongoose\.deleteModel\(name\)/ } },
  { name: 'express-routes', args: ['--keep', 'app\\.js$'], holder: { text: /^closure at .*express-routes\/leaky\.js:8:19 ← handle ← Layer ← .*router\.stack/, fix: /express\.Router\(\)/ } },
]

function doctor(file, args) {
  return runCli(['doctor', file, '--cycles', CYCLES, '--json', '--quiet', ...args])
}

/** Runs every job, PARALLEL at a time; resolves with the results in order. */
async function pool(jobs) {
  const results = new Array(jobs.length)
  let next = 0
  const worker = async () => {
    while (next < jobs.length) {
      const at = next++
      results[at] = await jobs[at]()
    }
  }
  await Promise.all(Array.from({ length: PARALLEL }, worker))
  return results
}

const runs = new Map()
test.before(async () => {
  const jobs = []
  for (const example of GALLERY) {
    for (const variant of ['leaky', 'fixed']) {
      jobs.push(async () => {
        const run = await doctor(path.join('examples', 'leaks', example.name, `${variant}.js`), example.args ?? [])
        runs.set(`${example.name}/${variant}`, run)
      })
    }
  }
  await pool(jobs)
})

const parse = (run, label) => {
  try {
    return JSON.parse(run.stdout)
  } catch (error) {
    assert.fail(`${label}: stdout is not one JSON document (${error.message}); stderr: ${run.stderr}`)
  }
}

for (const example of GALLERY) {
  test(`${example.name}/leaky.js: exit 1, naming what grows and the fix`, () => {
    const run = runs.get(`${example.name}/leaky`)
    const result = parse(run, example.name)
    assert.equal(run.code, 1, run.stderr)
    assert.equal(result.exitCode, 1)
    assert.equal(result.leaked, true)
    // uncache-tree's own bookkeeping (its registry, its reports) is never listed as the user's leak.
    const own = result.growing.filter((g) => g.path.some((step) => /uncache-tree\.state/.test(step.node + step.edge) || [`${ROOT}/lib/`, `${ROOT}/bin/`].some((dir) => step.node.includes(dir))))
    assert.deepEqual(own.map((g) => g.holder), [])
    if (example.count) {
      const found = result.counts.growing.find((c) => example.count.key.test(c.key))
      assert.ok(found, `counts.growing names ${example.count.key}: ${JSON.stringify(result.counts.growing)}`)
      assert.ok(found.perCycle >= 0.5, `about one more per reload (a descriptor closed a cycle late shaves the slope): ${found.perCycle}`)
      if (example.count.addedBy) assert.match(found.addedBy ?? '', example.count.addedBy)
      assert.match(found.fix, example.count.fix)
    }
    if (example.refused) {
      assert.equal(result.refused?.package, example.refused.package, JSON.stringify(result.refused))
      assert.match(result.refused.message, example.refused.message)
      assert.match(result.refused.fix, example.refused.fix)
      assert.equal(result.refused.cycle, 1, 'the first reload is refused')
    }
    if (example.holder) {
      const found = result.growing.find((g) => example.holder.text.test(g.holder))
      assert.ok(found, `a growing group held by ${example.holder.text}: ${JSON.stringify(result.growing.map((g) => g.holder))}`)
      assert.match(found.fix, example.holder.fix)
    }
  })

  test(`${example.name}/fixed.js: exit 0, nothing grows`, () => {
    const run = runs.get(`${example.name}/fixed`)
    const result = parse(run, example.name)
    assert.equal(run.code, 0, `${run.stderr}\n${JSON.stringify({ counts: result.counts?.growing, growing: result.growing, growth: result.growth, survivors: result.survivors?.length })}`)
    assert.equal(result.leaked, false)
    assert.deepEqual(result.counts.growing, [])
    assert.equal(result.refused, null)
    assert.deepEqual(result.survivors.filter((s) => s.heldBy === 'program'), [])
  })
}

test('the gallery covers 11 examples, 22 verdicts', () => {
  assert.equal(GALLERY.length, 11)
  assert.equal(runs.size, 22)
})
