/// <reference types="node" />
import type { UnloadReport } from './index'

/** Options of {@link isolateEach}. */
export interface IsolateEachOptions {
  /** Modules loaded during a test that stay loaded after it (reported `kept-by-option`), with what they load, e.g. `/node_modules/`. */
  keep?: RegExp | ((id: string) => boolean)
  /** Called after each test's restore with its report (e.g. for `verifyCollected`) and the node:test context of that test. */
  onRestore?: (report: UnloadReport, t: unknown) => void
}

/**
 * Gives every test its own fresh copies of the modules it requires: a snapshot before each
 * test, restored after it (modules loaded during the test are unloaded with full cleanup and
 * dispose handlers; everything loaded before, the test file and shared fixtures included,
 * keeps its identity). Registers a `beforeEach`/`afterEach` pair on the test context `t` (its
 * subtests), else on the current `describe()` suite, else on every test of the file.
 * Tests must run one at a time (node:test's default); concurrent tests fail with
 * `ERR_UNCACHE_ISOLATE_OVERLAP`.
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
