'use strict'
// lib/proof/resources.js: the counts a reload can leak (listeners, active resources, fds,
// threads), taken now, and the pure verdict on a series of them (which keys rise by a regular +k
// per cycle, robust to noise, and which only warm up or wobble).
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const net = require('node:net')
const { EventEmitter } = require('node:events')
const {
  countResources,
  countEmitterListeners,
  listenerTable,
  growingCounts,
  flatten,
} = require('../lib/proof/resources.js')

const HAS_PROC = fs.existsSync('/proc/self/fd')

test('countResources counts process listeners by event, and sees one added', () => {
  const before = countResources().processListeners.SIGUSR2 ?? 0
  const listener = () => {}
  process.on('SIGUSR2', listener)
  process.on('SIGUSR2', () => {})
  try {
    assert.equal(countResources().processListeners.SIGUSR2, before + 2)
  } finally {
    process.removeAllListeners('SIGUSR2')
  }
  assert.equal(countResources().processListeners.SIGUSR2, undefined, 'an event with no listener is not listed')
})

test('countResources counts active resources by type: one more Timeout per setInterval', () => {
  const before = countResources().activeResources.Timeout ?? 0
  const timers = [setInterval(() => {}, 1000), setInterval(() => {}, 1000), setInterval(() => {}, 1000)]
  try {
    assert.equal(countResources().activeResources.Timeout, before + 3)
  } finally {
    for (const timer of timers) clearInterval(timer)
  }
  assert.equal(countResources().activeResources.Timeout ?? 0, before)
})

test('countResources counts a listening server as a TCPServerWrap, and its fd', { skip: !HAS_PROC }, async () => {
  const before = countResources()
  const server = net.createServer().listen(0, '127.0.0.1')
  await new Promise((resolve) => server.once('listening', resolve))
  try {
    const during = countResources()
    assert.equal(during.activeResources.TCPServerWrap, (before.activeResources.TCPServerWrap ?? 0) + 1)
    assert.equal(during.fds, before.fds + 1)
    assert.ok(during.threads >= 1)
  } finally {
    await new Promise((resolve) => server.close(resolve))
  }
})

test('countResources counts fds exactly: one open file is +1, closing it is back', { skip: !HAS_PROC }, () => {
  const before = countResources().fds
  const fd = fs.openSync(__filename, 'r')
  try {
    assert.equal(countResources().fds, before + 1)
  } finally {
    fs.closeSync(fd)
  }
  assert.equal(countResources().fds, before)
})

test('countResources({ emitters }) counts the listeners of each labelled emitter by event', () => {
  const bus = new EventEmitter()
  bus.on('message', () => {})
  bus.on('message', () => {})
  bus.once('close', () => {})
  const counts = countResources({ emitters: [['bus.js:bus', bus], ['plain', {}]] })
  assert.deepEqual(counts.emitterListeners, { 'bus.js:bus message': 2, 'bus.js:bus close': 1 })
})

test('listener tables are read without running user code: getters and Proxies are not touched', () => {
  let ran = 0
  const trap = new Proxy(new EventEmitter(), {
    getPrototypeOf() {
      ran++
      return EventEmitter.prototype
    },
    get(target, key) {
      ran++
      return target[key]
    },
  })
  assert.equal(listenerTable(trap), undefined)
  const withGetter = new EventEmitter()
  Object.defineProperty(withGetter, '_events', {
    get() {
      ran++
      return {}
    },
  })
  assert.equal(countEmitterListeners(withGetter), undefined)
  class Sub extends EventEmitter {}
  const sub = new Sub()
  sub.on('x', () => {})
  assert.deepEqual(countEmitterListeners(sub), { x: 1 }, 'a subclass is an emitter')
  assert.equal(countEmitterListeners(Object.create(null)), undefined)
  assert.equal(ran, 0, 'no trap or getter ran')
})

test('flatten names keys by group and name, and skips undefined counts', () => {
  const flat = flatten({ processListeners: { SIGINT: 2 }, activeResources: { Timeout: 3 }, fds: 9, threads: undefined })
  assert.deepEqual([...flat], [
    ['processListeners:SIGINT', 2],
    ['activeResources:Timeout', 3],
    ['fds', 9],
  ])
})

const series = (values, make) => values.map(make)

test('growingCounts: +1 listener per cycle is a leak, with its slope, first and last', () => {
  const counts = series([1, 2, 3, 4, 5, 6], (n) => ({ processListeners: { SIGINT: n, exit: 1 }, fds: 20 }))
  assert.deepEqual(growingCounts(counts), [{ key: 'processListeners:SIGINT', perCycle: 1, first: 1, last: 6 }])
})

test('growingCounts: +3 per cycle through noise (a stray fd now and then) is found as +3', () => {
  const noise = [0, 1, 0, 0, 2, 0, 1, 0, 0, 1]
  const counts = noise.map((extra, i) => ({ fds: 30 + 3 * i + extra }))
  assert.deepEqual(growingCounts(counts), [{ key: 'fds', perCycle: 3, first: 30, last: 58 }])
})

test('growingCounts: +1 every other cycle is a leak of 0.5 per cycle', () => {
  const counts = series([0, 0, 1, 1, 2, 2, 3, 3, 4, 4], (n) => ({ activeResources: { Timeout: n } }))
  const [found] = growingCounts(counts)
  assert.equal(found.key, 'activeResources:Timeout')
  assert.equal(found.perCycle, 0.5)
})

test('growingCounts: a key absent in early cycles counts 0 there (a new event name)', () => {
  const counts = [{ processListeners: {} }, { processListeners: { SIGTERM: 1 } }, { processListeners: { SIGTERM: 2 } }, { processListeners: { SIGTERM: 3 } }, { processListeners: { SIGTERM: 4 } }]
  assert.deepEqual(growingCounts(counts), [{ key: 'processListeners:SIGTERM', perCycle: 1, first: 0, last: 4 }])
})

test('growingCounts: wobbling noise, a warm-up plateau and a one-off step are not leaks', () => {
  const wobble = [3, 5, 2, 4, 6, 3, 2, 5, 4, 3].map((n) => ({ activeResources: { FSReqCallback: n } }))
  assert.deepEqual(growingCounts(wobble), [])
  // A pool that opens its threads over the first cycles and then stays.
  const warmUp = [7, 9, 11, 11, 11, 11, 11, 11].map((n) => ({ threads: n }))
  assert.deepEqual(growingCounts(warmUp), [])
  const step = [10, 10, 10, 10, 14, 14, 14, 14].map((n) => ({ fds: n }))
  assert.deepEqual(growingCounts(step), [])
  const falling = [9, 8, 7, 6, 5, 4].map((n) => ({ fds: n }))
  assert.deepEqual(growingCounts(falling), [])
})

test('growingCounts: too few cycles give no verdict; options tune the thresholds', () => {
  const three = [1, 2, 3].map((n) => ({ fds: n }))
  assert.deepEqual(growingCounts(three), [])
  assert.deepEqual(growingCounts(three, { minCycles: 3 }), [{ key: 'fds', perCycle: 1, first: 1, last: 3 }])
  const slow = [0, 0, 0, 1, 1, 1, 2, 2, 2].map((n) => ({ fds: n }))
  assert.deepEqual(growingCounts(slow), [], 'one per three cycles is under the default 0.5')
  assert.equal(growingCounts(slow, { minPerCycle: 0.3 })[0].key, 'fds')
  assert.throws(() => growingCounts('no'), TypeError)
})

test('growingCounts orders the steepest first', () => {
  const counts = [0, 1, 2, 3, 4].map((i) => ({ fds: 2 * i, processListeners: { exit: i }, threads: 4 + 6 * i }))
  assert.deepEqual(
    growingCounts(counts).map((g) => [g.key, g.perCycle]),
    [['threads', 6], ['fds', 2], ['processListeners:exit', 1]],
  )
})

// lib/proof/count-leaks.js: the doctor's use of the counts.
const { keptEmitters, siteOf, refusalOf, resourceName, countFix } = require('../lib/proof/count-leaks.js')

test('keptEmitters finds the emitters of kept modules two levels down, once each, running no getter', () => {
  const t = require('./helpers/fixtures.cjs').writeTree({
    'bus.js': "const { EventEmitter } = require('node:events')\nmodule.exports = new EventEmitter()\n",
    'hub.js':
      "const { EventEmitter } = require('node:events')\nconst inner = new EventEmitter()\nmodule.exports = { events: { inner }, same: inner }\n" +
      "Object.defineProperty(module.exports, 'trap', { enumerable: true, get() { globalThis.getterRan = true; return new EventEmitter() } })\n",
  })
  const bus = require(t.file('bus.js'))
  const hub = require(t.file('hub.js'))
  const found = keptEmitters([t.file('bus.js'), t.file('hub.js')], t.dir)
  assert.deepEqual(found.map(([label]) => label), ['bus.js exports', 'hub.js exports.events.inner'])
  assert.equal(found[0][1], bus)
  assert.equal(found[1][1], hub.same)
  assert.equal(globalThis.getterRan, undefined, 'the getter did not run')
})

test('siteOf: the first frame in the user\'s code, and the package it called into', () => {
  const stack = [
    'Error',
    '    at new Worker (node:internal/worker:200:10)',
    '    at buildStream (/app/node_modules/thread-stream/index.js:50:3)',
    '    at transport (/app/node_modules/pino/lib/transport.js:120:9)',
    '    at Object.<anonymous> (/app/plugins/log.js:9:24)',
    '    at Module._compile (node:internal/modules/cjs/loader:1521:14)',
  ].join('\n')
  assert.deepEqual(siteOf(stack), { at: '/app/plugins/log.js:9:24', file: '/app/plugins/log.js', package: 'pino' })
  assert.equal(siteOf('Error\n    at node:internal/timers:1:1'), undefined, "Node's own frames name no site")
})

test('refusalOf: a throw from inside a package on a reload is a refusal with its registry and release call', () => {
  const error = new Error('A metric with the name x has already been registered.')
  error.stack = `Error: ${error.message}\n    at Registry.registerMetric (/app/node_modules/prom-client/lib/registry.js:180:10)\n    at Object.<anonymous> (/app/plugin.js:3:1)`
  const refusal = refusalOf(error, 1)
  assert.equal(refusal.package, 'prom-client')
  assert.match(refusal.registry, /prom-client's global registry/)
  assert.equal(refusal.addedBy, '/app/plugin.js:3:1')
  assert.match(refusal.fix, /removeSingleMetric/)
  assert.equal(refusalOf(error, 0), undefined, 'the first load is not a refusal')
  const own = new Error('bad config')
  own.stack = 'Error: bad config\n    at Object.<anonymous> (/app/plugin.js:3:1)'
  assert.equal(refusalOf(own, 2), undefined, "the user's own throw is not a package's refusal")
})

test('resource names and fixes say what grows and what to call', () => {
  assert.equal(resourceName('processListeners:SIGINT', []), "process 'SIGINT' listeners")
  assert.equal(resourceName('emitterListeners:bus.js exports tick', []), "'tick' listeners on bus.js exports")
  assert.equal(resourceName('fds', ['pipe', 'pipe', 'eventfd']), 'open file descriptors (pipe ×2, eventfd)')
  assert.match(countFix('fds', 'winston'), /^Inside winston: .*logger\.close\(\)/)
  assert.match(countFix('activeResources:TCPServerWrap', undefined), /server\.close\(\)/)
})
