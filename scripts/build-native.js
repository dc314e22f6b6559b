#!/usr/bin/env node
'use strict'
// Builds the native core with cargo and puts it where lib/native.js looks first
// (`uncache-tree.<platform>.node` next to package.json). Runs on `npm install` in a clone;
// an installed package that already has a prebuilt binary (the platform package, or one next
// to package.json) skips the build. `--force` rebuilds; `--debug` builds without optimisation.
const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { platformTriple, binaryName } = require('../lib/platform.js')

const root = path.join(__dirname, '..')
const args = new Set(process.argv.slice(2))
const dest = path.join(root, binaryName())

function prebuiltAvailable() {
  if (fs.existsSync(dest)) return true
  try {
    require.resolve(`uncache-tree-${platformTriple()}`)
    return true
  } catch {
    return false
  }
}

if (!args.has('--force') && prebuiltAvailable()) process.exit(0)
if (!fs.existsSync(path.join(root, 'Cargo.toml'))) {
  console.error(`uncache-tree: no prebuilt binary for ${platformTriple()} and no Rust sources to build one.`)
  process.exit(1)
}

const profile = args.has('--debug') ? 'debug' : 'release'
const cargoArgs = ['build', '--lib', '--locked']
if (profile === 'release') cargoArgs.push('--release')
console.error(`uncache-tree: building the native core (cargo ${cargoArgs.join(' ')})`)
try {
  execFileSync('cargo', cargoArgs, { cwd: root, stdio: 'inherit' })
} catch (error) {
  console.error('uncache-tree: cargo failed. Install Rust (https://rustup.rs) and run `npm run build`.')
  process.exit(typeof error.status === 'number' ? error.status : 1)
}
const targetDir = process.env.CARGO_TARGET_DIR || path.join(root, 'target')
const built = {
  linux: 'libuncache_tree.so',
  darwin: 'libuncache_tree.dylib',
  win32: 'uncache_tree.dll',
}[process.platform] || 'libuncache_tree.so'
// Copy then rename: a process that has the old binary loaded keeps its mapping (overwriting
// the file in place crashes every running process that uses it).
const partial = `${dest}.${process.pid}.tmp`
fs.copyFileSync(path.join(targetDir, profile, built), partial)
fs.renameSync(partial, dest)
console.error(`uncache-tree: wrote ${path.relative(root, dest)}`)
