'use strict'
// Runs the command line (bin/uncache-tree.js) with the Node binary that runs the test, the way a
// user's shell would: no stdin, stdout and stderr collected.
const path = require('node:path')
const { spawn } = require('node:child_process')

const ROOT = path.join(__dirname, '..', '..')
const BIN = path.join(ROOT, 'bin', 'uncache-tree.js')

/** Resolves with `{ code, stdout, stderr }`; `cwd` defaults to the repository, `env` adds variables. */
function runCli(args, { cwd = ROOT, env } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d))
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

module.exports = { runCli, BIN, ROOT }
