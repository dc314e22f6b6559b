/// <reference types="node" />
import type { URL } from 'node:url'

/**
 * What to unload: an absolute path, a `file:` URL (string or `URL`), a relative (`./a`) or bare
 * (`left-pad`) specifier resolved exactly as `require` would resolve it from the calling file
 * (or from `options.from`), a `Module` object (`module`, `require.cache[id]`), or an array of
 * these (validated whole: one bad element throws and nothing is unloaded). Any other URL (`http:`,
 * `data:`, `file://otherhost/…`), as a URL object or a string, is a `RangeError` with code
 * `ERR_INVALID_ARG_VALUE`, here and as `options.from`; `file://localhost/…` is this host.
 *
 * Options objects: every function checks the names in its options before it does anything, and an
 * unknown name is a `RangeError` (`ERR_INVALID_ARG_VALUE`) naming the closest known one, so a typo
 * never runs with defaults. Symbol keys are ignored.
 *
 * @example
 * uncacheTree('./plugin', { dryrun: true })
 * // RangeError [ERR_INVALID_ARG_VALUE]: The argument 'options.dryrun' is not an option of
 * // uncacheTree() (did you mean 'dryRun'?); its options are 'from', 'shared', 'keep', 'dryRun'. Received true
 * uncacheTree(new URL('http://example.com/plugin.js'))
 * // RangeError [ERR_INVALID_ARG_VALUE]: The argument 'target' must be a file: URL of this host
 * // (file:///path/to/file.js) or a path: 'http:' URLs cannot be required. Received 'http://example.com/plugin.js'
 */
export type Target = string | URL | NodeModule | ReadonlyArray<string | URL | NodeModule>

/** Why a module the unload met was left loaded. */
export type SkipReason = 'native-addon' | 'main' | 'loading' | 'not-a-module' | 'kept-by-option' | 'declined'

/**
 * What still holds a removed module's old instance, out of this library's reach: Node's ESM loader,
 * require(esm), Node >= 22's private last-parent slot, or a reference other code made
 * unchangeable (`unwritable`: a frozen or sealed `children` array, a getter-only or read-only
 * `parent`, a locked `require.cache` entry).
 */
export type PinnedBy = 'esm-loader' | 'require-esm' | 'last-parent' | 'unwritable'

/**
 * What an unload did. Every id is a `require.cache` key (an absolute filename; the main module
 * too, never `'.'`). The same shape comes from every unloading function.
 */
export interface UnloadReport {
  /** `require.cache` keys deleted, importers before the modules they import (the order dispose handlers ran). A module cached under several keys is listed under each; a module that other code dropped from the cache is listed under the key it loaded with. Each key is listed once, also when a restore removes such a copy and the module cached under that key now. */
  removed: string[]
  /** The modules a removed module requires directly that stay, each with the live modules outside the unloaded set that require it directly (`heldBy`; empty only when the module stays through a module other code deleted from the cache). What they require stays too and is not listed. */
  kept: { id: string; heldBy: string[] }[]
  /** Modules met and left loaded, with the reason. A skipped module is not walked: its dependencies stay with it. */
  skipped: { id: string; reason: SkipReason; blocked?: string[] }[]
  /** Removed modules whose old instance is still held: by the ESM loader (`esm-loader`), require(esm) (`require-esm`), on Node >= 22 a surviving module's private last-parent slot (`last-parent`, one old shell, bounded), or a reference that cannot be changed (`unwritable`: everything else was cut, and the unload did not throw). A subset of `removed`. */
  pinned: { id: string; by: PinnedBy }[]
  /** `Module._pathCache` entries dropped (they pointed at removed files). */
  pathCacheEntries: number
  /** What dispose handlers threw; unloading went on. A rejection of an async handler (not awaited) is appended when it settles. A nested unloading call from a handler lands here as `ERR_UNCACHE_REENTRANT`. */
  errors: unknown[]
}

export interface UnloadOptions {
  /** Where relative and bare specifiers resolve from: a file path or `file:` URL, as `createRequire` takes it. Default: the calling file. */
  from?: string | URL
  /** `'keep'` (default): a dependency that a live module outside the tree still requires stays loaded, with its identity. `'remove'`: unload everything reachable (what clear-module and decache do). */
  shared?: 'keep' | 'remove'
  /** Modules never unloaded, tested on their `require.cache` key, e.g. `/node_modules/`. A matching module is skipped (`kept-by-option`) and not walked. */
  keep?: RegExp | ((id: string) => boolean)
  /** Compute and return the report; change nothing. */
  dryRun?: boolean
}

/**
 * Unloads `target` and every module in its `children` tree that no live module outside the
 * unloaded set still requires, and cuts every reference Node keeps to them: `require.cache`
 * keys, the `children` arrays of all their requirers (cached or not), survivors' `parent`
 * pointers, `Module._pathCache` entries. Dispose handlers (`hot(module).dispose`) run first,
 * importers before the modules they import. Not cached: an empty report (idempotent).
 *
 * @throws {UncacheError} `ERR_UNCACHE_UNRESOLVED`, `ERR_UNCACHE_NATIVE_ADDON`, `ERR_UNCACHE_BUILTIN`,
 * `ERR_UNCACHE_MAIN`, `ERR_UNCACHE_LOADING`, `ERR_UNCACHE_UNSUPPORTED_RUNTIME`; a `TypeError`
 * (`ERR_INVALID_ARG_TYPE`) or `RangeError` (`ERR_INVALID_ARG_VALUE`) for bad arguments, an unknown
 * option name, or a URL that is not a `file:` URL of this host (see {@link Target}).
 *
 * @example
 * const { uncacheTree } = require('uncache-tree')
 * let plugin = require('./plugins/greeter')
 * const report = uncacheTree('./plugins/greeter', { keep: /node_modules/ })
 * console.log(report.removed) // ['/app/plugins/greeter/index.js', '/app/plugins/greeter/strings.js']
 * console.log(report.kept)    // [{ id: '/app/lib/db.js', heldBy: ['/app/server.js'] }]
 * plugin = require('./plugins/greeter') // fresh code, fresh private state; db.js is the same instance
 */
export function uncacheTree(target: Target, options?: UnloadOptions): UnloadReport

export interface InvalidateOptions {
  /** Where relative and bare specifiers resolve from: a file path or `file:` URL. Default: the calling file. */
  from?: string | URL
  /** Modules never unloaded, tested on their `require.cache` key (e.g. `/node_modules/`): the walk stops there (`skipped: 'kept-by-option'`). */
  keep?: RegExp | ((id: string) => boolean)
  /** Compute and return the report; change nothing, run no handler. */
  dryRun?: boolean
}

/**
 * For hot reload: unloads each changed module and every module that (transitively) requires it,
 * so the next `require` sees the new code everywhere. The walk up the importers (native core)
 * stops at an importer that accepted that dependency (`hot(m).accept(deps, cb)`: it stays, and
 * `cb(updatedIds)` runs before `invalidate` returns), at a self-accepting module (`hot(m).accept()`:
 * unloaded and required again by the library, through the importers that keep it), and at the main
 * module, `.node` addons, modules still loading and `keep` matches (all in `skipped`). A change whose
 * walk reaches a declining module (`hot(m).decline()`) is refused whole: nothing it would unload is
 * unloaded, and the decliner is reported `{ id, reason: 'declined', blocked: [changed ids] }`.
 * Dependencies of unloaded modules that did not change stay loaded, with their identity. Dispose
 * handlers run first, importers first. What dispose handlers, accept callbacks and self-accepting
 * modules' new code throw is in `report.errors`; the unload completes. `kept` is always empty.
 *
 * @throws {UncacheError} `ERR_UNCACHE_UNRESOLVED`, `ERR_UNCACHE_NATIVE_ADDON`, `ERR_UNCACHE_BUILTIN`,
 * `ERR_UNCACHE_LOADING`, `ERR_UNCACHE_UNSUPPORTED_RUNTIME`; a `TypeError`/`RangeError` for bad arguments.
 * `ERR_UNCACHE_ESM` for an ES module (imported, or loaded with require(esm)): Node never evaluates one
 * twice in a process, so nothing is unloaded; restart instead (`uncache-tree dev` does) or build it as CommonJS.
 * A changed main module is not an error: it is reported `skipped: 'main'`.
 *
 * @example
 * const { invalidate } = require('uncache-tree')
 * const report = invalidate('./routes/users.js')
 * report.removed // ['/app/router.js', '/app/routes/users.js']  importers first
 * report.skipped // [{ id: '/app/server.js', reason: 'main' }]
 * const router = require('./router') // new router and route; lib/db.js is the same instance
 */
export function invalidate(changed: Target, options?: InvalidateOptions): UnloadReport

export interface ReloadOptions {
  /** Where a relative or bare `target` resolves from, and the module that requires the new version. Default: the calling file. */
  from?: string | URL
  /** Modules never unloaded (in the tree and among the importers), as in {@link uncacheTree} and {@link invalidate}. */
  keep?: RegExp | ((id: string) => boolean)
  /**
   * `true` (default): the target's whole tree is reloaded (as {@link uncacheTree} unloads it, with
   * `shared`), with every importer of the target. `false`: only the target and its importers, as
   * {@link invalidate} unloads them; the target's dependencies keep their instances.
   *
   * @example
   * reload('./plugins/x')                  // plugins/x and every file it requires are fresh
   * reload('./plugins/x', { tree: false }) // only plugins/x/index.js and its importers
   */
  tree?: boolean
  /** With `tree`: `'keep'` (default) keeps a dependency that a live module outside the tree still requires; `'remove'` reloads it too. */
  shared?: 'keep' | 'remove'
}

/** What {@link reload} throws, and {@link watch} hands to `onError`, when the new code throws. */
export interface ReloadFailedError extends UncacheError {
  readonly code: 'ERR_UNCACHE_RELOAD_FAILED'
  /** The file being reloaded (the target, or watch()'s entry). */
  readonly id: string
  /** What the new code threw (SyntaxError, a throw at the top, MODULE_NOT_FOUND for a deleted file...). The message names the file and line that threw when its stack tells (another file of the tree than the target, often), and, when that line is in `node_modules`, the first line outside it that called in (`…/prom-client/lib/registry.js:103, called from /app/metrics.js:5`). */
  readonly cause: unknown
  /** The invalidate report: every id in `removed` was put back; `errors` has what dispose handlers threw. */
  readonly report: UnloadReport
}

/**
 * Unloads the target's tree as {@link uncacheTree} does and every importer of the target as
 * {@link invalidate} does (`tree: false`: the target and its importers only), then requires the
 * target again as the calling file (the new module's parent).
 * The old version's dispose handlers run before the new code loads (a server frees its port first).
 * When the new code throws while loading (or an accept callback or self-accepting module's new code
 * does), everything is put back as it was before the unload: the same Module objects under the same
 * `require.cache` keys in the same order, every `children` array element by element, parents,
 * `Module._pathCache` entries; modules the failed code loaded are unloaded (their dispose handlers
 * run: nothing half-loaded stays). Then a {@link ReloadFailedError} is thrown. The program keeps the
 * old version, but the restored modules are the disposed old instances: what their handlers stopped
 * stays stopped until a reload succeeds. A target not loaded yet is simply loaded.
 *
 * @throws {ReloadFailedError} the new code threw; the old version was restored.
 * @throws {UncacheError} `ERR_UNCACHE_UNRESOLVED`, `ERR_UNCACHE_NATIVE_ADDON`, `ERR_UNCACHE_BUILTIN`,
 * `ERR_UNCACHE_MAIN`, `ERR_UNCACHE_LOADING`, `ERR_UNCACHE_UNSUPPORTED_RUNTIME`, `ERR_UNCACHE_ESM` (an ES
 * module: it would come back with its old namespace); a `TypeError` for an array or a wrong type, a
 * `RangeError` for `dryRun: true`.
 *
 * @example
 * const { reload } = require('uncache-tree')
 * try {
 *   const { exports: plugin, report } = reload('./plugins/greeter')
 *   plugin.start()
 * } catch (error) {
 *   if (error.code !== 'ERR_UNCACHE_RELOAD_FAILED') throw error
 *   console.error('new version broken, the old one keeps running:', error.cause)
 * }
 */
export function reload<T = any>(target: string | URL | NodeModule, options?: ReloadOptions): { exports: T; report: UnloadReport }

/** Options of {@link snapshot} and {@link isolate}. */
export interface SnapshotOptions {
  /** Modules loaded since that restore() leaves loaded (reported `skipped: 'kept-by-option'`), with what they loaded since, tested on the `require.cache` key, e.g. `/node_modules/`. */
  keep?: RegExp | ((id: string) => boolean)
  /** Called after each `restore()` with its report: where a package kept loaded gets its own registry reset (e.g. `mongoose.deleteModel(/.+/)`, prom-client's `register.clear()`). */
  onRestore?: (report: UnloadReport) => void
}

/** The modules loaded at one moment; see {@link snapshot}. */
export interface Snapshot {
  /** `require.cache` keys of the modules loaded since the snapshot and still loaded, in load order. A module counts as loaded before when the same Module object is under the same key. */
  loadedSince(): string[]
  /**
   * Unloads every module loaded since, with the full cleanup of {@link uncacheTree}: dispose handlers run
   * (importers first), every `children` edge from a module loaded before to a new one is cut, their
   * `Module._pathCache` entries go. Modules loaded before stay untouched, with their identity. `.node`
   * addons loaded since stay (`skipped: 'native-addon'`). Only unloads: modules unloaded since are not
   * brought back. Can be called again (one snapshot, a restore after each test). Costs what was loaded
   * since, not the size of `require.cache`. The report works with {@link verifyCollected}.
   * Copies that other code loaded since and took out of `require.cache` again (proxyquire, rewire, a
   * `delete require.cache[id]`) are unloaded too, listed under the key they loaded with. While open, a
   * snapshot holds the modules loaded since (until an unload removes them); once `restore()` returns,
   * it holds none of the modules it removed.
   */
  restore(): UnloadReport
}

/**
 * Records which modules are loaded now, and from then on what gets loaded (every module `require` or
 * `import` loads, and who required what), so that `restore()` never scans the caches. A snapshot records
 * until it is garbage collected; one that a module loaded since holds (even through a closure) is never
 * garbage: restore it, or use {@link isolate}. Entries put into `require.cache` by hand (hand-made mocks)
 * are not seen.
 *
 * @throws {UncacheError} `ERR_UNCACHE_UNSUPPORTED_RUNTIME` inside Jest (use `jest.isolateModules`);
 * a `TypeError` (`ERR_INVALID_ARG_TYPE`) for a bad option.
 *
 * @example
 * const { snapshot, verifyCollected } = require('uncache-tree')
 * const clean = snapshot()
 * require('./app').start()        // loads app and everything it needs
 * const report = clean.restore()  // all of it unloaded; what was loaded before is untouched
 * console.log(report.removed)     // ['/srv/app.js', '/srv/routes.js', ...]
 * await verifyCollected(report)   // { collected: [...], alive: [] }
 */
export function snapshot(options?: SnapshotOptions): Snapshot

/** Options of {@link isolate}. */
export interface IsolateOptions extends SnapshotOptions {
  /** Called with the restore's report after `fn` has finished (e.g. to pass it to {@link verifyCollected}). */
  onRestore?: (report: UnloadReport) => void
}

/**
 * Runs `fn` between a {@link snapshot} and its restore and returns what `fn` returns (a promise when `fn`
 * returns one: the restore waits for it). Restores when `fn` returns, throws or rejects, then rethrows the
 * same error. Isolates nest: an inner restore unloads only what the inner `fn` loaded. Two isolates that
 * overlap in time without one running inside the other (told through AsyncLocalStorage) cannot tell whose
 * `require` loaded what: the second throws `ERR_UNCACHE_ISOLATE_OVERLAP`.
 *
 * @throws {UncacheError} `ERR_UNCACHE_ISOLATE_OVERLAP`; `ERR_UNCACHE_UNSUPPORTED_RUNTIME` inside Jest
 * (use `jest.isolateModules(fn)`); a `TypeError` (`ERR_INVALID_ARG_TYPE`) for bad arguments.
 *
 * @example
 * const test = require('node:test')
 * const assert = require('node:assert/strict')
 * const { isolate } = require('uncache-tree')
 * test('counter starts at zero', () =>
 *   isolate(() => {
 *     assert.equal(require('./counter').increment(), 1) // a fresh copy in every isolate
 *   }))
 * test('async code', () =>
 *   isolate(async () => {
 *     const server = require('./server')
 *     await server.listen(0)
 *     await server.close()
 *   })) // restored when the promise settles
 */
export function isolate<T>(fn: () => T, options?: IsolateOptions): T

/**
 * A module's own hot-reload handle (webpack's `module.hot` semantics, for CommonJS). One per Module; nothing is added to the Module object.
 * `Data` is the shape of what dispose handlers store: `any` by default (as webpack's `module.hot.data`, so `data.ticks` compiles under `noPropertyAccessFromIndexSignature`), or your own type: `hot<{ ticks: number }>(module)`.
 */
export interface Hot<Data extends object = any> {
  /** The object the previous instance's dispose handlers filled (possibly empty); `undefined` for a first instance or after an instance without dispose handlers. Data waits for the next instance of its file until that file is unloaded again, for at most 1,000 files at once: past that, the data that has waited longest (first the data that a loaded instance already took) is dropped, so files that never load again cannot grow the heap without bound. */
  readonly data: Data | undefined
  /** Runs `handler(data)` just before this module is unloaded, by any unloading function (uncacheTree, invalidate, reload, watch, snapshot restore): close servers, clear timers, remove listeners, store state in `data`. Importers' handlers run first; a throwing handler lands in `report.errors`, and so does the rejection of an async one (it is not awaited). Each instance is disposed once. A plain `require()` in a handler is fine (the module it loads never gets the dying module as parent); calling an unloading function there throws `ERR_UNCACHE_REENTRANT` (schedule it with `setImmediate`). */
  dispose(handler: (data: Data) => void | Promise<void>): void
  /** No deps: this module accepts its own updates (unloaded and required again by the library; its importers stay). `errorHandler(error, { moduleId })` gets the error if its new code throws. */
  accept(errorHandler?: (error: unknown, info: { moduleId: string }) => void): void
  /** Deps (resolved from this module now; an unresolvable one throws `ERR_UNCACHE_UNRESOLVED`): updates of them stop here; this module stays and `callback(updatedIds)` runs before `invalidate` returns, once per distinct callback, with the ids of these deps that were unloaded. Re-require them in the callback. */
  accept(deps: string | string[], callback?: (updated: string[]) => void): void
  /** No deps: every update that would unload this module is refused. Deps: updates reaching it through them are refused. Reported `skipped: 'declined'` with `blocked`. */
  decline(deps?: string | string[]): void
  /**
   * Passes the update on to this module's importers, as if it had not accepted it (webpack's
   * `module.hot.invalidate()`, Vite's `import.meta.hot.invalidate()`): for a self-accepting module
   * whose new version finds it cannot take over in place. A {@link watch} (or `uncache-tree dev`)
   * watching this module reloads it and its importers after the running reload; with none, the module
   * and its importers are unloaded on the next turn (the next `require` loads them anew).
   *
   * @example
   * const { hot } = require('uncache-tree')
   * hot(module).accept()
   * exports.routes = ['/a', '/b']
   * // The importers read `routes` once: a changed list must reach them.
   * if (hot(module).data && hot(module).data.routes.join() !== exports.routes.join()) hot(module).invalidate()
   * hot(module).dispose((data) => { data.routes = exports.routes })
   */
  invalidate(): void
  /**
   * Ties a file that is not a module (a template, `.env`, JSON read with `fs`) to this module:
   * {@link watch} and `uncache-tree dev` reload this module when that file's contents change, as for
   * an edit of the module itself (Rollup's `addWatchFile`). `file` is a path (relative to this
   * module's directory) or a `file:` URL. Returns the absolute path. The tie belongs to this
   * instance: the next instance ties its files again when it runs.
   *
   * @example
   * const fs = require('node:fs')
   * const { hot } = require('uncache-tree')
   * const template = fs.readFileSync(hot(module).watchFile('./page.html'), 'utf8')
   */
  watchFile(file: string | URL): string
}

/**
 * The hot-reload handle of `module` (pass your own `module`).
 *
 * @example
 * const { hot } = require('uncache-tree')
 * let ticks = hot(module).data?.ticks ?? 0            // carried over from the previous version
 * const timer = setInterval(() => ticks++, 1000)
 * hot(module).dispose((data) => { clearInterval(timer); data.ticks = ticks })
 * hot(module).accept(['./routes/a.js'], (updated) => { routes.a = require('./routes/a.js') })
 */
export function hot<Data extends object = any>(module: NodeModule): Hot<Data>

export interface WatchOptions {
  /** The module to require again after each change: path, `file:` URL, specifier (from the calling file) or Module. Not the main module. Not loaded yet: its first save loads it. */
  entry: string | URL | NodeModule
  /** Files or directories (recursively) to watch instead of the entry's require tree. Relative paths resolve from the calling file's directory. */
  paths?: string | URL | ReadonlyArray<string | URL>
  /** Paths not to watch. Default: `node_modules` (below a `paths` entry, so naming a node_modules folder in `paths` watches it). A value replaces the default. */
  ignore?: RegExp | ((file: string) => boolean)
  /** Quiet time after the last event of a save before reloading, in ms. Default: 50. */
  debounceMs?: number
  /** Where `entry` resolves from and who requires it again. Default: the calling file. */
  from?: string | URL
  /**
   * Poll instead of `fs.watch`, for mounts where file events never arrive (Docker bind mounts of
   * host folders, WSL2 `/mnt/*` drives, NFS/SMB shares): `true` stats every watched file each
   * 100 ms, `{ intervalMs }` at that interval (>= 1). Files saved in the last 2 s are compared by
   * contents too. Default: `false` (one `fs.watch` per directory).
   *
   * @example
   * watch({ entry: './app', poll: { intervalMs: 250 }, onReload: (report, next) => { app = next } })
   */
  poll?: boolean | { intervalMs?: number }
  /** After each successful reload, with the invalidate report and the entry's new exports. An error it throws goes to `onError`. */
  onReload?: (report: UnloadReport, exports: any) => void
  /** A failed reload ({@link ReloadFailedError}: the old version keeps running), an ES module that changed (`ERR_UNCACHE_ESM`: Node never evaluates one twice; restart instead), a watcher error, or what `onReload` threw. Default: `console.error`. */
  onError?: (error: unknown) => void
  /**
   * A reload that left old code running: the main module (never unloaded) still holds the old
   * instance of a module that was reloaded (`UNCACHE_HELD_BY_MAIN`), or a declining module refused
   * the update (`UNCACHE_DECLINED`). Default: `process.emitWarning(warning)`.
   *
   * @example
   * watch({ entry: './app', onWarning: (w) => console.warn(w.code, w.modules) })
   */
  onWarning?: (warning: UncacheWarning) => void
}

/** What {@link WatchOptions.onWarning} receives: an `Error` named `UncacheWarning`, not thrown. */
export interface UncacheWarning extends Error {
  readonly name: 'UncacheWarning'
  readonly code: 'UNCACHE_HELD_BY_MAIN' | 'UNCACHE_DECLINED'
  /** The main module, or the declining module. */
  readonly id: string
  /** The modules that keep running their previous code there. */
  readonly modules: string[]
}

export interface Watcher {
  /** Stops watching; resolves once every file watcher is released. No callback runs after it. */
  close(): Promise<void>
  /** The files watched now, sorted. */
  watchedFiles(): string[]
}

/**
 * Hot reload for a running program. Watches the files of the entry's require tree (or `paths`; files
 * loaded later are added), batches the events of one save, then runs `invalidate` on the changed
 * loaded files and requires `entry` again, with {@link reload}'s rollback when the new code throws.
 * A file counts as changed only when its contents differ (a stat change is only the cue to look: `tsc`,
 * `cp -r`, `git checkout` and formatters rewrite files with the same bytes); one directory watcher per
 * directory survives editors' write-and-rename saves, and a watched symlink is also watched through its
 * target's directory. Files tied with {@link Hot.watchFile} reload their module; a module that calls
 * {@link Hot.invalidate} is reloaded with its importers. An ES module that changes goes to `onError` as
 * `ERR_UNCACHE_ESM` (and an ES module `entry` throws it); a reload that leaves old code running (the
 * main module holds a reloaded module, a declining module refused the update) goes to `onWarning`. A watched directory deleted and
 * made again (`rm -rf dist && tsc`) is watched again: the files that went with it are waited for
 * (no reload and no error meanwhile), compared once they are back, and later saves keep reloading.
 * Options are checked first (an unknown name, e.g. chokidar's `usePolling`, is a `RangeError`
 * naming `poll`).
 *
 * @example
 * const { watch } = require('uncache-tree')
 * let app = require('./app')
 * const watcher = watch({
 *   entry: './app',
 *   onReload: (report, next) => { app = next; console.log('reloaded', report.removed) },
 *   onError: (error) => console.error('kept the old version:', error.cause ?? error),
 * })
 * process.on('SIGINT', () => watcher.close())
 */
export function watch(options: WatchOptions): Watcher

/**
 * Proves that the modules a report removed were garbage collected: they are registered with a
 * `FinalizationRegistry` at unload time (which, unlike a `WeakRef`, does not keep them alive until
 * the current job ends), garbage collection is forced (no `--expose-gc` needed), waiting at most
 * `options.timeoutMs` (default 2000). Needs the report object itself (a JSON copy has no weak
 * references: `ERR_INVALID_ARG_VALUE`). A `dryRun` report gives `{ collected: [], alive: [] }`.
 * A report made by another copy of this package in the same process verifies too (they share
 * one registry).
 *
 * @example
 * const { uncacheTree, verifyCollected, explainRetainers } = require('uncache-tree')
 * const report = uncacheTree('./plugin')
 * const { alive } = await verifyCollected(report)
 * if (alive.length) console.log(await explainRetainers(alive))
 */
export function verifyCollected(report: UnloadReport, options?: { timeoutMs?: number }): Promise<{ collected: string[]; alive: string[] }>

/**
 * One link of a retainer chain: `node` holds the next link's node through the reference `edge`
 * (a property name, a closure variable, an internal field such as `context`, or `[index]`).
 * The last link is the module itself, `Module /abs/path.js`, with `edge: ''`.
 */
export interface RetainerStep {
  node: string
  edge: string
}

/**
 * Why one old generation of module `id` is still in memory: the shortest chain of strong
 * references from a GC root to its `Module` object. Closures read
 * `(closure onTick in /app/plugin.js:12:5)`, closure variables are the `edge` after
 * `(closure scope)`, and an async function paused at `await` reads `(suspended closure f in …)`.
 */
export interface Retainer {
  id: string
  path: RetainerStep[]
}

/**
 * For modules that stayed in memory after an unload: takes a heap snapshot of this process
 * (streamed from the inspector into the native parser, no temporary file), or reads
 * `options.snapshot` (a `.heapsnapshot` file or `file:` URL, e.g. from `v8.writeHeapSnapshot()`),
 * and returns one `Retainer` per old generation still alive: every `Module` object with that id
 * except the one in `require.cache`, which is loaded, not leaked. Strong references only; V8's
 * bookkeeping (the stack, handle scopes, the WeakRef keep-alive list) is never named as the
 * holder when a real one exists. Collected modules are left out, so `[]` means nothing leaked.
 * Ordered as `ids`.
 *
 * @example
 * const { uncacheTree, verifyCollected, explainRetainers } = require('uncache-tree')
 * const { alive } = await verifyCollected(uncacheTree('./plugin.js'))
 * for (const { id, path } of await explainRetainers(alive)) {
 *   console.log(id)
 *   for (const { node, edge } of path) console.log(edge ? `  ${node} --${edge}-->` : `  ${node}`)
 * }
 * // /app/plugin.js
 * //   …
 * //   Timeout --_onTimeout-->
 * //   (closure onTick in /app/plugin.js:12:27) --context-->
 * //   (closure scope) --module-->
 * //   Module /app/plugin.js
 */
export function explainRetainers(ids: string | string[], options?: { snapshot?: string | URL }): Promise<Retainer[]>

/** What {@link rescan} read. */
export interface RescanSummary {
  /** Modules the live graph index knows now (cached modules and requirers outside the cache). */
  modules: number
  /** References between them (`children` entries and recorded parents). */
  edges: number
}

/**
 * Reads every cached module's `children` and `parent` into the live graph index, which is how an
 * unload finds the modules that still hold part of a tree without reading the whole cache, and
 * the whole `Module._pathCache` into the index of its entries by file.
 * `require()`, module loads and this package's own changes are recorded as they happen, and a
 * loader that another library put back is noticed at the next call; references made **by hand**
 * are not: call `rescan()` after pushing into a known module's `children`, giving it a new
 * `children` array that lists other modules, or putting Module objects (or `Module._pathCache`
 * entries) back yourself. It reads every cached module (101–167 ms at 30,000 modules in a fresh
 * process, `npm run bench:require`); a program's second unload does the same read once (its first
 * plans by one scan of the cache).
 *
 * @example
 * ```js
 * const { rescan, uncacheTree } = require('uncache-tree')
 * require.cache[hostFile].children.push(require.cache[sharedFile]) // an edge made by hand
 * rescan()
 * uncacheTree('./plugin') // shared stays: host holds it
 * ```
 */
export function rescan(): RescanSummary

/** The codes an {@link UncacheError} carries. */
export type UncacheErrorCode =
  | 'ERR_UNCACHE_UNRESOLVED'
  | 'ERR_UNCACHE_NATIVE_ADDON'
  | 'ERR_UNCACHE_BUILTIN'
  | 'ERR_UNCACHE_MAIN'
  | 'ERR_UNCACHE_LOADING'
  | 'ERR_UNCACHE_UNSUPPORTED_RUNTIME'
  | 'ERR_UNCACHE_RELOAD_FAILED'
  | 'ERR_UNCACHE_ISOLATE_OVERLAP'
  | 'ERR_UNCACHE_REENTRANT'
  | 'ERR_UNCACHE_DOCTOR_LOAD_FAILED'
  | 'ERR_UNCACHE_DOCTOR_ESM'
  | 'ERR_UNCACHE_DOCTOR_NEEDS_LOADER'
  | 'ERR_UNCACHE_NATIVE_BINARY'
  | 'ERR_UNCACHE_ESM'

/**
 * Every error this package throws for a request it cannot carry out. The message names the
 * module and says what to do instead; `cause` holds the error behind it, if any. Bad argument
 * types and values are `TypeError` / `RangeError` with Node's codes instead (`ERR_INVALID_ARG_VALUE`
 * also for an unknown option name and a URL that is not a `file:` URL of this host).
 *
 * `instanceof UncacheError` holds for the errors of every copy of this package loaded in the
 * process (two versions in `node_modules`): they carry `Symbol.for('uncache-tree.UncacheError')`.
 *
 * @example
 * try {
 *   uncacheTree('./build/Release/addon.node')
 * } catch (error) {
 *   if (error instanceof UncacheError && error.code === 'ERR_UNCACHE_NATIVE_ADDON') {
 *     // native code stays loaded; unload the JavaScript that uses it instead
 *   }
 * }
 */
export class UncacheError extends Error {
  readonly name: 'UncacheError'
  readonly code: UncacheErrorCode
  /** The module the error is about, where there is one. */
  readonly id?: string
  /** `ERR_UNCACHE_RELOAD_FAILED`: what was unloaded and put back. */
  readonly report?: UnloadReport
  /** `ERR_UNCACHE_NATIVE_BINARY`: this process's platform, e.g. `linux-x64-gnu`. */
  readonly platform?: string
  /** `ERR_UNCACHE_NATIVE_BINARY`: the prebuilt package looked for, e.g. `uncache-tree-linux-x64-gnu`. */
  readonly packageName?: string
  readonly cause?: unknown
}
