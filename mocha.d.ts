/// <reference types="node" />
import type { UnloadReport } from './index'

/** Mocha root hooks (`this` is Mocha's hook context). */
export interface MochaRootHooks {
  beforeEach(this: unknown): void
  afterEach(this: unknown): void
}

/**
 * The root hook plugin: `mocha --require uncache-tree/mocha` (or `require: ['uncache-tree/mocha']`
 * in `.mocharc.json`; Mocha ignores a file named `.mocharc` without an extension). Before every test it takes a snapshot, after it restores: each test requires
 * fresh copies of what it loads; spec files and what `before` hooks load stay.
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
 * exports.mochaHooks = createMochaHooks({ keep: /node_modules/ })
 */
export function createMochaHooks(options?: {
  /** Modules loaded during a test that stay loaded after it (reported `kept-by-option`). */
  keep?: RegExp | ((id: string) => boolean)
  /** Called after each test's restore with its report and Mocha's test object. */
  onRestore?: (report: UnloadReport, test: unknown) => void
}): MochaRootHooks
