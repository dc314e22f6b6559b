'use strict'
// explainRetainers(): why modules that were unloaded are still in memory, as the chain of
// references a person can act on (the Timeout and its callback, the `process` listener, the
// global array), read from a V8 heap snapshot by the native core (src/heapsnapshot/mod.rs).
//
// Decisions:
// - The snapshot of the running process is taken in-process through `node:inspector`
//   (`HeapProfiler.takeHeapSnapshot`), and each `HeapProfiler.addHeapSnapshotChunk` is pushed
//   straight into the Rust parser: no temporary file, and the JSON text is never whole in memory,
//   neither as a JS string nor in Rust. Only a Node built without the inspector falls back to
//   `v8.writeHeapSnapshot()` into a temporary directory, streamed and deleted the same way.
// - The snapshot is taken from a fresh macrotask (after `setImmediate`): the caller's frames are off
//   the stack by then, so a local variable of the code that called us is not mistaken for the
//   holder, and V8 has emptied its WeakRef keep-alive list. V8 collects garbage before it writes a
//   snapshot, so a module not in it was collected.
// - Live instance vs old generations is decided inside the snapshot: the live instance is the
//   value of `Module._cache[id]` (`require.cache`), found through the `Module` constructor's
//   `_cache` property. Every other `Module` object with that id is an old generation and is
//   explained; the live one is not a leak. Deciding in the snapshot (rather than asking the
//   inspector for the live object's heap id) works the same for a snapshot file written
//   earlier, or by another process.
// - Paths follow strong edges only; V8's bookkeeping roots (the stack, handle scopes, the startup
//   object cache...) are searched only after the real ones and the WeakRef keep-alive list never,
//   so the chain names the real holder (src/heapsnapshot/mod.rs, `BOOKKEEPING_ROOTS`).
// - `options.snapshot` reads a `.heapsnapshot` file (from `v8.writeHeapSnapshot()`, DevTools, or
//   `node --heapsnapshot-signal`) chunk by chunk into one reused 1 MiB buffer. `fs.createReadStream`
//   allocates a buffer per chunk: on a 200 MB snapshot that measured ~10% more CPU time and 18 MB
//   more peak RSS for the same parse.
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const native = require('../native.js')
const { invalidArgType, invalidArgValue } = require('../errors.js')
const { checkObject } = require('../options.js')
const { filePathOfUrl, isUrlLike } = require('../targets.js')

/** Chunks of a snapshot file; larger chunks cost fewer JS → Rust calls, 1 MiB is plenty. */
const FILE_CHUNK_BYTES = 1 << 20

function parseIds(ids) {
  const list = typeof ids === 'string' ? [ids] : ids
  if (!Array.isArray(list)) throw invalidArgType('ids', 'a string or an array of strings', ids)
  list.forEach((id, i) => {
    if (typeof id !== 'string') throw invalidArgType(`ids[${i}]`, 'of type string', id)
    if (id === '') throw invalidArgValue(`ids[${i}]`, id, 'must be a require.cache key (an absolute filename)')
  })
  return [...new Set(list)]
}

/** `options.snapshot` as a file path, or undefined for a snapshot of this process. */
function parseSnapshotPath(value) {
  if (value === undefined) return undefined
  if (isUrlLike(value)) return filePathOfUrl(value, 'options.snapshot')
  if (typeof value !== 'string') throw invalidArgType('options.snapshot', 'a file path (string or file: URL)', value)
  if (value === '') throw invalidArgValue('options.snapshot', value, 'must name a .heapsnapshot file')
  return value
}

/** Feeds the chunks of a heap snapshot of this process into `parser`. */
function snapshotThisProcess(parser) {
  if (process.features.inspector === false) return snapshotThroughFile(parser)
  const session = openSession()
  return takeWith(session, parser).finally(() => session.disconnect())
}

function openSession() {
  const { Session } = require('node:inspector')
  const session = new Session()
  session.connect()
  return session
}

/** One snapshot through an open inspector session, its chunks pushed into `parser`. */
function takeWith(session, parser) {
  let pushFailed
  const onChunk = ({ params }) => {
    if (pushFailed !== undefined) return
    try {
      push(parser, Buffer.from(params.chunk, 'utf8'))
    } catch (error) {
      pushFailed = error
    }
  }
  session.on('HeapProfiler.addHeapSnapshotChunk', onChunk)
  return new Promise((resolve, reject) => {
    // Node 20 answers synchronously, Node 26 later: only the callback says the snapshot is done.
    session.post('HeapProfiler.takeHeapSnapshot', { reportProgress: false }, (error) => {
      session.removeListener('HeapProfiler.addHeapSnapshotChunk', onChunk)
      if (error) reject(error)
      else if (pushFailed !== undefined) reject(pushFailed)
      else resolve()
    })
  })
}

/**
 * Without an inspector: V8 writes the snapshot to a temporary file, which is streamed and deleted.
 * `sync`: read with fs.readSync, so that the read itself loads no module of Node's and allocates
 * nothing between two snapshots of a series (fs.promises loads internals on first use, which the
 * next snapshot would count as new objects).
 */
async function snapshotThroughFile(parser, { sync = false } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'uncache-tree-heap-'))
  try {
    const file = require('node:v8').writeHeapSnapshot(path.join(dir, 'process.heapsnapshot'))
    if (sync) streamFileSync(file, parser)
    else await streamFile(file, parser, undefined)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

/** streamFile, synchronously (see snapshotThroughFile). */
function streamFileSync(file, parser) {
  const fd = fs.openSync(file, 'r')
  try {
    const buffer = Buffer.allocUnsafe(FILE_CHUNK_BYTES)
    for (;;) {
      const bytesRead = fs.readSync(fd, buffer, 0, buffer.length, null)
      if (bytesRead === 0) break
      push(parser, buffer.subarray(0, bytesRead))
    }
  } finally {
    fs.closeSync(fd)
  }
}

/**
 * Streams `file` into `parser` through one reused buffer (the parser copies what it keeps);
 * read errors (ENOENT...) are thrown as fs throws them.
 */
async function streamFile(file, parser, userFile) {
  const handle = await fs.promises.open(file, 'r')
  try {
    const buffer = Buffer.allocUnsafe(FILE_CHUNK_BYTES)
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null)
      if (bytesRead === 0) break
      push(parser, buffer.subarray(0, bytesRead), userFile)
    }
  } finally {
    await handle.close()
  }
}

function push(parser, chunk, userFile) {
  try {
    parser.push(chunk)
  } catch (error) {
    throw unreadable(error, userFile)
  }
}

function finish(parser, userFile) {
  try {
    parser.finish()
  } catch (error) {
    throw unreadable(error, userFile)
  }
}

/**
 * A parse failure of the user's file (`userFile`) is a bad argument; of a snapshot this process
 * took, a bug to report.
 */
function unreadable(error, file) {
  const reason = String(error?.message ?? error)
  if (file !== undefined) {
    const wrapped = invalidArgValue('options.snapshot', file, `is not a V8 heap snapshot this version can read (${reason})`)
    wrapped.cause = error
    return wrapped
  }
  return new Error(`uncache-tree could not read the heap snapshot V8 wrote for this process: ${reason}`, { cause: error })
}

/**
 * For modules that stayed in memory after they were unloaded: the shortest chain of strong
 * references from a GC root to each old generation (each `Module` object with that id other than
 * the one in `require.cache`), in words a person can act on. Modules already collected, and
 * modules whose only instance is the loaded one, are left out.
 *
 * Each step's `node` holds the next step's node through its `edge`; the last step is the module
 * itself (`Module /abs/path.js`, edge `''`). One entry per surviving old generation, ordered as
 * `ids`.
 *
 * @example
 * const report = uncacheTree('./plugin.js')
 * const { alive } = await verifyCollected(report)
 * for (const { id, path } of await explainRetainers(alive)) {
 *   console.log(id, path.map((s) => (s.edge ? `${s.node} --${s.edge}-->` : s.node)).join(' '))
 * }
 * // /app/plugin.js Timeout --_onTimeout--> (closure onTick in /app/plugin.js:12:27) --context-->
 * //   (closure scope) --module--> Module /app/plugin.js
 *
 * @param {string | string[]} ids require.cache keys (absolute filenames) of unloaded modules
 * @param {{ snapshot?: string | URL }} [options] `snapshot`: read this `.heapsnapshot` file
 *   (e.g. written earlier by `v8.writeHeapSnapshot()`) instead of taking one of this process
 * @returns {Promise<{ id: string, path: { node: string, edge: string }[] }[]>}
 */
async function explainRetainers(ids, options) {
  const list = parseIds(ids)
  const file = parseSnapshotPath(checkObject(options, 'options', 'explainRetainers').snapshot)
  if (list.length === 0) return []
  const parser = new native.HeapSnapshotParser()
  try {
    if (file !== undefined) {
      await streamFile(file, parser, file)
    } else {
      await new Promise((resolve) => setImmediate(resolve))
      await snapshotThisProcess(parser)
    }
    finish(parser, file)
    return parser.explain(list).map(({ id, path: steps }) => ({ id, path: renderRequireCache(steps).path }))
  } finally {
    parser.close()
  }
}

/**
 * Heap snapshots of this process whose object ids can be compared (`viaFile`: each written by
 * v8.writeHeapSnapshot() to a temporary file and streamed from there, which holds less memory at
 * the peak than the inspector's string chunks; V8's one id table keeps ids stable between them).
 * Through the inspector, V8 keeps an object's id from
 * one snapshot to the next only while the inspector session that took them stays connected
 * (closing it clears the id table, and the next snapshot numbers objects afresh). So the session
 * is opened once and closed with `close()`. Each `take(sink)` streams one snapshot, taken from a
 * fresh macrotask, into `sink` (anything with `push(chunk)`: the doctor's three-snapshot diff).
 */
function snapshotSeries({ viaFile = false } = {}) {
  const session = viaFile || process.features.inspector === false ? undefined : openSession()
  return {
    async take(sink) {
      await new Promise((resolve) => setImmediate(resolve))
      // Without an inspector, v8.writeHeapSnapshot() uses V8's one id table, which stays.
      if (session === undefined) await snapshotThroughFile(sink, { sync: true })
      else await takeWith(session, sink)
    },
    close() {
      session?.disconnect()
    },
  }
}

/**
 * A chain that reaches a module through `require.cache` starts wherever the search first found
 * the `Module` constructor: often at this package's own global state (`global → <symbol
 * uncache-tree.state.v1> → originalLoad → … → Module._cache`), which reads as if the library held
 * the module. Everything down to the cache object is one step, `require.cache`, held through the
 * module's id. Returns the new chain and how many steps were folded away.
 */
function renderRequireCache(steps) {
  let at = -1
  for (let i = steps.length - 2; i >= 0; i--) {
    if (steps[i].edge === '_cache' && /^\(closure Module\b/.test(steps[i].node)) {
      at = i
      break
    }
  }
  if (at === -1) return { path: steps, removed: 0 }
  const cache = steps[at + 1]
  if (at + 2 >= steps.length) return { path: [...steps.slice(0, at), { node: 'require.cache', edge: '' }], removed: 1 }
  return { path: [{ node: 'require.cache', edge: cache.edge }, ...steps.slice(at + 2)], removed: at + 1 }
}

module.exports = { explainRetainers, snapshotSeries, renderRequireCache }
