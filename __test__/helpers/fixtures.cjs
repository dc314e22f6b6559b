'use strict'
// Writes module trees into a fresh temp directory. Each test file runs in its own process
// (node --test), so every file starts from a clean require.cache.
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const Module = require('node:module')

/**
 * @param {Record<string, string>} files relative path → source
 * @returns {{ dir: string, file: (name: string) => string }}
 */
function writeTree(files) {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'uncache-tree-test-')))
  for (const [name, source] of Object.entries(files)) {
    const file = path.join(dir, name)
    fs.mkdirSync(path.dirname(file), { recursive: true })
    fs.writeFileSync(file, source)
  }
  return { dir, file: (name) => path.join(dir, name) }
}

/** `module.exports = { name, deps: { dep: require(dep) } }` for each listed dependency. */
function requiring(name, deps = []) {
  const lines = deps.map((d) => `  ${JSON.stringify(d)}: require(${JSON.stringify(d)}),`)
  return `module.exports = { name: ${JSON.stringify(name)}, deps: {\n${lines.join('\n')}\n} }\n`
}

/** Whether `m` (a Module) lists `child` in its children. */
function hasChild(m, child) {
  return m.children.includes(child)
}

/** What require-from-string libraries do: compile by hand, put it into require.cache. */
function compileByHand(filename, source, parent) {
  const m = new Module(filename, parent)
  m.filename = filename
  m.paths = Module._nodeModulePaths(path.dirname(filename))
  m._compile(source, filename)
  require.cache[filename] = m
  return m
}

module.exports = { writeTree, requiring, hasChild, compileByHand }
