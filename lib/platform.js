'use strict'
// The napi-rs platform name of this process (`linux-x64-gnu`, `darwin-arm64`, ...). It names the
// binary built next to package.json (`uncache-tree.<platform>.node`) and the per-platform npm
// package that ships the prebuilt one (`uncache-tree-<platform>`). TARGETS is every platform the
// release workflow builds, keyed by Rust target triple (package.json's `napi.targets` lists the
// same triples; scripts/npm-dirs.js writes npm/<platform>/ from it).
const fs = require('node:fs')

const TARGETS = {
  'x86_64-unknown-linux-gnu': { platform: 'linux-x64-gnu', os: 'linux', cpu: 'x64', libc: 'glibc' },
  'x86_64-unknown-linux-musl': { platform: 'linux-x64-musl', os: 'linux', cpu: 'x64', libc: 'musl' },
  'aarch64-unknown-linux-gnu': { platform: 'linux-arm64-gnu', os: 'linux', cpu: 'arm64', libc: 'glibc' },
  'aarch64-unknown-linux-musl': { platform: 'linux-arm64-musl', os: 'linux', cpu: 'arm64', libc: 'musl' },
  'x86_64-apple-darwin': { platform: 'darwin-x64', os: 'darwin', cpu: 'x64' },
  'aarch64-apple-darwin': { platform: 'darwin-arm64', os: 'darwin', cpu: 'arm64' },
  'x86_64-pc-windows-msvc': { platform: 'win32-x64-msvc', os: 'win32', cpu: 'x64' },
}

let familyCache

/** The header of a diagnostic report, with `excludeNetwork` set: without it, getReport() resolves
 * the host name of every open socket, which can take seconds. About 7 ms; null when unavailable. */
function reportHeader() {
  if (typeof process.report?.getReport !== 'function') return null
  const previous = process.report.excludeNetwork
  try {
    process.report.excludeNetwork = true
    return process.report.getReport().header ?? null
  } catch {
    return null
  } finally {
    process.report.excludeNetwork = previous
  }
}

/**
 * The C library on Linux, `'glibc'` or `'musl'` (null elsewhere). Reads /usr/bin/ldd, a text
 * file that names its C library on both glibc and musl systems (1 ms); only without it
 * (distroless images) asks the report header whether a glibc is loaded.
 */
function libcFamily() {
  if (process.platform !== 'linux') return null
  if (familyCache !== undefined) return familyCache
  try {
    const ldd = fs.readFileSync('/usr/bin/ldd', 'latin1')
    if (ldd.includes('musl')) familyCache = 'musl'
    else if (ldd.includes('GNU C Library') || ldd.includes('glibc')) familyCache = 'glibc'
  } catch {
    // No ldd: the report below decides.
  }
  if (familyCache === undefined) familyCache = reportHeader()?.glibcVersionRuntime ? 'glibc' : 'musl'
  return familyCache
}

/** The running glibc's version (`'2.36'`), or undefined (musl, not Linux). For error messages only. */
function glibcVersion() {
  if (libcFamily() !== 'glibc') return undefined
  return reportHeader()?.glibcVersionRuntime
}

/** The napi-rs platform name of this process, e.g. `linux-x64-gnu`, `darwin-arm64`, `win32-x64-msvc`. */
function platformTriple() {
  const { platform, arch } = process
  if (platform === 'linux') return `linux-${arch}-${libcFamily() === 'musl' ? 'musl' : 'gnu'}`
  if (platform === 'win32') return `win32-${arch}-msvc`
  return `${platform}-${arch}`
}

/** The file name of the binary for `platform` (default: this process's). */
function binaryName(platform = platformTriple()) {
  return `uncache-tree.${platform}.node`
}

/** The npm package that ships the prebuilt binary for `platform` (default: this process's). */
function packageName(platform = platformTriple()) {
  return `uncache-tree-${platform}`
}

/** True when the release workflow builds a prebuilt package for `platform`. */
function hasPrebuilt(platform = platformTriple()) {
  return Object.values(TARGETS).some((t) => t.platform === platform)
}

module.exports = { TARGETS, libcFamily, glibcVersion, platformTriple, binaryName, packageName, hasPrebuilt }
