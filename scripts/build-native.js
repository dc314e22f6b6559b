#!/usr/bin/env node
'use strict'
// Builds the native core with cargo and puts it where lib/native.js looks first
// (`uncache-tree.<platform>.node` next to package.json).
//
//   node scripts/build-native.js            the `install` hook: NEVER exits non-zero (see below)
//   node scripts/build-native.js --force    `npm run build`: build now, fail loudly
//            ... --force --debug            `npm run build:debug`: no optimisation
//            ... --force --zig              `npm run build:release`: linux-x64-gnu against glibc 2.17
//                                           with cargo-zigbuild (from PyPI, into .venv-zig/)
//
// The install hook runs in a clone (`npm install`: it always builds there, incrementally, so the
// binary matches the sources) and in every project that installs the package. A user's install
// must never fail because of it, so there it only builds when no binary is there (no prebuilt package for this platform, or optional dependencies were left out) and
// cargo exists; anything else prints what is missing and what to do, and exits 0 (require()
// then throws ERR_UNCACHE_NATIVE_BINARY with the same advice). Outside a clone the build uses a
// temporary CARGO_TARGET_DIR, removed afterwards: no `target/` is left inside node_modules.
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { platformTriple, binaryName, packageName, hasPrebuilt } = require('../lib/platform.js')

const root = path.join(__dirname, '..')
const args = new Set(process.argv.slice(2))
const installHook = !args.has('--force')
const platform = platformTriple()
const dest = path.join(root, binaryName(platform))
const isClone = fs.existsSync(path.join(root, '.git'))
const say = (text) => process.stderr.write(`uncache-tree: ${text}\n`)

const RUST_HELP =
  'cargo (Rust) was not found on PATH. Install Rust from https://rustup.rs ' +
  '(`curl --proto =https --tlsv1.2 -sSf https://sh.rustup.rs | sh`), open a new shell so that cargo is on PATH, then'

function prebuiltInstalled() {
  try {
    require.resolve(packageName(platform), { paths: [root] })
    return true
  } catch {
    return false
  }
}

function cargoVersion() {
  const result = spawnSync('cargo', ['--version'], { encoding: 'utf8' })
  return result.status === 0 ? result.stdout.trim() : null
}

/** The built library's path inside a cargo target dir. */
function builtLibrary(targetDir, triple, profile) {
  const name = { darwin: 'libuncache_tree.dylib', win32: 'uncache_tree.dll' }[process.platform] ?? 'libuncache_tree.so'
  return path.join(targetDir, ...(triple ? [triple] : []), profile, name)
}

/** Copy then rename: a process that has the old binary loaded keeps its mapping (overwriting the
 * file in place crashes every running process that uses it). */
function install(from) {
  const partial = `${dest}.${process.pid}.tmp`
  fs.copyFileSync(from, partial)
  fs.renameSync(partial, dest)
  say(`wrote ${path.relative(root, dest) || dest}`)
}

/** cargo-zigbuild from PATH, or from a venv: UNCACHE_TREE_ZIG_VENV, else .venv-zig/ (created
 * with python3 + pip on first use, about 20 s). */
function zigbuildPath() {
  const onPath = spawnSync('cargo-zigbuild', ['--version'], { encoding: 'utf8' })
  if (onPath.status === 0) return null
  const venv = process.env.UNCACHE_TREE_ZIG_VENV || path.join(root, '.venv-zig')
  const bin = path.join(venv, process.platform === 'win32' ? 'Scripts' : 'bin')
  if (!fs.existsSync(path.join(bin, 'cargo-zigbuild'))) {
    say(`installing ziglang and cargo-zigbuild from PyPI into ${venv}`)
    run('python3', ['-m', 'venv', venv])
    run(path.join(bin, 'pip'), ['install', '--quiet', 'ziglang', 'cargo-zigbuild'])
  }
  return bin
}

function run(command, commandArgs, options = {}) {
  const result = spawnSync(command, commandArgs, { stdio: 'inherit', ...options })
  if (result.error) throw new Error(`${command}: ${result.error.message}`)
  if (result.status !== 0) throw new Error(`\`${command} ${commandArgs.join(' ')}\` exited with ${result.status ?? result.signal}`)
}

function build() {
  const profile = args.has('--debug') ? 'debug' : 'release'
  const zig = args.has('--zig')
  let triple
  const cargoArgs = [zig ? 'zigbuild' : 'build', '--lib', '--locked']
  if (profile === 'release') cargoArgs.push('--release')
  const env = { ...process.env }
  if (zig) {
    if (platform !== 'linux-x64-gnu') throw new Error(`--zig builds linux-x64-gnu only; this is ${platform}`)
    triple = 'x86_64-unknown-linux-gnu'
    cargoArgs.push('--target', `${triple}.2.17`)
    const bin = zigbuildPath()
    if (bin) env.PATH = `${bin}${path.delimiter}${env.PATH}`
  }
  // Outside a clone (a user's node_modules), build in a temporary target dir and remove it.
  let tempTarget
  if (!isClone && !env.CARGO_TARGET_DIR) {
    tempTarget = fs.mkdtempSync(path.join(os.tmpdir(), 'uncache-tree-build-'))
    env.CARGO_TARGET_DIR = tempTarget
  }
  const targetDir = env.CARGO_TARGET_DIR || path.join(root, 'target')
  say(`building the native core for ${platform}: cargo ${cargoArgs.join(' ')}`)
  try {
    run('cargo', cargoArgs, { cwd: root, env })
    install(builtLibrary(targetDir, triple, profile))
  } finally {
    if (tempTarget) fs.rmSync(tempTarget, { recursive: true, force: true })
  }
}

function installHookMain() {
  // In a clone the sources may be newer than the binary (a pull, a branch switch): cargo's
  // incremental build takes about a second when nothing changed, so a clone always builds.
  if (isClone && fs.existsSync(path.join(root, 'Cargo.toml')) && cargoVersion()) {
    try {
      build()
    } catch (error) {
      say(`the build failed: ${error.message}. Fix it and run \`npm run build\`.`)
    }
    return
  }
  if (fs.existsSync(dest) || prebuiltInstalled()) return
  const missing = hasPrebuilt(platform)
    ? `the prebuilt package ${packageName(platform)} is not installed (npm skips optional dependencies with ` +
      '--omit=optional, and when package-lock.json was written on another platform)'
    : `no prebuilt package exists for ${platform}`
  if (!fs.existsSync(path.join(root, 'Cargo.toml'))) {
    say(`${missing}, and the Rust sources to build one are not here. Install ${packageName(platform)}.`)
    return
  }
  if (!cargoVersion()) {
    const then = isClone ? 'run `npm run build`.' : 'run `npm rebuild uncache-tree`.'
    const alternative = hasPrebuilt(platform) && !isClone ? ` Or add the prebuilt package: \`npm install ${packageName(platform)}\`.` : ''
    say(`${isClone ? 'a clone builds its native core from source, but' : `${missing}; to build it from source,`} ${RUST_HELP} ${then}${alternative}`)
    return
  }
  if (!isClone) say(`${missing}; building from source instead (about 30 s).`)
  try {
    build()
  } catch (error) {
    say(`the build failed: ${error.message}. require('uncache-tree') will throw ERR_UNCACHE_NATIVE_BINARY until a binary is installed.`)
  }
}

if (installHook) {
  try {
    installHookMain()
  } catch (error) {
    say(`could not prepare the native core: ${error?.message ?? error}`)
  }
  process.exitCode = 0
} else {
  try {
    build()
  } catch (error) {
    say(error.message)
    process.exitCode = 1
  }
}
