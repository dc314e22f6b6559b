/// <reference types="node" />
import type { URL } from 'node:url'

/**
 * What to unload: an absolute path, a `file:` URL (string or `URL`), a relative (`./a`) or bare
 * (`left-pad`) specifier resolved exactly as `require` would resolve it from the calling file
 * (or from `options.from`), a `Module` object (`module`, `require.cache[id]`), or an array of
 * these (validated whole: one bad element throws and nothing is unloaded).
 */
export type Target = string | URL | NodeModule | ReadonlyArray<string | URL | NodeModule>

/** Why a module the unload met was left loaded. */
export type SkipReason = 'native-addon' | 'main' | 'loading' | 'not-a-module' | 'kept-by-option' | 'declined'

/** What still holds a removed module's old instance inside Node, out of any library's reach. */
export type PinnedBy = 'esm-loader' | 'require-esm' | 'last-parent'

/**
 * What an unload did. Every id is a `require.cache` key (an absolute filename; the main module
 * too, never `'.'`). The same shape comes from every unloading function.
 */
export interface UnloadReport {
  /** `require.cache` keys deleted, importers before the modules they import (the order dispose handlers ran). */
  removed: string[]
  /** Tree modules kept because a live module outside the unloaded set requires them directly, with those holders. Their own dependencies stay too and are not listed. */
  kept: { id: string; heldBy: string[] }[]
  /** Modules met and left loaded, with the reason. A skipped module is not walked: its dependencies stay with it. */
  skipped: { id: string; reason: SkipReason; blocked?: string[] }[]
  /** Removed modules whose old instance Node still holds: the ESM loader (`esm-loader`), require(esm) (`require-esm`), or on Node >= 22 a surviving module's private last-parent slot (`last-parent`, one old shell, bounded). A subset of `removed`. */
  pinned: { id: string; by: PinnedBy }[]
  /** `Module._pathCache` entries dropped (they pointed at removed files). */
  pathCacheEntries: number
  /** What dispose handlers threw; unloading went on. */
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
 * (`ERR_INVALID_ARG_TYPE`) or `RangeError` (`ERR_INVALID_ARG_VALUE`) for bad arguments.
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
  /** Where relative and bare specifiers resolve from. Default: the calling file. */
  from?: string | URL
  /** Modules never unloaded, e.g. `/node_modules/` (reported `kept-by-option`). */
  keep?: RegExp | ((id: string) => boolean)
  /** Compute and return the report; change nothing. */
  dryRun?: boolean
}

/**
 * For hot reload: unloads each changed module and every module that (transitively) requires
 * it, so that the next `require` sees the new code everywhere. Propagation stops at a module
 * that accepted the update (`hot(module).accept`), never unloads the main module (reported
 * `skipped: 'main'`), and is refused on a path that reaches a declined module (reported
 * `skipped: 'declined'`, with the changed ids it blocked). Dependencies of the unloaded modules
 * that did not change stay loaded, with their identity and state.
 *
 * @example
 * const { invalidate } = require('uncache-tree')
 * fs.watch('./routes', (event, file) => {
 *   const report = invalidate(path.resolve('./routes', file))
 *   console.log('stale:', report.removed) // the changed route and every module that imports it
 * })
 */
export function invalidate(changed: Target, options?: InvalidateOptions): UnloadReport

/**
 * `invalidate(target)` then `require(target)` again. When the new code throws while loading,
 * the previous module objects are put back exactly (cache entries, `children` links, parents,
 * path-cache entries) and an `UncacheError` with `code: 'ERR_UNCACHE_RELOAD_FAILED'`, the
 * original error as `cause` and the `report` is thrown: the program keeps the old version.
 * Dispose handlers of the old version run before the new code loads, so after a rollback the
 * restored modules are the disposed old instances.
 *
 * @example
 * const { reload } = require('uncache-tree')
 * try {
 *   const { exports: plugin } = reload('./plugins/greeter')
 *   plugin.start()
 * } catch (error) {
 *   if (error.code !== 'ERR_UNCACHE_RELOAD_FAILED') throw error
 *   console.error('new version broken, still running the old one:', error.cause)
 * }
 */
export function reload<T = any>(target: string | URL | NodeModule, options?: { from?: string | URL }): { exports: T; report: UnloadReport }

/** The set of modules loaded at one moment; see {@link snapshot}. */
export interface Snapshot {
  /** Keys of the modules loaded since the snapshot (same key, same Module object = loaded before). */
  loadedSince(): string[]
  /** Unloads every module loaded since (full cleanup, dispose handlers run) and leaves modules loaded before untouched, with their identity. `.node` addons loaded since stay (skipped). */
  restore(): UnloadReport
}

/**
 * Records which modules are loaded now.
 *
 * @example
 * const { snapshot } = require('uncache-tree')
 * const before = snapshot()
 * const app = require('./app') // loads app and everything it needs
 * before.restore()             // all of it is unloaded again; what was loaded before is untouched
 */
export function snapshot(): Snapshot

/**
 * Runs `fn` between a {@link snapshot} and its restore, and returns what `fn` returns (a promise
 * when `fn` is async: the restore waits for it). Restores when `fn` returns, throws or rejects,
 * then rethrows. Isolates nest. Two async isolates that overlap without nesting cannot tell whose
 * `require` loaded what: the second throws `ERR_UNCACHE_ISOLATE_OVERLAP`.
 *
 * @example
 * const { isolate } = require('uncache-tree')
 * test('counter starts at zero', () =>
 *   isolate(() => {
 *     const counter = require('./counter')
 *     counter.increment()
 *     assert.equal(counter.value, 1) // a fresh copy in every isolate
 *   }))
 */
export function isolate<T>(fn: () => T): T

/** A module's own hot-reload handle (webpack's `module.hot` semantics, for CommonJS). */
export interface Hot {
  /** What the previous instance's dispose handlers stored; `undefined` for a first instance. */
  readonly data: Record<string, any> | undefined
  /** Runs just before this module is unloaded: close servers, clear timers, remove listeners; store state in `data` for the next instance. */
  dispose(handler: (data: Record<string, any>) => void): void
  /** No deps: this module accepts its own updates (it is unloaded and required again; propagation stops here). With deps (resolved from this module): this module stays loaded and `callback` runs with the changed ids, before `invalidate` returns. */
  accept(deps?: string | string[], callback?: (updated: string[]) => void): void
  /** `invalidate()` refuses to unload this module; updates that reach it are refused (reported `skipped: 'declined'`). */
  decline(): void
}

/**
 * The handle of `module` (pass your own `module`).
 *
 * @example
 * const { hot } = require('uncache-tree')
 * const server = http.createServer(handler).listen(hot(module).data?.port ?? 3000)
 * hot(module).dispose((data) => {
 *   data.port = server.address().port
 *   server.close()
 * })
 */
export function hot(module: NodeModule): Hot

export interface WatchOptions {
  /** The module to require again after each change (path, URL or specifier from the calling file). */
  entry: string | URL
  /** Files or directories to watch instead of the loaded files. */
  paths?: string | string[]
  /** Paths not to watch (a RegExp, or a function of the path). `node_modules` is ignored unless named in `paths`. */
  ignore?: RegExp | ((file: string) => boolean)
  /** How long to wait for the events of one save to settle, in ms. Default: 50. */
  debounceMs?: number
  /** Called after each successful reload. */
  onReload?: (report: UnloadReport, exports: any) => void
  /** Called when the new code throws while loading (the old version keeps running) or the watcher fails. */
  onError?: (error: Error) => void
}

export interface Watcher {
  /** Stops watching and releases every file watcher. */
  close(): Promise<void>
}

/**
 * Hot reload for a running program: watches the loaded files (or `paths`), batches the events of
 * one save, runs `invalidate` for the changed files and `require(entry)` again, with the same
 * rollback as {@link reload} when the new code throws.
 *
 * @example
 * const { watch } = require('uncache-tree')
 * const watcher = watch({
 *   entry: './app',
 *   onReload: (report) => console.log('reloaded', report.removed.length, 'modules'),
 *   onError: (error) => console.error('kept the old version:', error.cause ?? error),
 * })
 * process.on('SIGINT', () => watcher.close())
 */
export function watch(options: WatchOptions): Watcher

/**
 * Proves that the modules a report removed were garbage collected: weak references taken at
 * unload time, garbage collection forced (no `--expose-gc` needed), waiting at most
 * `options.timeoutMs` (default 2000). Needs the report object itself (a JSON copy has no weak
 * references: `ERR_INVALID_ARG_VALUE`). A `dryRun` report gives `{ collected: [], alive: [] }`.
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

/**
 * Every error this package throws for a request it cannot carry out. The message names the
 * module and says what to do instead; `cause` holds the error behind it, if any. Bad argument
 * types and values are `TypeError` / `RangeError` with Node's codes instead.
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
  readonly cause?: unknown
}
