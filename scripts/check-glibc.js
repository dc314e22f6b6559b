#!/usr/bin/env node
'use strict'
// Checks the glibc floor of a Linux binary: the highest GLIBC_x.y symbol version it imports must
// not be above the floor (default 2.17, the floor of the prebuilt linux-*-gnu packages: CentOS 7,
// Ubuntu 14.04, Debian 8, Amazon Linux 2).
//
//   node scripts/check-glibc.js [binary] [--max 2.17]
//
// The versions are read from the file's bytes: every version a binary needs is named in its
// dynamic string table as `GLIBC_x.y\0`. That works for a binary of any architecture (the release
// workflow checks the arm64 one on an x64 runner) and needs no objdump; objdump -T, when present,
// only names the symbols that need a version above the floor. scripts/prepack-platform.js uses
// glibcVersions() to refuse packing such a binary.
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const DEFAULT_FLOOR = '2.17'

const parse = (v) => v.split('.').map(Number)
function compareVersions(a, b) {
  const [x, y] = [parse(a), parse(b)]
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0)
  }
  return 0
}

/** The GLIBC_ versions `file` names, ascending (`['2.2.5', '2.3', '2.14']`); [] for a non-glibc file. */
function glibcVersions(file) {
  const text = fs.readFileSync(file).toString('latin1')
  const found = new Set()
  for (const match of text.matchAll(/GLIBC_(\d+(?:\.\d+)+)\0/g)) found.add(match[1])
  return [...found].sort(compareVersions)
}

function main(argv) {
  const maxAt = argv.indexOf('--max')
  const floor = maxAt === -1 ? DEFAULT_FLOOR : argv.splice(maxAt, 2)[1]
  const file = argv[0] ?? path.join(__dirname, '..', require('../lib/platform.js').binaryName('linux-x64-gnu'))
  let versions
  try {
    versions = glibcVersions(file)
  } catch (error) {
    console.error(`check-glibc: cannot read ${file}: ${error.message}`)
    return 2
  }
  if (versions.length === 0) {
    console.error(`check-glibc: ${file} imports no GLIBC_ symbols: not a glibc binary?`)
    return 2
  }
  const highest = versions[versions.length - 1]
  const over = versions.filter((v) => compareVersions(v, floor) > 0)
  if (over.length > 0) {
    console.error(`check-glibc: ${path.basename(file)} needs GLIBC_${highest}, above the floor ${floor}:`)
    const objdump = spawnSync('objdump', ['-T', file], { encoding: 'utf8' })
    const lines = objdump.status === 0 ? objdump.stdout.split('\n') : []
    const symbols = lines.filter((line) => over.some((v) => line.includes(`GLIBC_${v} `) || line.includes(`GLIBC_${v})`)))
    for (const line of symbols.length > 0 ? symbols : over.map((v) => `(GLIBC_${v})`)) console.error(`  ${line.trim()}`)
    console.error('Build it with `npm run build:release` (napi build -x: cargo-zigbuild against glibc 2.17).')
    return 1
  }
  console.log(`check-glibc: ${path.basename(file)} needs at most GLIBC_${highest} (floor ${floor}; versions used: ${versions.join(', ')})`)
  return 0
}

module.exports = { DEFAULT_FLOOR, compareVersions, glibcVersions }
if (require.main === module) process.exitCode = main(process.argv.slice(2))
