'use strict'
// Run: npx jest --config examples/jest/jest.config.js
//
// Jest runs test files in its own module registry: the require.cache a test sees is a view of
// that registry that ignores deletions, so nothing can be unloaded through it. uncache-tree
// says so instead of pretending (ERR_UNCACHE_UNSUPPORTED_RUNTIME) and names Jest's own tool
// for the job, jest.isolateModules, which this file then uses.
const { isolate, snapshot } = require('uncache-tree')

function errorOf(fn) {
  try {
    fn()
  } catch (error) {
    return error
  }
  throw new Error('expected a throw')
}

test('isolate() and snapshot() refuse to run inside Jest and point to jest.isolateModules', () => {
  for (const call of [() => isolate(() => {}), () => snapshot()]) {
    const error = errorOf(call)
    expect(error.name).toBe('UncacheError')
    expect(error.code).toBe('ERR_UNCACHE_UNSUPPORTED_RUNTIME')
    expect(error.message).toMatch(/Jest/)
    expect(error.message).toMatch(/jest\.isolateModules\(fn\)/)
  }
})

test('jest.isolateModules gives each block its own copy of a module', () => {
  let first
  let second
  jest.isolateModules(() => {
    first = require('./counter.js')
  })
  jest.isolateModules(() => {
    second = require('./counter.js')
  })
  expect(first).not.toBe(second)
  expect(first.increment()).toBe(1)
  expect(second.increment()).toBe(1)
})
