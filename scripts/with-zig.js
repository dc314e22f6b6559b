#!/usr/bin/env node
'use strict'
// Runs a command with cargo-zigbuild and zig on PATH, for `npm run build:release`:
//   node scripts/with-zig.js napi build --platform --release -x --target x86_64-unknown-linux-gnu.2.17 …
// `napi build -x` cross-compiles with cargo-zigbuild; the `.2.17` suffix makes zig link against
// glibc 2.17, the floor of the prebuilt linux-*-gnu packages. Both tools come from PyPI
// (`ziglang`, `cargo-zigbuild`): from PATH when there, else from a venv, UNCACHE_TREE_ZIG_VENV or
// .venv-zig/ (created with python3 + pip on first use, about 15 s).
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const root = path.join(__dirname, '..')
const [command, ...args] = process.argv.slice(2)
if (!command) {
  console.error('usage: node scripts/with-zig.js <command> [args…]')
  process.exit(2)
}

function run(file, fileArgs, options = {}) {
  const result = spawnSync(file, fileArgs, { stdio: 'inherit', ...options })
  if (result.error) {
    console.error(`with-zig: ${file}: ${result.error.message}`)
    process.exit(1)
  }
  return result.status ?? 1
}

const env = { ...process.env }
if (spawnSync('cargo-zigbuild', ['--version'], { encoding: 'utf8' }).status !== 0) {
  const venv = process.env.UNCACHE_TREE_ZIG_VENV || path.join(root, '.venv-zig')
  const bin = path.join(venv, process.platform === 'win32' ? 'Scripts' : 'bin')
  if (!fs.existsSync(path.join(bin, 'cargo-zigbuild'))) {
    console.error(`with-zig: installing ziglang and cargo-zigbuild from PyPI into ${venv}`)
    if (run('python3', ['-m', 'venv', venv]) !== 0 || run(path.join(bin, 'pip'), ['install', '--quiet', 'ziglang', 'cargo-zigbuild']) !== 0) {
      console.error('with-zig: could not install them; `pip install ziglang cargo-zigbuild` by hand, then retry')
      process.exit(1)
    }
  }
  env.PATH = `${bin}${path.delimiter}${env.PATH}`
}
// npm puts node_modules/.bin on PATH for scripts; `napi` is found there.
process.exit(run(command, args, { cwd: root, env, shell: process.platform === 'win32' }))
