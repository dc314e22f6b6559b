import type { UnloadReport } from './index.mjs'

/** Options of {@link isolateFiles} and {@link isolateTests}. */
export interface VitestIsolationOptions {
  /** Modules that stay loaded for the whole run. Default: `/[\\/]node_modules[\\/]/`; `null` keeps nothing. */
  keep?: RegExp | ((id: string) => boolean) | null
  /**
   * Called after each restore with its report and the test file's path (after a file) or Vitest's
   * test object (after a test): reset here what a kept package registered, e.g. `mongoose.deleteModel(/.+/)`.
   */
  onRestore?: (report: UnloadReport, fileOrTest: unknown) => void
}

/**
 * Call in a setup file of your own: the test file about to run starts with fresh app modules (a
 * snapshot now, restored after its last test).
 *
 * @example
 * // test/isolation.mjs, listed in `test.setupFiles`
 * import { isolateFiles } from 'uncache-tree/vitest/hooks'
 * isolateFiles({ onRestore() { globalThis.registry?.clear() } })
 */
export function isolateFiles(options?: VitestIsolationOptions): void

/**
 * {@link isolateFiles}, plus fresh app modules for each test (a snapshot before each test,
 * restored after it). Tests of a file must run one at a time (no `test.concurrent`).
 *
 * @example
 * // test/isolation.mjs, listed in `test.setupFiles`
 * import { isolateTests } from 'uncache-tree/vitest/hooks'
 * isolateTests()
 */
export function isolateTests(options?: VitestIsolationOptions): void
