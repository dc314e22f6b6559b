'use strict'
// One side of the demo, in a process of its own so that both sides start from the same clean
// heap: a host reloads its plugin N times with one strategy, and every K reloads reports its
// memory after forced garbage collection. demo.js starts it with --expose-gc and reads the
// reports over the IPC channel.
const { PluginHost } = require('./host')

const [strategy, reloadsArg, everyArg] = process.argv.slice(2)
const reloads = Number(reloadsArg)
const every = Number(everyArg)

const nextTurn = () => new Promise((resolve) => setImmediate(resolve))

/** Full collections with turns of the event loop between them: a WeakRef keeps its target alive
 * until the job that last touched it ends, so one gc() right after a reload would miss some. */
async function settle() {
  for (let i = 0; i < 3; i++) {
    globalThis.gc()
    await nextTurn()
  }
}

function sample(reloadsDone) {
  const { heapUsed, arrayBuffers } = process.memoryUsage()
  process.send({ type: 'sample', reloads: reloadsDone, heapUsed, arrayBuffers })
}

async function main() {
  if (typeof globalThis.gc !== 'function') throw new Error('run-host.js needs --expose-gc (demo.js passes it)')
  const host = new PluginHost(strategy)
  const sharedHelper = require('./format')
  // One weak reference per copy of the plugin: after the run, a copy is either collected or
  // still held by something.
  const copies = [new WeakRef(host.pluginModule)]
  await settle()
  sample(0)
  for (let i = 1; i <= reloads; i++) {
    host.handle('/reload')
    // Use the fresh copy, as a real host would between reloads.
    host.handle('/stats')
    host.handle('/lookup', i)
    copies.push(new WeakRef(host.pluginModule))
    // Each /reload is its own event-loop job, as when it comes from a user or a file watcher.
    // (Inside one job nothing unloaded can be collected yet: WeakRefs, ours and the unload
    // report's, keep their targets alive until the job ends.)
    await nextTurn()
    if (i % every === 0 || i === reloads) {
      await settle()
      sample(i)
    }
  }
  await settle()
  const old = copies.slice(0, -1)
  const alive = old.filter((ref) => ref.deref() !== undefined).length
  process.send({
    type: 'done',
    oldCopies: old.length,
    collected: old.length - alive,
    // The helper the host shares with the plugin must be the same instance after every reload.
    sharedHelperKept: require('./format') === sharedHelper,
  })
}

main().then(
  () => process.disconnect(),
  (error) => {
    console.error(error)
    process.exitCode = 1
    process.disconnect()
  },
)
