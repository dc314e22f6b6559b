'use strict'
// Where a reload's error came from, read from its stack: the frame that threw, and the first
// frame outside node_modules (the user's line that called into the library that threw). A
// `prom-client/lib/registry.js:103` alone does not say which of the user's files registered the
// metric twice; `called from plugins/metrics.js:5` does.
const { fileURLToPath } = require('node:url')
const { isOwnFile } = require('../targets.js')

const NODE_MODULES = /[\\/]node_modules[\\/]/

/** The error's stack as text, or '' (a throwing `stack` getter must not fail a rollback). */
function stackOf(cause) {
  try {
    return cause instanceof Error ? String(cause.stack) : ''
  } catch {
    return ''
  }
}

/**
 * `{ thrown, user }`: `file:line` of the code that threw `cause` (a SyntaxError's first stack line
 * names the compiled file, else the first frame in a file that is not Node's or ours), and of the
 * first such frame outside node_modules when it is another one. Each is undefined when the stack
 * does not tell. `thrownFile` / `userFile` are the files alone.
 */
function thrownFrames(cause) {
  const stack = stackOf(cause)
  const compiled = /^((?:\/|[A-Za-z]:\\)[^\n]*?):(\d+)\r?\n/.exec(stack)
  if (compiled !== null) {
    const where = `${compiled[1]}:${compiled[2]}`
    return { thrown: where, thrownFile: compiled[1], user: undefined, userFile: undefined }
  }
  let thrown
  let thrownFile
  for (const match of stack.matchAll(/\n\s+at (?:.*? \()?((?:file:\/\/|\/|[A-Za-z]:\\)[^\n]*?):(\d+):\d+\)?/g)) {
    let file
    try {
      file = match[1].startsWith('file:') ? fileURLToPath(match[1]) : match[1]
    } catch {
      continue
    }
    if (isOwnFile(file)) continue
    if (thrown === undefined) {
      thrown = `${file}:${match[2]}`
      thrownFile = file
      if (!NODE_MODULES.test(file)) break
      continue
    }
    if (!NODE_MODULES.test(file)) return { thrown, thrownFile, user: `${file}:${match[2]}`, userFile: file }
  }
  return { thrown, thrownFile, user: undefined, userFile: undefined }
}

/** The words reloadFailed's message uses: `a.js:3`, or `lib.js:103, called from a.js:5`. */
function describeThrownAt(cause) {
  const { thrown, user } = thrownFrames(cause)
  if (thrown === undefined) return undefined
  return user === undefined ? thrown : `${thrown}, called from ${user}`
}

module.exports = { thrownFrames, describeThrownAt }
