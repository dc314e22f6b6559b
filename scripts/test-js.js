#!/usr/bin/env node
'use strict'
// `npm run test:js`: the JavaScript part of `npm test` (its `node --test …` command, read from
// package.json so that the list of test files is written once), without the Rust tests and
// without building: for a machine that has a binary but no Rust, e.g. the release workflow's
// test jobs, which test the binary the build job made.
const { spawnSync } = require('node:child_process')
const path = require('node:path')

const root = path.join(__dirname, '..')
const { scripts } = require('../package.json')
const at = scripts.test.indexOf('node --test ')
if (at === -1) {
  console.error('test-js: package.json\'s "test" script has no `node --test …` part')
  process.exit(2)
}
const args = scripts.test.slice(at + 'node '.length).split(/\s+/)
const result = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' })
process.exit(result.status ?? 1)
