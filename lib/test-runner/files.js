'use strict'
// Which files `uncache-tree test` runs: the files named, and in each folder named (the working
// directory when none is) the files `node --test` would pick by default, sorted. ES modules are
// refused: Node evaluates an ES module once per process, so one can never start fresh.
const fs = require('node:fs')
const path = require('node:path')

// node --test's default patterns: *.test.js, *-test.js, *_test.js, test-*.js, test.js, and every
// script under a folder named test (with .cjs and .mjs variants of each).
const SCRIPT = /\.(c|m)?js$/
const TEST_NAME = /(^test\.|^test-.+\.|[._-]test\.)(c|m)?js$/

function isTestFile(file, underTestFolder) {
  const base = path.basename(file)
  return SCRIPT.test(base) && (underTestFolder || TEST_NAME.test(base))
}

/** Test files under `dir`, depth first in name order; node_modules and dot folders skipped. */
function findInFolder(dir, underTestFolder, out) {
  const entries = fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  for (const entry of entries) {
    if (entry.name.startsWith('.') || entry.name === 'node_modules') continue
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) findInFolder(full, underTestFolder || entry.name === 'test', out)
    else if (entry.isFile() && isTestFile(full, underTestFolder)) out.push(full)
  }
  return out
}

/** The nearest package.json's "type" above `file` ('commonjs' when none says), cached per folder. */
function packageType(file, cache) {
  const visited = []
  let type
  for (let dir = path.dirname(file); type === undefined; ) {
    if (cache.has(dir)) {
      type = cache.get(dir)
      break
    }
    visited.push(dir)
    try {
      type = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).type === 'module' ? 'module' : 'commonjs'
    } catch (error) {
      if (error.code !== 'ENOENT' && error.code !== 'ENOTDIR') type = 'commonjs' // unreadable: Node fails on it anyway
    }
    const parent = path.dirname(dir)
    if (parent === dir) type ??= 'commonjs'
    dir = parent
  }
  for (const dir of visited) cache.set(dir, type)
  return type
}

/** Whether Node loads `file` as an ES module (by extension, or the package's "type"). */
function isEsm(file, cache = new Map()) {
  if (file.endsWith('.mjs') || file.endsWith('.mts')) return true
  if (file.endsWith('.cjs') || file.endsWith('.cts')) return false
  return file.endsWith('.js') && packageType(file, cache) === 'module'
}

/**
 * `{ files, problems }`: absolute paths of the test files in the order given (a file named twice
 * runs once), and one message per argument that names nothing runnable.
 */
function collectTestFiles(args, cwd) {
  const files = []
  const problems = []
  const seen = new Set()
  const add = (file) => {
    if (!seen.has(file)) {
      seen.add(file)
      files.push(file)
    }
  }
  for (const arg of args.length === 0 ? ['.'] : args) {
    const full = path.resolve(cwd, arg)
    let stat
    try {
      stat = fs.statSync(full)
    } catch {
      problems.push(`${arg}: no such file or folder`)
      continue
    }
    if (stat.isDirectory()) {
      const found = findInFolder(full, path.basename(full) === 'test', [])
      if (found.length === 0 && args.length > 0) problems.push(`${arg}: no test files in this folder (names like *.test.js, test-*.js, or files under a test/ folder)`)
      for (const file of found) add(fs.realpathSync(file))
    } else add(fs.realpathSync(full))
  }
  const types = new Map()
  const esm = files.filter((file) => isEsm(file, types))
  if (esm.length > 0) {
    problems.push(
      `${esm.map((f) => path.relative(cwd, f) || f).join(', ')}: ${esm.length === 1 ? 'an ES module' : 'ES modules'}. ` +
        'Node evaluates an ES module once per process, so it cannot start fresh for each file here. ' +
        'Run ES module tests with `node --test`, or give CommonJS files (.cjs, or .js outside a "type": "module" package).',
    )
  }
  return { files, problems }
}

module.exports = { collectTestFiles, isTestFile, isEsm }
