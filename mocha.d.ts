/// <reference types="node" />
import type { UnloadReport } from './index'

/** Mocha root hooks (`this` is Mocha's hook context). */
export interface MochaRootHooks {
  beforeEach(this: unknown): void
  afterEach?(this: unknown): void
  afterAll?(this: unknown): void
}

/**
 * The root hook plugin: `mocha --require uncache-tree/mocha` (or `require: ['uncache-tree/mocha']`
 * in `.mocharc.json`; Mocha ignores a file named `.mocharc` without an extension). Before every test it
 * takes a snapshot, after it restores: each test requires fresh copies of what it loads; spec files,
 * what `before` hooks load and packages under node_modules stay.
 *
 * @example
 * // .mocharc.json
 * { "require": ["uncache-tree/mocha"] }
 */
export const mochaHooks: MochaRootHooks

/**
 * The same hooks with options, for a root hook file of your own.
 *
 * @example
 * // test/hooks.js, used with `mocha --require test/hooks.js`
 * const { createMochaHooks } = require('uncache-tree/mocha')
 * exports.mochaHooks = createMochaHooks({ per: 'file', onRestore: () => require('mongoose').deleteModel(/.+/) })
 */
export function createMochaHooks(options?: {
  /** Modules that stay loaded (reported `kept-by-option`). Default: `/[\\/]node_modules[\\/]/`; `null` keeps nothing. */
  keep?: RegExp | ((id: string) => boolean) | null
  /** Called after each restore with its report and Mocha's test object (`per: 'test'`) or the spec file's path (`per: 'file'`): reset a kept package's registry here. */
  onRestore?: (report: UnloadReport, test: unknown) => void
  /** `'test'` (default): a snapshot around each test. `'file'`: one per spec file, restored when a test of the next file starts and after the last test. */
  per?: 'test' | 'file'
}): MochaRootHooks
