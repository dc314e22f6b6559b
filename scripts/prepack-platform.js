#!/usr/bin/env node
'use strict'
// `prepack` of every npm/<platform>/ package (npm runs it for `npm pack` and `npm publish`, in
// that folder). Copies the binary in from the repository root when one is there (`npm run build`
// / `npm run build:release` put it there), else packs the one already in the folder (a CI
// artifact, put there by `napi artifacts`); then
// refuses, with exit 1, to pack a platform package without its binary, a `*-gnu` binary that
// needs a glibc above 2.17 (what `npm run build` makes on a new distro: it would not load on
// the older systems the package promises), or (on the platform the binary is for) a binary that
// does not load or is of another version.
const fs = require('node:fs')
const path = require('node:path')
const { platformTriple } = require('../lib/platform.js')
const { DEFAULT_FLOOR, compareVersions, glibcVersions } = require('./check-glibc.js')

const dir = process.cwd()
const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'))
const root = path.join(__dirname, '..')
const binary = pkg.main
const target = path.join(dir, binary)
const source = path.join(root, binary)

function refuse(message) {
  console.error(`${pkg.name}: refusing to pack: ${message}`)
  process.exit(1)
}

if (fs.existsSync(source) && path.resolve(source) !== path.resolve(target)) {
  fs.copyFileSync(source, target)
  console.error(`${pkg.name}: copied ${binary} from the repository root`)
}
if (!fs.existsSync(target)) {
  refuse(
    `${path.relative(process.cwd(), target) || binary} is missing. Build it first (\`npm run build:release\` at the ` +
      `repository root on ${binary.split('.')[1]}, or \`npm run build\`), or put the release workflow's artifact here.`,
  )
}
const size = fs.statSync(target).size
if (size < 4096) refuse(`${binary} is only ${size} bytes: not a built binary`)
if ((pkg.libc ?? []).includes('glibc')) {
  const highest = glibcVersions(target).at(-1)
  if (highest === undefined) refuse(`${binary} imports no GLIBC_ symbols: not a glibc binary`)
  if (compareVersions(highest, DEFAULT_FLOOR) > 0) {
    refuse(
      `${binary} needs GLIBC_${highest}, but the package must load on glibc ${DEFAULT_FLOOR}. It was built against ` +
        "this machine's glibc (`npm run build`): build it with `npm run build:release` (napi build -x, zig, glibc " +
        `${DEFAULT_FLOOR}), then pack again.`,
    )
  }
}
if (`uncache-tree.${platformTriple()}.node` === binary) {
  let version
  try {
    version = require(target).coreVersion()
  } catch (error) {
    refuse(`${binary} does not load here: ${String(error.message).split('\n')[0]}`)
  }
  if (version !== pkg.version) refuse(`${binary} is version ${version}, but this package is ${pkg.version}: rebuild it`)
}
console.error(`${pkg.name}: packing ${binary} (${(size / 1024).toFixed(0)} KiB)`)
