'use strict'
// Compile before dispose: `uncache-tree dev` compiles each changed file before anything is
// unloaded, so a broken save costs nothing (the old code keeps serving; no dispose handler has
// closed a server for new code that cannot run).
//
// The file goes through the loader registered for its extension in Module._extensions, exactly as
// require() would run it, so tsx/cjs, ts-node, @babel/register (pirates) and Node's own type
// stripping transform it first. What they hand to `module._compile` is compiled with Node's
// CommonJS wrapper and never run: the probe Module's own `_compile` only compiles. Loaders wrap
// the `_compile` they find on the module instance (ts-node, pirates) or call it (tsx, Node), so
// every chain ends at the probe's.
const fs = require('node:fs')
const Module = require('node:module')
const path = require('node:path')
const vm = require('node:vm')

const WRAPPER_PARAMS = ['exports', 'require', 'module', '__filename', '__dirname']

/** The key of Module._extensions that require() uses for `file` (longest registered suffix). */
function extensionOf(file) {
  const base = path.basename(file)
  let index = base.indexOf('.', 1)
  while (index !== -1) {
    const ext = base.slice(index)
    if (Object.hasOwn(Module._extensions, ext)) return ext
    index = base.indexOf('.', index + 1)
  }
  return '.js'
}

/** `{ line, column }` (1-based) of the SyntaxError V8 reports for compiled code, from its stack. */
function syntaxLocation(error, source) {
  const stack = String(error?.stack ?? '')
  // V8: "<file>:<line>\n<source line>\n<spaces>^^^\n\nSyntaxError: …"
  const match = /^[^\n]*?:(\d+)\r?\n([^\n]*)\r?\n(\s*)\^/.exec(stack)
  if (match !== null) return { line: Number(match[1]), column: match[3].length + 1 }
  const lineOnly = /^[^\n]*?:(\d+)\r?\n/.exec(stack)
  if (lineOnly !== null) return { line: Number(lineOnly[1]), column: 1 }
  return locationInMessage(String(error?.message ?? ''), source)
}

/** A location a loader put in its message (esbuild `file:3:7:`, ts-node `file(3,7)`, babel `(3:7)`). */
function locationInMessage(message, source) {
  let m = /:(\d+):(\d+)(?::|\b)/.exec(message) ?? /\((\d+),(\d+)\)/.exec(message) ?? /\((\d+):(\d+)\)/.exec(message)
  if (m !== null) return { line: Number(m[1]), column: Number(m[2]) + (/\((\d+):(\d+)\)/.test(message) ? 1 : 0) }
  m = /\(line (\d+) column (\d+)\)/.exec(message)
  if (m !== null) return { line: Number(m[1]), column: Number(m[2]) }
  m = /at position (\d+)/.exec(message)
  if (m !== null && typeof source === 'string') return positionToLocation(source, Number(m[1]))
  return { line: 1, column: 1 }
}

function positionToLocation(source, position) {
  const before = source.slice(0, position)
  const line = before.split('\n').length
  return { line, column: position - before.lastIndexOf('\n') }
}

/** The location of an esbuild error (tsx), which carries it as data. */
function esbuildLocation(error) {
  const location = Array.isArray(error?.errors) ? error.errors[0]?.location : undefined
  if (location && typeof location.line === 'number') return { line: location.line, column: (location.column ?? 0) + 1 }
  return undefined
}

/**
 * Node's own type stripping (the format Node >= 22.18 hands to `_compile` for a `.ts` file), in
 * 'strip' mode (blanks, so lines and columns stay). The API warns that it is experimental once
 * per process; Node's loader, which the user chose, does the same stripping without a word, so
 * that one warning is not shown.
 */
function stripTypes(code) {
  const emitWarning = process.emitWarning
  process.emitWarning = function (warning, ...rest) {
    const text = typeof warning === 'string' ? warning : String(warning?.message)
    if (/stripTypeScriptTypes/.test(text)) return
    return emitWarning.call(this, warning, ...rest)
  }
  try {
    return Module.stripTypeScriptTypes(code, { mode: 'strip' })
  } finally {
    process.emitWarning = emitWarning
  }
}

/** Compiles `source` as a CommonJS module body without running it; throws its SyntaxError. */
function compileOnly(source, filename, format) {
  let code = source
  if (typeof format === 'string' && format.includes('typescript') && typeof Module.stripTypeScriptTypes === 'function') {
    code = stripTypes(code)
  }
  // A hashbang is valid only at the very start of a script, not in a function body.
  if (code.startsWith('#!')) code = `//${code.slice(2)}`
  vm.compileFunction(code, WRAPPER_PARAMS, { filename })
}

/**
 * Compiles `file` as require() would, without running it.
 * @returns {undefined | { file: string, line: number, column: number, name: string, message: string }}
 *   undefined when it compiles (or there is nothing to compile: a native addon), else where it fails.
 */
function compileCheck(file) {
  const ext = extensionOf(file)
  if (ext === '.node') return undefined
  let source
  if (ext === '.json') {
    try {
      source = fs.readFileSync(file, 'utf8')
      JSON.parse(source.charCodeAt(0) === 0xfeff ? source.slice(1) : source)
      return undefined
    } catch (error) {
      return failure(file, error, locationInMessage(String(error.message), source))
    }
  }
  const loader = Module._extensions[ext] ?? Module._extensions['.js']
  const probe = new Module(file, null)
  probe.filename = file
  probe.paths = Module._nodeModulePaths(path.dirname(file))
  let compileError
  // An own property: loaders capture `module._compile` from the instance and call through it.
  probe._compile = function compileWithoutRunning(content, filename, format) {
    source = String(content)
    try {
      compileOnly(source, filename ?? file, format)
    } catch (error) {
      compileError = error
    }
  }
  try {
    loader.call(Module._extensions, probe, file)
  } catch (error) {
    // The loader itself refused the file (a transform error from tsx/esbuild, ts-node, babel).
    return failure(file, error, esbuildLocation(error) ?? locationInMessage(String(error?.message ?? ''), source))
  }
  if (compileError === undefined) return undefined
  return failure(file, compileError, syntaxLocation(compileError, source))
}

function failure(file, error, { line, column }) {
  const name = error instanceof Error ? error.name : 'Error'
  const message = String(error instanceof Error ? error.message : error).split('\n')[0]
  return { file, line, column, name, message }
}

module.exports = { compileCheck, extensionOf }
