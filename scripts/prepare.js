#!/usr/bin/env node
'use strict'
// `prepare`: npm runs it after `npm install` / `npm ci` in a clone of the repository (never in a
// project that installs uncache-tree from the registry: the published package has no install
// script), and before `npm pack` / `npm publish`.
//
// In a clone it builds the native core from source with `npm run build` (napi build --platform
// --release: cargo's incremental build takes about a second when nothing changed), so that
// `npm install && npm run demo` works and a pull or a branch switch never leaves a stale binary.
// Before pack/publish it builds nothing: the binary that gets packed is built on purpose
// (`npm run build:release`, or the release workflow), and a build here would replace a glibc 2.17
// binary with this machine's.
const { spawnSync } = require('node:child_process')
const path = require('node:path')

const root = path.join(__dirname, '..')
const say = (text) => process.stderr.write(`uncache-tree: ${text}\n`)

if (process.env.npm_command === 'pack' || process.env.npm_command === 'publish') process.exit(0)

const cargo = spawnSync('cargo', ['--version'], { encoding: 'utf8' })
if (cargo.status !== 0) {
  say(
    'a clone builds its native core from source, and cargo (Rust) was not found on PATH. Install Rust from ' +
      'https://rustup.rs, open a new shell so that cargo is on PATH, then run `npm run build` (or `npm install` again). ' +
      'To use uncache-tree without building it, install the published package instead: `npm install uncache-tree`.',
  )
  process.exit(1)
}
const npm = process.env.npm_execpath
const build = npm
  ? spawnSync(process.execPath, [npm, 'run', '--silent', 'build'], { cwd: root, stdio: 'inherit' })
  : spawnSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' })
if (build.status !== 0) {
  say(`the build of the native core failed (exit ${build.status ?? build.signal}); fix it and run \`npm run build\`.`)
  process.exit(1)
}
