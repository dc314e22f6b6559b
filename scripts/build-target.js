#!/usr/bin/env node
'use strict'
// Builds the native core for one release target and puts it into its platform package:
//   node scripts/build-target.js <rust target triple>
// e.g. x86_64-unknown-linux-gnu -> npm/linux-x64-gnu/uncache-tree.linux-x64-gnu.node.
// Linux targets build with cargo-zigbuild (on PATH, e.g. `pip install ziglang cargo-zigbuild`):
// glibc targets against glibc 2.17 (then checked with scripts/check-glibc.js), musl targets as a
// dynamically linked cdylib (`-crt-static`, which a Node addon needs). macOS and Windows build
// with plain cargo. The release workflow (.github/workflows/release.yml) runs this per target;
// here, on linux-x64-gnu, only the first one can be built.
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { TARGETS, binaryName } = require('../lib/platform.js')

const root = path.join(__dirname, '..')
const triple = process.argv[2]
const target = TARGETS[triple]
if (!target) {
  console.error(`build-target: unknown target '${triple ?? ''}'. Known: ${Object.keys(TARGETS).join(', ')}`)
  process.exit(2)
}

const env = { ...process.env }
let cargoTarget = triple
let subcommand = 'build'
if (target.os === 'linux') {
  subcommand = 'zigbuild'
  if (target.libc === 'glibc') cargoTarget = `${triple}.2.17`
  else env.RUSTFLAGS = `${env.RUSTFLAGS ?? ''} -C target-feature=-crt-static`.trim()
}
const args = [subcommand, '--lib', '--release', '--locked', '--target', cargoTarget]
console.error(`build-target: cargo ${args.join(' ')}`)
const result = spawnSync('cargo', args, { cwd: root, env, stdio: 'inherit' })
if (result.status !== 0) {
  console.error(`build-target: cargo exited with ${result.status ?? result.error?.message}`)
  process.exit(1)
}

const file = { darwin: 'libuncache_tree.dylib', win32: 'uncache_tree.dll' }[target.os] ?? 'libuncache_tree.so'
const targetDir = env.CARGO_TARGET_DIR || path.join(root, 'target')
const built = path.join(targetDir, triple, 'release', file)
const dest = path.join(root, 'npm', target.platform, binaryName(target.platform))
fs.copyFileSync(built, dest)
console.error(`build-target: wrote ${path.relative(root, dest)} (${fs.statSync(dest).size} bytes)`)
if (target.libc === 'glibc') {
  const check = spawnSync(process.execPath, [path.join(__dirname, 'check-glibc.js'), dest], { stdio: 'inherit' })
  process.exit(check.status ?? 1)
}
