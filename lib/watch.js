'use strict'
// watch(): hot reload for a running program. Watches the files of the entry's require tree (or
// the given paths), batches the events of one save, and reloads: invalidate the changed loaded
// files, require the entry again, roll back when the new code throws (reload.js).
//
// One node:fs watcher per directory, not per file: an editor that saves by writing a temporary
// file and renaming it over the original replaces the inode a per-file watch is attached to,
// and the watch would go deaf after the first save; a directory watch sees the rename and keeps
// working. Whether a file really changed is decided when the batch is flushed, so the several
// events of one save (truncate, write, rename, chmod) make one reload: it changed when its stat
// signature (inode, size, mtime, ctime) or its contents differ from what was seen last. The
// contents matter because Linux stamps files with a coarse clock (one tick, 1-4 ms): two saves
// of the same size within one tick have the same signature. See ARCHITECTURE.md for why this
// is not chokidar.
const crypto = require('node:crypto')
const fs = require('node:fs')
const path = require('node:path')
const { fileURLToPath, URL } = require('node:url')
const native = require('./native.js')
const live = require('./live.js')
const registry = require('./registry.js')
const { invalidArgType, invalidArgValue } = require('./errors.js')
const { parseKeep } = require('./options.js')
const { callerFile, parseFrom, resolveTargets, isOwnFile } = require('./targets.js')
const { liveCache } = require('./unload.js')
const { reloadKeys, fileToLoad } = require('./reload.js')

const DEFAULT_IGNORE = /[\\/]node_modules[\\/]/
const DEFAULT_DEBOUNCE_MS = 50
// A module of the watched tree required something: look for new files this long after, once.
const RESCAN_DELAY_MS = 100

function parseCallback(value, name) {
  if (value !== undefined && typeof value !== 'function') throw invalidArgType(name, 'a function', value)
  return value
}

function parsePaths(paths, baseDir) {
  if (paths === undefined) return undefined
  const list = Array.isArray(paths) ? paths : [paths]
  return list.map((p) => {
    let file
    if (p instanceof URL) {
      if (p.protocol !== 'file:') throw invalidArgValue('options.paths', p.href, 'must hold file: URLs only')
      file = fileURLToPath(p)
    } else if (typeof p === 'string') {
      if (p === '') throw invalidArgValue('options.paths', p, 'must not hold empty strings')
      file = p.startsWith('file:') ? fileURLToPath(p) : p
    } else {
      throw invalidArgType('options.paths', 'a path, a file: URL, or an array of these', p)
    }
    return path.resolve(baseDir, file)
  })
}

function parseWatchOptions(options) {
  if (options === null || typeof options !== 'object') throw invalidArgType('options', 'an object', options)
  const entry = options.entry
  if (
    entry === undefined ||
    entry === null ||
    Array.isArray(entry) ||
    !(typeof entry === 'string' || entry instanceof URL || registry.isModuleLike(entry))
  ) {
    throw invalidArgType('options.entry', 'a path, a file: URL, a specifier or a Module object', entry)
  }
  let debounceMs = DEFAULT_DEBOUNCE_MS
  if (options.debounceMs !== undefined) {
    if (typeof options.debounceMs !== 'number') {
      throw invalidArgType('options.debounceMs', 'of type number', options.debounceMs)
    }
    if (!Number.isFinite(options.debounceMs) || options.debounceMs < 0) {
      throw invalidArgValue('options.debounceMs', options.debounceMs, 'must be a finite number >= 0')
    }
    debounceMs = options.debounceMs
  }
  // ignore(file, root): `root` is the `paths` entry the file was found under, if any. The default
  // looks only below it, so that naming a directory inside node_modules in `paths` watches it.
  let ignore = (file, root) => DEFAULT_IGNORE.test(root === undefined ? file : path.sep + path.relative(root, file))
  if (options.ignore !== undefined) {
    try {
      ignore = parseKeep(options.ignore)
    } catch {
      throw invalidArgType('options.ignore', 'a RegExp or a function (path: string) => boolean', options.ignore)
    }
  }
  const from = parseFrom(options.from)
  return {
    entry,
    from,
    paths: options.paths,
    ignore,
    debounceMs,
    onReload: parseCallback(options.onReload, 'options.onReload'),
    onError: parseCallback(options.onError, 'options.onError'),
  }
}

/** What decides whether a file changed: undefined when it is gone, 'dir' for a directory. */
function signature(file) {
  let st
  try {
    st = fs.statSync(file, { throwIfNoEntry: false })
  } catch {
    return undefined
  }
  if (st === undefined) return undefined
  if (st.isDirectory()) return 'dir'
  return `${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`
}

/** The signature and a digest of the contents of `file` (undefined when it cannot be read). */
function fingerprint(file) {
  const sig = signature(file)
  if (sig === undefined || sig === 'dir') return { sig, digest: undefined }
  let digest
  try {
    digest = crypto.createHash('sha1').update(fs.readFileSync(file)).digest('base64')
  } catch {
    digest = undefined
  }
  return { sig, digest }
}

function sameFingerprint(a, b) {
  return a !== undefined && a.sig === b.sig && a.digest === b.digest
}

/** Files and directories under `root` (itself included), not entering ignored ones or .git. */
function walk(root, ignore, files, dirs) {
  const sig = signature(root)
  if (sig === undefined || ignore(root, root)) return
  if (sig !== 'dir') {
    files.add(root)
    return
  }
  const pending = [root]
  while (pending.length > 0) {
    const dir = pending.pop()
    dirs.add(dir)
    let entries
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true })
    } catch {
      continue
    }
    for (const entry of entries) {
      const full = path.join(dir, entry.name)
      if (entry.isDirectory()) {
        // `ignore` may describe a directory by its trailing separator (/[\\/]node_modules[\\/]/).
        if (entry.name !== '.git' && !ignore(full, root) && !ignore(full + path.sep, root)) pending.push(full)
      } else if (!ignore(full, root)) {
        files.add(full)
      }
    }
  }
}

/** See index.d.ts. */
function watch(options) {
  const opts = parseWatchOptions(options)
  const cache = liveCache('watch')
  const fromFile = opts.from ?? callerFile()
  const entryKeys = resolveTargets(cache, opts.entry, fromFile)
  const entryFile = entryKeys.length > 0 ? entryKeys[0] : fileToLoad(opts.entry, fromFile)
  const roots = parsePaths(opts.paths, path.dirname(fromFile))

  const files = new Map() // watched file -> fingerprint when last seen
  const dirWatchers = new Map() // directory -> fs.FSWatcher
  const pending = new Set()
  let flushTimer
  let rescanTimer
  let cacheSizeAtRescan = -1
  let closed = false

  function report(error) {
    if (closed) return
    if (opts.onError !== undefined) opts.onError(error)
    else console.error(error)
  }

  function watchable(file) {
    return path.isAbsolute(file) && !file.endsWith('.node') && !isOwnFile(file) && !opts.ignore(file)
  }

  /** The files of the entry's require tree (the entry's file even when it is not loaded). */
  function loadedTree() {
    const wanted = new Set([entryFile])
    const graph = live.flattenGraph(cache)
    const entryNode = graph.index.get(cache[entryFile])
    if (entryNode === undefined) return wanted
    const ids = live.nodeIds(graph)
    const noBoundaries = new Uint8Array(graph.nodes.length)
    const members = native.forwardClosure(graph.offsets, graph.targets, noBoundaries, Uint32Array.of(entryNode))
    for (const i of members) if (i < graph.cachedCount && watchable(ids[i])) wanted.add(ids[i])
    return wanted
  }

  function startDirWatcher(dir) {
    let watcher
    try {
      watcher = fs.watch(dir, { persistent: true }, (eventType, name) => onEvent(dir, name))
    } catch (error) {
      if (error.code !== 'ENOENT' && error.code !== 'ENOTDIR') report(error)
      return
    }
    watcher.on('error', (error) => {
      dirWatchers.delete(dir)
      watcher.close()
      // A directory that went away is not an error: it is watched again once it is back.
      if (error.code !== 'ENOENT' && error.code !== 'EPERM') report(error)
    })
    dirWatchers.set(dir, watcher)
  }

  /** Brings the watched files and directories in line with what should be watched now. */
  function rescan() {
    if (closed) return
    cacheSizeAtRescan = Object.keys(cache).length
    const wantedDirs = new Set()
    let wanted
    if (roots === undefined) {
      wanted = loadedTree()
    } else {
      wanted = new Set()
      for (const root of roots) walk(root, opts.ignore, wanted, wantedDirs)
      // A loaded file deleted from disk stays watched: its return is a change too.
      for (const file of files.keys()) if (cache[file] !== undefined) wanted.add(file)
    }
    for (const file of files.keys()) if (!wanted.has(file)) files.delete(file)
    for (const file of wanted) {
      if (!files.has(file)) files.set(file, fingerprint(file))
      wantedDirs.add(path.dirname(file))
    }
    for (const [dir, watcher] of dirWatchers) {
      if (!wantedDirs.has(dir)) {
        watcher.close()
        dirWatchers.delete(dir)
      }
    }
    for (const dir of wantedDirs) if (!dirWatchers.has(dir)) startDirWatcher(dir)
  }

  /** The `paths` entry `file` is in, or undefined. */
  function rootOf(file) {
    return roots.find((root) => file === root || file.startsWith(root + path.sep))
  }

  function onEvent(dir, name) {
    if (closed) return
    if (name === null || name === undefined) {
      // Some platforms do not say which entry changed: look at all of this directory's files.
      for (const file of files.keys()) if (path.dirname(file) === dir) pending.add(file)
    } else {
      const file = path.join(dir, String(name))
      if (files.has(file)) pending.add(file)
      else if (roots !== undefined && rootOf(file) !== undefined && !opts.ignore(file, rootOf(file))) pending.add(file)
      else return
    }
    clearTimeout(flushTimer)
    flushTimer = setTimeout(flush, opts.debounceMs)
  }

  function flush() {
    flushTimer = undefined
    if (closed) return
    const changed = []
    let treeChanged = false
    for (const file of pending) {
      if (files.has(file)) {
        const now = fingerprint(file)
        if (!sameFingerprint(files.get(file), now)) changed.push(file)
        files.set(file, now)
      } else {
        // A new file or directory under `paths`: watch it from now on.
        treeChanged = true
      }
    }
    pending.clear()
    // The entry counts even when it is not loaded (it failed to load before, or was never
    // required): saving it loads it.
    const loaded = changed.filter((file) => cache[file] !== undefined || file === entryFile)
    if (loaded.length === 0) {
      if (treeChanged) rescan()
      return
    }
    let result
    try {
      const keys = resolveTargets(cache, loaded, fromFile, { allowMain: true })
      result = reloadKeys(cache, keys, entryFile, fromFile, { from: opts.from, keep: undefined })
    } catch (error) {
      rescan()
      report(error)
      return
    }
    rescan()
    if (opts.onReload === undefined || closed) return
    try {
      opts.onReload(result.report, result.exports)
    } catch (error) {
      report(error)
    }
  }

  // A module of the tree that requires something may have loaded a new file: watch it too.
  function onRequire(parent) {
    if (rescanTimer !== undefined || !files.has(parent.filename)) return
    rescanTimer = setTimeout(() => {
      rescanTimer = undefined
      if (Object.keys(cache).length !== cacheSizeAtRescan) rescan()
    }, RESCAN_DELAY_MS)
    rescanTimer.unref()
  }

  rescan()
  if (roots === undefined) registry.state.requireObservers.add(onRequire)

  return {
    /** The files watched now, sorted. */
    watchedFiles() {
      return [...files.keys()].sort()
    },
    close() {
      if (closed) return Promise.resolve()
      closed = true
      clearTimeout(flushTimer)
      clearTimeout(rescanTimer)
      registry.state.requireObservers.delete(onRequire)
      const watchers = [...dirWatchers.values()]
      dirWatchers.clear()
      files.clear()
      pending.clear()
      return Promise.all(
        watchers.map(
          (watcher) =>
            new Promise((resolve) => {
              watcher.once('close', resolve)
              watcher.close()
            }),
        ),
      ).then(
        // 'close' is emitted before libuv has released the handles: that happens in the close
        // phase of the loop turn, which comes after the check phase of the same turn. The second
        // setImmediate runs in the next turn, when every handle is gone.
        () => new Promise((resolve) => setImmediate(() => setImmediate(resolve))),
      )
    },
  }
}

module.exports = { watch }
