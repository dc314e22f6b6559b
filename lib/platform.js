'use strict'
// The napi-rs platform name of this process (`linux-x64-gnu`, `darwin-arm64`, ...), which names
// both the binary next to package.json and the per-platform npm package that ships it.

function isMusl() {
  if (process.platform !== 'linux') return false
  const report = typeof process.report?.getReport === 'function' ? process.report.getReport() : null
  return !report?.header?.glibcVersionRuntime
}

function platformTriple() {
  const { platform, arch } = process
  if (platform === 'linux') return `linux-${arch}-${isMusl() ? 'musl' : 'gnu'}`
  if (platform === 'win32') return `win32-${arch}-msvc`
  return `${platform}-${arch}`
}

function binaryName() {
  return `uncache-tree.${platformTriple()}.node`
}

module.exports = { platformTriple, binaryName }
