#!/usr/bin/env node
'use strict'
// Checks the glibc floor of a Linux binary: the highest GLIBC_x.y symbol version it imports
// (`objdump -T`) must not be above the floor (default 2.17, the floor of the prebuilt
// linux-*-gnu packages: CentOS 7, Ubuntu 14.04, Debian 8, Amazon Linux 2).
//
//   node scripts/check-glibc.js [binary] [--max 2.17]
const { spawnSync } = require('node:child_process')
const path = require('node:path')
const { binaryName } = require('../lib/platform.js')

const argv = process.argv.slice(2)
const maxAt = argv.indexOf('--max')
const floor = maxAt === -1 ? '2.17' : argv.splice(maxAt, 2)[1]
const file = argv[0] ?? path.join(__dirname, '..', binaryName('linux-x64-gnu'))

const parse = (v) => v.split('.').map(Number)
function compare(a, b) {
  const [x, y] = [parse(a), parse(b)]
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0)
  }
  return 0
}

const result = spawnSync('objdump', ['-T', file], { encoding: 'utf8' })
if (result.error || result.status !== 0) {
  console.error(`check-glibc: objdump -T ${file} failed: ${result.error?.message ?? result.stderr.trim()}`)
  process.exit(2)
}
const versions = [...new Set(result.stdout.match(/GLIBC_\d+(\.\d+)+/g) ?? [])].map((v) => v.slice(6)).sort(compare)
if (versions.length === 0) {
  console.error(`check-glibc: ${file} imports no GLIBC_ symbols: not a glibc binary?`)
  process.exit(2)
}
const highest = versions[versions.length - 1]
const over = versions.filter((v) => compare(v, floor) > 0)
const symbols = result.stdout.split('\n').filter((line) => over.some((v) => line.includes(`GLIBC_${v} `) || line.includes(`GLIBC_${v})`)))
if (over.length > 0) {
  console.error(`check-glibc: ${path.basename(file)} needs GLIBC_${highest}, above the floor ${floor}:`)
  for (const line of symbols) console.error(`  ${line.trim()}`)
  console.error('Build it with `npm run build:release` (cargo-zigbuild against glibc 2.17).')
  process.exit(1)
}
console.log(`check-glibc: ${path.basename(file)} needs at most GLIBC_${highest} (floor ${floor}; versions used: ${versions.join(', ')})`)
