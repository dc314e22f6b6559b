'use strict'
// watch(): hot reload for a running program. Watches the files of the entry's require tree (or
// the given paths), batches the events of one save, and reloads: invalidate the changed loaded
// files, require the entry again, roll back when the new code throws (reload.js).
//
// One node:fs watcher per directory, not per file: an editor that saves by writing a temporary
// file and renaming it over the original replaces the inode a per-file watch is attached to,
// and the watch would go deaf after the first save; a directory watch sees the rename and keeps
// working. Whether a file really changed is decided when the batch is flushed, so the several
// events of one save (truncate, write, rename, chmod) make one reload: it changed when its
// CONTENTS differ from what was seen last. The stat signature (inode, size, mtime, ctime) only
// says when to look: `tsc`, `cp -r`, `git checkout` and formatters rewrite files with the same
// bytes, and reloading those would unload modules for nothing (and give a second instance to
// whatever the main module also holds). See ARCHITECTURE.md for why this is not chokidar.
//
// A watched file that is a symlink (`paths`, or --preserve-symlinks) is also watched through the
// directory of its target: an edit of the target changes nothing in the link's own directory.
//
// The watcher core (createWatcher) only finds what changed; what to do with it is a function it
// is given: watch() reloads in place, `uncache-tree dev` (lib/dev/runtime.js) also decides when
// only a restart can apply the change.
//
// A directory watcher is attached to the directory's inode: when the directory is deleted and
// made again (`rm -rf dist && tsc`), it hears nothing more, and on Linux it says so only with a
// last 'rename' event naming the directory itself, and no error. Every event checks the
// directory's identity (device, inode, birth time: ext4 reuses the inode number at once); an
// event naming the directory, an error or an unexpected close replace the watcher too. A gone
// directory gets a new watcher as soon as it exists again (looked for every RETRY_MS), and its
// files are compared then, so saves made while nothing watched are not lost. A file missing
// because its whole directory is gone is waited for, not reloaded (the rebuild is still writing).
//
// `poll` replaces fs.watch (deaf on Docker bind mounts, WSL2 /mnt drives, NFS and other network
// file systems) by one timer that stats every watched file (and, with `paths`, every watched
// directory) each `intervalMs`. A changed stat signature starts the same debounce and flush; a
// file modified in the last RECENT_MS is also compared by contents, since two saves of one size
// within one clock tick have the same signature.
const crypto = require('node:crypto')
const fs = require('node:fs')
const path = require('node:path')
const { URL } = require('node:url')
const fields = require('../graph/module-fields.js')
const { isModuleLike, mainModule } = require('../graph/state.js')
const { invalidArgType, invalidArgValue, explain } = require('../errors.js')
const { parseKeep, checkObject } = require('../options.js')
const { callerFile, parseFrom, resolveTargets, isOwnFile, filePathOfUrl, isUrlLike } = require('../targets.js')
const { liveCache } = require('../graph/unload.js')
const { reloadKeys, fileToLoad } = require('./reload.js')
const hotState = require('./hot.js')
const { isEsmEntry, isEsmByFormat, isEsmFile } = require('./esm.js')
const { on } = require('../graph/hooks.js')

const DEFAULT_IGNORE = /[\\/]node_modules[\\/]/
const DEFAULT_DEBOUNCE_MS = 50
// A module of the watched tree required something: look for new files this long after, once.
const RESCAN_DELAY_MS = 100
// How often a deleted watched directory is looked for again.
const RETRY_MS = 100
// poll: the default interval between two stat rounds (chokidar's default too).
const DEFAULT_POLL_INTERVAL_MS = 100
// poll: a file modified this recently is compared by contents too, not by stat signature only.
const RECENT_MS = 2000
// A reload that loaded more modules than this is followed by a full rescan instead.
const MAX_INCREMENTAL = 5000

function parseCallback(value, name) {
  if (value !== undefined && typeof value !== 'function') throw invalidArgType(name, 'a function', value)
  return value
}

function parsePaths(paths, baseDir) {
  if (paths === undefined) return undefined
  const list = Array.isArray(paths) ? paths : [paths]
  return list.map((p) => {
    let file
    if (isUrlLike(p)) {
      file = filePathOfUrl(p, 'options.paths')
    } else if (typeof p === 'string') {
      if (p === '') throw invalidArgValue('options.paths', p, 'must not hold empty strings')
      file = p
    } else {
      throw invalidArgType('options.paths', 'a path, a file: URL, or an array of these', p)
    }
    return path.resolve(baseDir, file)
  })
}

/** `poll`: undefined (fs.watch), or the interval of the stat rounds that replace it. */
function parsePoll(poll) {
  if (poll === undefined || poll === false) return undefined
  if (poll === true) return { intervalMs: DEFAULT_POLL_INTERVAL_MS }
  if (poll === null || typeof poll !== 'object') {
    throw invalidArgType('options.poll', 'a boolean or an object { intervalMs?: number }', poll)
  }
  const { intervalMs = DEFAULT_POLL_INTERVAL_MS } = checkObject(poll, 'options.poll', 'watch poll')
  if (typeof intervalMs !== 'number') throw invalidArgType('options.poll.intervalMs', 'of type number', intervalMs)
  if (!Number.isFinite(intervalMs) || intervalMs < 1) {
    throw invalidArgValue('options.poll.intervalMs', intervalMs, 'must be a finite number >= 1')
  }
  return { intervalMs }
}

function parseWatchOptions(options) {
  if (options === null || typeof options !== 'object') throw invalidArgType('options', 'an object', options)
  checkObject(options, 'options', 'watch')
  const entry = options.entry
  if (
    entry === undefined ||
    entry === null ||
    Array.isArray(entry) ||
    !(typeof entry === 'string' || entry instanceof URL || isModuleLike(entry))
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
    poll: parsePoll(options.poll),
    onReload: parseCallback(options.onReload, 'options.onReload'),
    onError: parseCallback(options.onError, 'options.onError'),
    onWarning: parseCallback(options.onWarning, 'options.onWarning'),
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

/** Whether a signature says the file was modified in the last RECENT_MS. */
function recentlyModified(sig) {
  if (sig === undefined || sig === 'dir') return false
  const parts = sig.split(':')
  return Date.now() - Math.max(Number(parts[2]), Number(parts[3])) < RECENT_MS
}

/**
 * A directory's identity, with its mtime when `withTime`; undefined when it is not a directory.
 * The inode alone is not enough: ext4 gives a directory made right after `rm -rf` the inode
 * number the deleted one had. The birth time (where the file system keeps one) tells them apart.
 */
function dirIdentity(dir, withTime = false) {
  let st
  try {
    st = fs.statSync(dir, { throwIfNoEntry: false })
  } catch {
    return undefined
  }
  if (st === undefined || !st.isDirectory()) return undefined
  const id = `${st.dev}:${st.ino}:${st.birthtimeMs}`
  return withTime ? `${id}:${st.mtimeMs}` : id
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

/**
 * Whether two fingerprints are the same file contents. The digests decide when both files could
 * be read; the signature only when one could not (gone, unreadable): then there is nothing to
 * compare but whether it exists.
 */
function sameFingerprint(a, b) {
  if (a === undefined) return false
  if (a.digest !== undefined && b.digest !== undefined) return a.digest === b.digest
  return a.sig === b.sig
}

/** The real file a symlink points to, or undefined when `file` is not a symlink (or dangles). */
function linkTarget(file) {
  try {
    if (!fs.lstatSync(file).isSymbolicLink()) return undefined
    return fs.realpathSync(file)
  } catch {
    return undefined
  }
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

/**
 * The watcher core: watches the entry's loaded tree (or `roots`), plus `extraRoots` when given,
 * and the files modules tied to themselves with hot(m).watchFile(); calls
 * `opts.apply({ changed, bubbled, tiedTo })` with the files whose contents changed (and the
 * modules that called hot.invalidate()), then watches what is loaded now.
 * @param {{ cache: object, entryFile: string, roots?: string[], extraRoots?: string[],
 *   extraFiles?: () => Iterable<string>, ignore: Function, debounceMs: number,
 *   poll?: { intervalMs: number }, persistent?: boolean, report: (error: unknown) => void,
 *   apply: Function }} opts `persistent: false`: the watchers and timers do not keep the process
 *   alive (the dev runner's child ends when the program does)
 */
function createWatcher(opts) {
  const { cache, entryFile, roots } = opts
  const persistent = opts.persistent !== false
  const files = new Map() // watched file -> fingerprint when last seen
  const links = new Map() // watched file that is a symlink -> the real file it points to
  const linkedFrom = new Map() // real file -> the watched symlinks that point to it
  const tiedTo = new Map() // file tied with hot(m).watchFile() -> Set of the cache keys of those modules
  const bubbled = new Set() // cache keys of modules that called hot.invalidate(), not reloaded yet
  const dirWatchers = new Map() // directory -> { watcher: fs.FSWatcher, id: identity it was attached to }
  const missingDirs = new Set() // watched directories that are gone, waited for (not with poll)
  const polled = new Map() // poll: watched file -> stat signature at the last round
  const polledDirs = new Map() // poll with `paths`: watched directory -> identity and mtime at the last round
  const pending = new Set()
  let flushTimer
  let rescanTimer
  let retryTimer
  let pollTimer
  let rescanWanted = false
  // Modules loaded while a change is applied (tree mode): refresh() watches them.
  let loadedDuringApply
  const stopLoads = on('load', (m) => {
    if (loadedDuringApply !== undefined && loadedDuringApply.length <= MAX_INCREMENTAL) loadedDuringApply.push(m)
  })
  let cacheSizeAtRescan = -1
  let closed = false

  function report(error) {
    if (!closed) opts.report(error)
  }

  /** A timer that keeps the process alive only when the watcher does (see `persistent`). */
  function timer(fn, ms) {
    const t = setTimeout(fn, ms)
    if (!persistent) t.unref()
    return t
  }

  function watchable(file) {
    return path.isAbsolute(file) && !file.endsWith('.node') && !isOwnFile(file) && !opts.ignore(file)
  }

  /**
   * The files of the entry's require tree (the entry's file even when it is not loaded): a walk
   * of `children` from the entry, the cached instances only.
   */
  function loadedTree() {
    const wanted = new Set([entryFile])
    tiedTo.clear()
    const entry = cache[entryFile]
    if (!isModuleLike(entry)) return wanted
    const seen = new Set([entry])
    const queue = [entry]
    for (let q = 0; q < queue.length; q++) {
      const m = queue[q]
      const file = fields.filenameOf(m)
      if (file !== undefined && cache[file] === m && watchable(file)) {
        wanted.add(file)
        for (const tied of hotState.watchFilesOf(m)) {
          wanted.add(tied)
          if (!tiedTo.has(tied)) tiedTo.set(tied, new Set())
          tiedTo.get(tied).add(file)
        }
      }
      for (const child of fields.childrenOf(m)) {
        if (seen.has(child) || !isModuleLike(child)) continue
        seen.add(child)
        queue.push(child)
      }
    }
    return wanted
  }

  function scheduleFlush() {
    clearTimeout(flushTimer)
    flushTimer = timer(flush, opts.debounceMs)
  }

  function startDirWatcher(dir) {
    const id = dirIdentity(dir)
    if (id === undefined) {
      waitForDir(dir)
      return
    }
    let watcher
    try {
      watcher = fs.watch(dir, { persistent }, (eventType, name) => onEvent(dir, name))
    } catch (error) {
      if (error.code === 'ENOENT' || error.code === 'ENOTDIR') waitForDir(dir)
      else report(error)
      return
    }
    const entry = { watcher, id }
    watcher.on('error', (error) => {
      // A directory that went away is not an error: it is watched again once it is back.
      if (error.code !== 'ENOENT' && error.code !== 'EPERM') report(error)
      detach(dir, entry)
    })
    // Closed by something else than this watcher (we remove the entry before closing it).
    watcher.on('close', () => detach(dir, entry))
    dirWatchers.set(dir, entry)
  }

  /** Drops `entry`'s watcher of `dir`, and attaches a new one once the directory exists. */
  function detach(dir, entry) {
    if (closed || dirWatchers.get(dir) !== entry) return
    dirWatchers.delete(dir)
    entry.watcher.close()
    waitForDir(dir)
  }

  function waitForDir(dir) {
    if (closed) return
    missingDirs.add(dir)
    if (retryTimer === undefined) retryTimer = timer(retryMissing, RETRY_MS)
  }

  /** Watches again the directories that are back, and compares their files now. */
  function retryMissing() {
    retryTimer = undefined
    if (closed) return
    let back = false
    for (const dir of [...missingDirs]) {
      if (dirIdentity(dir) === undefined) {
        // A missing `paths` entry that came back as a file: the rescan watches it.
        if ((roots ?? opts.extraRoots ?? []).includes(dir) && signature(dir) !== undefined) {
          missingDirs.delete(dir)
          back = true
        }
        continue
      }
      missingDirs.delete(dir)
      startDirWatcher(dir)
      // Saves made while nothing watched this directory are looked at now.
      for (const file of files.keys()) if (file.startsWith(dir + path.sep)) pending.add(file)
      back = true
    }
    if (back) {
      if (roots !== undefined || opts.extraRoots !== undefined) rescanWanted = true // new files and directories below it
      scheduleFlush()
    }
    if (missingDirs.size > 0 && retryTimer === undefined) retryTimer = timer(retryMissing, RETRY_MS)
  }

  /**
   * A watcher whose directory was deleted (and maybe made again) hears nothing more: replace it.
   * `force`: the event named the directory itself, which is how Linux reports its deletion
   * (a file inside with the directory's own name costs one needless new watcher).
   */
  function checkDir(dir, force = false) {
    const entry = dirWatchers.get(dir)
    if (entry === undefined || (!force && dirIdentity(dir) === entry.id)) return
    detach(dir, entry)
    // Now rather than in RETRY_MS: the directory is usually back already. One retry timer at most.
    clearTimeout(retryTimer)
    retryMissing()
  }

  /** Brings the watched files and directories in line with what should be watched now. */
  function rescan() {
    if (closed) return
    rescanWanted = false
    cacheSizeAtRescan = Object.keys(cache).length
    const wantedDirs = new Set()
    let wanted
    const walked = roots ?? opts.extraRoots
    if (roots === undefined) wanted = loadedTree()
    else wanted = new Set()
    if (walked !== undefined) {
      for (const root of walked) {
        walk(root, opts.ignore, wanted, wantedDirs)
        // A `paths` directory that is gone now is waited for.
        if (signature(root) === undefined) wantedDirs.add(root)
      }
      // A loaded file deleted from disk stays watched: its return is a change too.
      for (const file of files.keys()) if (cache[file] !== undefined) wanted.add(file)
    }
    if (opts.extraFiles !== undefined) for (const file of opts.extraFiles()) wanted.add(file)
    for (const file of files.keys()) {
      if (!wanted.has(file)) {
        files.delete(file)
        polled.delete(file)
        unlink(file)
      }
    }
    for (const file of wanted) {
      if (!files.has(file)) {
        const fp = fingerprint(file)
        files.set(file, fp)
        polled.set(file, fp.sig)
        relink(file)
      }
      wantedDirs.add(path.dirname(file))
    }
    // A symlink's target changes in its own directory: watch that one too (fs.watch mode).
    for (const target of linkedFrom.keys()) wantedDirs.add(path.dirname(target))
    if (opts.poll !== undefined) {
      if (roots === undefined && opts.extraRoots === undefined) return // the files' own stats say everything
      for (const dir of polledDirs.keys()) if (!wantedDirs.has(dir)) polledDirs.delete(dir)
      for (const dir of wantedDirs) if (!polledDirs.has(dir)) polledDirs.set(dir, dirIdentity(dir, true))
      return
    }
    for (const [dir, entry] of dirWatchers) {
      if (!wantedDirs.has(dir)) {
        dirWatchers.delete(dir)
        entry.watcher.close()
      }
    }
    for (const dir of missingDirs) if (!wantedDirs.has(dir)) missingDirs.delete(dir)
    for (const dir of wantedDirs) if (!dirWatchers.has(dir) && !missingDirs.has(dir)) startDirWatcher(dir)
  }

  /** Records where the watched `file` points when it is a symlink (and forgets a former target). */
  function relink(file) {
    const target = linkTarget(file)
    if (links.get(file) === target) return
    unlink(file)
    if (target === undefined || target === file) return
    links.set(file, target)
    if (!linkedFrom.has(target)) linkedFrom.set(target, new Set())
    linkedFrom.get(target).add(file)
  }

  function unlink(file) {
    const target = links.get(file)
    if (target === undefined) return
    links.delete(file)
    const from = linkedFrom.get(target)
    from.delete(file)
    if (from.size === 0) linkedFrom.delete(target)
  }

  /**
   * After a change was applied: the watched set follows what is loaded now. In tree mode that is
   * the files the reload loaded (they were required through the tree, by definition) plus what
   * they tied, minus the files no longer loaded; a walk of the whole tree (rescan) cost 250-870 ms
   * per reload in a 30k-module app, before the first request could see the new code.
   */
  function refresh() {
    const loaded = loadedDuringApply
    loadedDuringApply = undefined
    if (closed) return
    if (roots !== undefined || loaded === undefined || loaded.length > MAX_INCREMENTAL) {
      rescan()
      return
    }
    rescanWanted = false
    cacheSizeAtRescan = Object.keys(cache).length
    for (const m of loaded) {
      const file = fields.filenameOf(m)
      if (file === undefined || cache[file] !== m || !watchable(file)) continue
      addFile(file)
      for (const tied of hotState.watchFilesOf(m)) {
        addFile(tied)
        if (!tiedTo.has(tied)) tiedTo.set(tied, new Set())
        tiedTo.get(tied).add(file)
      }
    }
    for (const [tied, owners] of tiedTo) {
      for (const owner of owners) if (cache[owner] === undefined) owners.delete(owner)
      if (owners.size === 0) tiedTo.delete(tied)
    }
    const extraFiles = opts.extraFiles === undefined ? undefined : new Set(opts.extraFiles())
    for (const file of files.keys()) {
      if (cache[file] !== undefined || file === entryFile || tiedTo.has(file) || extraFiles?.has(file)) continue
      if (rootOf(file) !== undefined) continue // found by walking --watch / extra roots
      files.delete(file)
      polled.delete(file)
      unlink(file)
    }
  }

  /** Watches `file` from now on (its directory too), with what it holds now as its contents. */
  function addFile(file) {
    if (files.has(file)) return
    const fp = fingerprint(file)
    files.set(file, fp)
    polled.set(file, fp.sig)
    relink(file)
    if (opts.poll !== undefined) return
    const dirs = [path.dirname(file)]
    const target = links.get(file)
    if (target !== undefined) dirs.push(path.dirname(target))
    for (const dir of dirs) if (!dirWatchers.has(dir) && !missingDirs.has(dir)) startDirWatcher(dir)
  }

  /** The `paths` (or extra) entry `file` is in, or undefined. */
  function rootOf(file) {
    return (roots ?? opts.extraRoots ?? []).find((root) => file === root || file.startsWith(root + path.sep))
  }

  function onEvent(dir, name) {
    if (closed) return
    checkDir(dir, name !== null && name !== undefined && String(name) === path.basename(dir))
    if (name === null || name === undefined) {
      // Some platforms do not say which entry changed: look at all of this directory's files.
      for (const file of files.keys()) if (path.dirname(file) === dir) pending.add(file)
    } else {
      const file = path.join(dir, String(name))
      const viaLinks = linkedFrom.get(file)
      if (viaLinks !== undefined) for (const link of viaLinks) pending.add(link)
      if (files.has(file)) pending.add(file)
      else if (rootOf(file) !== undefined && !opts.ignore(file, rootOf(file))) pending.add(file)
      else if (viaLinks === undefined) return
    }
    scheduleFlush()
  }

  /** One stat round (poll mode): what changed since the last round starts the debounce. */
  function pollRound() {
    pollTimer = undefined
    if (closed) return
    let changed = false
    for (const file of files.keys()) {
      const sig = signature(file)
      const last = polled.get(file)
      polled.set(file, sig)
      if (sig !== last) {
        pending.add(file)
        changed = true
      } else if (!pending.has(file) && recentlyModified(sig) && !sameFingerprint(files.get(file), fingerprint(file))) {
        pending.add(file)
        changed = true
      }
    }
    // With `paths`, a directory whose entries changed may hold new files or directories.
    for (const [dir, last] of polledDirs) {
      const now = dirIdentity(dir, true)
      if (now === undefined && (roots ?? opts.extraRoots).includes(dir) && signature(dir) !== undefined && !files.has(dir)) {
        pending.add(dir) // a missing `paths` entry that came back as a file
        changed = true
        continue
      }
      if (now === last) continue
      polledDirs.set(dir, now)
      let entries = []
      try {
        entries = fs.readdirSync(dir)
      } catch {}
      for (const name of entries) {
        const full = path.join(dir, name)
        const root = rootOf(full)
        if (!files.has(full) && name !== '.git' && root !== undefined && !opts.ignore(full, root)) {
          pending.add(full)
          changed = true
        }
      }
    }
    if (changed) scheduleFlush()
    pollTimer = timer(pollRound, opts.poll.intervalMs)
  }

  function flush() {
    flushTimer = undefined
    if (closed) return
    const changed = []
    let treeChanged = rescanWanted
    for (const file of pending) {
      if (files.has(file)) {
        const now = fingerprint(file)
        // Gone with its whole directory (a rebuild deleted the output folder): wait for the
        // rebuild to write it again instead of reloading without it.
        if (now.sig === undefined && dirIdentity(path.dirname(file)) === undefined) {
          if (opts.poll === undefined && !missingDirs.has(path.dirname(file))) checkDir(path.dirname(file))
          continue
        }
        if (!sameFingerprint(files.get(file), now)) {
          // A symlink in `paths` to a loaded module: require.cache knows it by its real path.
          const target = links.get(file)
          changed.push(target !== undefined && cache[file] === undefined && cache[target] !== undefined ? target : file)
        }
        files.set(file, now)
        // A symlink may point elsewhere now.
        if (links.has(file) || now.sig === undefined) {
          relink(file)
          treeChanged = true
        }
      } else {
        // A new file or directory under `paths`: watch it from now on.
        treeChanged = true
      }
    }
    pending.clear()
    const bubbledNow = [...bubbled].filter((key) => cache[key] !== undefined)
    bubbled.clear()
    if (changed.length === 0 && bubbledNow.length === 0) {
      if (treeChanged) rescan()
      return
    }
    loadedDuringApply = []
    try {
      opts.apply({ changed, bubbled: bubbledNow, tiedTo })
    } catch (error) {
      report(error)
    }
    refresh()
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

  // hot(m).invalidate() of a watched module: reload it and its importers, past its own accept.
  // Returns whether this watcher takes it (else hot.js invalidates it on the next turn).
  function onInvalidate(m) {
    const file = fields.filenameOf(m)
    if (closed || file === undefined || cache[file] !== m || !files.has(file)) return false
    bubbled.add(file)
    scheduleFlush()
    return true
  }

  rescan()
  const stopRequires = roots === undefined ? on('require', onRequire) : () => {}
  const stopInvalidates = hotState.onInvalidate(onInvalidate)
  if (opts.poll !== undefined) pollTimer = timer(pollRound, opts.poll.intervalMs)

  return {
    /** The files watched now, sorted. */
    watchedFiles() {
      return [...files.keys()].sort()
    },
    /** Watches a file of `extraFiles` now, with what it holds now as its first contents. */
    watchNow(file) {
      if (!closed) addFile(file)
    },
    close() {
      if (closed) return Promise.resolve()
      closed = true
      clearTimeout(flushTimer)
      clearTimeout(rescanTimer)
      clearTimeout(retryTimer)
      clearTimeout(pollTimer)
      stopRequires()
      stopInvalidates()
      stopLoads()
      const watchers = [...dirWatchers.values()].map((entry) => entry.watcher)
      dirWatchers.clear()
      missingDirs.clear()
      files.clear()
      polled.clear()
      polledDirs.clear()
      pending.clear()
      links.clear()
      linkedFrom.clear()
      tiedTo.clear()
      bubbled.clear()
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

/**
 * What a batch of changed files asks for: `modules`, the cache keys to invalidate (a file tied
 * with hot(m).watchFile() stands for its modules; the entry counts even when it is not loaded:
 * saving it loads it); `esm`, the ES modules among them (they cannot be reloaded); `others`,
 * changed files that are neither loaded nor tied (`paths` files that are not modules).
 */
function classifyChanges(cache, changed, tiedTo, entryFile) {
  const modules = new Set()
  const esm = []
  const others = []
  for (const file of changed) {
    const cached = cache[file] !== undefined
    if (cached && isEsmEntry(cache[file])) esm.push(file)
    else if (cached || file === entryFile) modules.add(file)
    else if (tiedTo.has(file)) for (const key of tiedTo.get(file)) modules.add(key)
    else if (isEsmByFormat(file)) esm.push(file)
    else others.push(file)
  }
  return { modules: [...modules], esm, others }
}


/** The cache keys of the modules `m` required (its `children`), for staleWarnings. */
function childKeys(m) {
  const keys = new Set()
  if (!isModuleLike(m)) return keys
  for (const child of fields.childrenOf(m)) {
    const file = fields.filenameOf(child)
    if (file !== undefined) keys.add(file)
  }
  return keys
}

function uncacheWarning(code, message, details) {
  const warning = new Error(message)
  warning.name = 'UncacheWarning'
  warning.code = code
  return Object.assign(warning, details)
}

/**
 * Warnings for a reload that left old code running: the main module (never unloaded) still holds
 * the old instance of a reloaded module it required (`mainChildren`: its children before the
 * reload), or a declining module refused the update. `report.skipped` alone says this in a way
 * no one reads.
 */
function staleWarnings(report, { mainFile, mainChildren, entryFile, targets }) {
  const warnings = []
  for (const skip of report.skipped) {
    if (skip.reason === 'main') {
      // The entry is what onReload hands over: holding it until the swap is the pattern.
      const held = report.removed.filter((id) => mainChildren.has(id) && id !== entryFile)
      if (held.length === 0 && !targets.includes(mainFile)) continue
      const message =
        held.length > 0
          ? `${held.join(', ')} reloaded, but the main module ${mainFile} still holds the old instance ` +
            `(it required ${held.length === 1 ? 'it' : 'them'} and is never unloaded): it keeps using the previous code, ` +
            'and the program now has two instances. Require it in the main module through a module that accepts ' +
            'updates (hot(module).accept), or restart (`uncache-tree dev` restarts here).'
          : `the change reached the main module ${mainFile}, which is never unloaded: it keeps running its previous ` +
            'code. Restart to run it (`uncache-tree dev` restarts here), or move that code into a module it requires.'
      warnings.push(uncacheWarning('UNCACHE_HELD_BY_MAIN', message, { id: mainFile, modules: held }))
    } else if (skip.reason === 'declined') {
      const blocked = skip.blocked ?? []
      warnings.push(
        uncacheWarning(
          'UNCACHE_DECLINED',
          `${skip.id} declines updates (hot(module).decline()), so the change of ${blocked.join(', ') || 'its dependencies'} ` +
            'was not applied: the previous code keeps running. Restart to run it (`uncache-tree dev` restarts here).',
          { id: skip.id, modules: blocked },
        ),
      )
    }
  }
  return warnings
}

/** See index.d.ts. */
function watch(options) {
  const opts = parseWatchOptions(options)
  const cache = liveCache('watch')
  const fromFile = opts.from ?? callerFile()
  const entryKeys = resolveTargets(cache, opts.entry, fromFile, { name: 'options.entry' })
  const entryFile = entryKeys.length > 0 ? entryKeys[0] : fileToLoad(opts.entry, fromFile)
  if (isEsmFile(cache, entryFile)) throw explain.esm(entryFile, 'watch')
  const roots = parsePaths(opts.paths, path.dirname(fromFile))
  let closed = false

  function report(error) {
    if (closed) return
    if (opts.onError !== undefined) opts.onError(error)
    else console.error(error)
  }

  function warn(warning) {
    if (closed) return
    if (opts.onWarning !== undefined) opts.onWarning(warning)
    else process.emitWarning(warning)
  }

  function apply({ changed, bubbled, tiedTo }) {
    const { modules, esm } = classifyChanges(cache, changed, tiedTo, entryFile)
    for (const file of esm) report(explain.esm(file, 'watch'))
    const targets = [...new Set([...modules, ...bubbled])]
    if (targets.length === 0) return
    const main = mainModule()
    const mainFile = main?.filename
    const mainChildren = childKeys(main)
    let result
    try {
      const keys = resolveTargets(cache, targets, fromFile, { allowMain: true })
      result = reloadKeys(cache, keys, entryFile, fromFile, { from: opts.from, keep: undefined })
    } catch (error) {
      report(error)
      return
    }
    for (const warning of staleWarnings(result.report, { mainFile, mainChildren, entryFile, targets })) {
      try {
        warn(warning)
      } catch (error) {
        report(error)
      }
    }
    if (opts.onReload === undefined || closed) return
    try {
      opts.onReload(result.report, result.exports)
    } catch (error) {
      report(error)
    }
  }

  const watcher = createWatcher({
    cache,
    entryFile,
    roots,
    ignore: opts.ignore,
    debounceMs: opts.debounceMs,
    poll: opts.poll,
    report,
    apply,
  })
  return {
    watchedFiles: () => watcher.watchedFiles(),
    close() {
      closed = true
      return watcher.close()
    },
  }
}

module.exports = { watch, createWatcher, classifyChanges, staleWarnings, childKeys, mainModule, DEFAULT_IGNORE }
