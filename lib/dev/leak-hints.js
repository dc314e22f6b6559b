'use strict'
// Leak hints of `uncache-tree dev`: a reload that adds a process listener, a timer, a server, a
// file handle or a thread and never removes it costs a few hundred bytes, so no memory figure
// shows it; after 200 reloads it is 200 intervals firing or 257 open fds. After each reload the
// counts of lib/proof/resources.js (taken before it, and once the reload's asynchronous closes
// have settled) are compared; a count that grows by the same +k over three reloads in a row gets
// one warning, naming the reloaded files, the resource and the dispose handler that fixes it.
const { countResources, flatten } = require('../proof/resources.js')

// Three reloads in a row with the same +k: one reload proves nothing, two can be a cache warming.
const STREAK = 3

/** What a flattened resource key is, in words, and the dispose handler that frees it. */
function describe(key, k) {
  const many = k === 1 ? '' : 's'
  const [group, name] = key.includes(':') ? [key.slice(0, key.indexOf(':')), key.slice(key.indexOf(':') + 1)] : [key, '']
  if (group === 'processListeners') {
    return {
      what: `process '${name}' listener${many}`,
      fix: `hot(module).dispose(() => process.off('${name}', handler)) — remove the listener this module adds`,
    }
  }
  if (group === 'fds') {
    return {
      what: `open file descriptor${many}`,
      fix: 'hot(module).dispose(() => stream.end()) — close the files, streams, loggers and transports this module opens (winston: logger.close(); pino: transport.end())',
    }
  }
  if (group === 'threads') {
    return {
      what: `thread${many}`,
      fix: 'hot(module).dispose(() => worker.terminate()) — end the workers this module starts (pino: transport.end())',
    }
  }
  const byType = {
    Timeout: ['timer', 'hot(module).dispose(() => clearInterval(timer)) — clear the intervals and timeouts this module sets'],
    Immediate: ['setImmediate callback', 'hot(module).dispose(() => clearImmediate(handle))'],
    TCPServerWrap: [
      'listening server',
      'hot(module).dispose(() => server.close()) — or, for a server handed to a long-lived listener, close the old one after the swap',
    ],
    PipeServerWrap: ['listening server', 'hot(module).dispose(() => server.close())'],
    TCPSocketWrap: ['open socket', 'hot(module).dispose(() => client.destroy()) — close the connections and agents this module opens'],
    PipeWrap: ['open pipe', 'hot(module).dispose(() => stream.destroy())'],
    UDPWrap: ['UDP socket', 'hot(module).dispose(() => socket.close())'],
    FSEventWrap: ['fs.watch watcher', 'hot(module).dispose(() => watcher.close())'],
    StatWatcher: ['fs.watchFile watcher', "hot(module).dispose(() => fs.unwatchFile(file))"],
    FileHandle: ['open file handle', 'hot(module).dispose(() => handle.close())'],
    ProcessWrap: ['child process', 'hot(module).dispose(() => child.kill())'],
    MessagePort: ['message port', 'hot(module).dispose(() => port.close())'],
    Worker: ['worker thread', 'hot(module).dispose(() => worker.terminate())'],
  }
  const [what, fix] = byType[name] ?? [`${name} resource`, `hot(module).dispose(() => …) that closes the ${name} this module opens`]
  return { what: `${what}${many}`, fix }
}

/**
 * One runner's leak watch. `before()` takes the counts just before a reload; `after(before,
 * files)` compares with the counts now and returns the warnings to print (each resource warns
 * once).
 * @param {{ count?: () => object }} [options] `count`: what countResources() returns (tests)
 */
function createLeakHints({ count = countResources } = {}) {
  const streaks = new Map() // key -> { k, runs, files: Set }
  const warned = new Set()

  function before() {
    return flatten(count())
  }

  function after(beforeCounts, files) {
    const now = flatten(count())
    const keys = new Set([...beforeCounts.keys(), ...now.keys()])
    const warnings = []
    for (const key of keys) {
      const k = (now.get(key) ?? 0) - (beforeCounts.get(key) ?? 0)
      const streak = streaks.get(key)
      if (k <= 0) {
        streaks.delete(key)
        continue
      }
      if (streak === undefined || streak.k !== k) {
        streaks.set(key, { k, runs: 1, files: new Set(files) })
        continue
      }
      streak.runs++
      for (const file of files) streak.files.add(file)
      if (streak.runs < STREAK || warned.has(key)) continue
      warned.add(key)
      const { what, fix } = describe(key, k)
      warnings.push({
        key,
        perReload: k,
        count: now.get(key),
        files: [...streak.files],
        message:
          `each of the last ${STREAK} reloads added ${k} ${what} (${now.get(key)} now), after reloading ` +
          `${[...streak.files].join(', ')}: a dispose handler is missing. Fix: ${fix}.`,
      })
    }
    return warnings
  }

  return { before, after }
}

module.exports = { createLeakHints, describe, STREAK }
