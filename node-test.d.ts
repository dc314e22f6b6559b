/// <reference types="node" />
import type { UnloadReport } from './index'

/** Options of {@link isolateEach}. */
export interface IsolateEachOptions {
  /** Modules that stay loaded (reported `kept-by-option`), with what they load. Default: `/[\\/]node_modules[\\/]/`; `null` keeps nothing. */
  keep?: RegExp | ((id: string) => boolean) | null
  /** Called after each restore with its report (e.g. for `verifyCollected`, or to reset a kept package's registry) and the node:test context of that test (`per: 'test'`) or the test file's path (`per: 'file'`). */
  onRestore?: (report: UnloadReport, t: unknown) => void
  /**
   * `'test'` (default): a snapshot around each test. `'file'`: one per test file, restored when a
   * test of another file starts and after the last test, for `node --test --test-isolation=none`
   * (Node 24+) from a `--require` preload; what test files require at their top level is loaded
   * before any test runs there and is not fresh (`npx uncache-tree test` makes it fresh).
   */
  per?: 'test' | 'file'
}

/**
 * Gives every test its own fresh copies of the modules it requires: a snapshot before each
 * test, restored after it (modules loaded during the test are unloaded with full cleanup and
 * dispose handlers; everything loaded before, the test file and shared fixtures included,
 * keeps its identity; packages under node_modules stay loaded). Registers a
 * `beforeEach`/`afterEach` pair on the test context `t` (its subtests), else on the current
 * `describe()` suite, else on every test of the file (with `--test-isolation=none`, of that file
 * only). Tests must run one at a time (node:test's default); concurrent tests fail with
 * `ERR_UNCACHE_ISOLATE_OVERLAP`.
 *
 * @throws {UncacheError} `ERR_UNCACHE_TEST_SETUP` when called from a `--require` preload of
 * `node --test --experimental-test-isolation=none` on Node 22, where its hooks would never run.
 *
 * @example
 * const { test } = require('node:test')
 * const assert = require('node:assert/strict')
 * const { isolateEach } = require('uncache-tree/node-test')
 *
 * isolateEach() // every test of this file
 *
 * test('counts from zero', () => assert.equal(require('./counter').increment(), 1))
 * test('counts from zero again', () => assert.equal(require('./counter').increment(), 1))
 */
export function isolateEach(options?: IsolateEachOptions): void
export function isolateEach(t: { beforeEach: Function; afterEach: Function }, options?: IsolateEachOptions): void

/**
 * Runs `fn` after every restore that `npx uncache-tree test` makes (after each file, and after
 * each test with `--per test`), with the restore's report and the test file's path (or the
 * node:test context of the test; `undefined` after the watch mode's warm-up restore): where a
 * package kept loaded gets its own state reset. Call it from a `--require` preload of that command
 * (or a test file).
 *
 * @throws {UncacheError} `ERR_UNCACHE_TEST_SETUP` in a process that `uncache-tree test` did not
 * start (there, pass `onRestore` to {@link isolateEach}).
 *
 * @example
 * // test/setup.cjs, run with `npx uncache-tree test --require ./test/setup.cjs test/`
 * const { onRestore } = require('uncache-tree/node-test')
 * onRestore(() => require('mongoose').deleteModel(/.+/))
 */
export function onRestore(fn: (report: UnloadReport, fileOrTest: unknown) => void): void
