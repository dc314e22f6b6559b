#!/usr/bin/env node
'use strict'
// `prepack` of every npm/<platform>/ package (npm runs it for `npm pack` and `npm publish`, in
// that folder). Copies the binary in from the repository root when one is there (`npm run build`
// / `npm run build:release` put it there), else packs the one already in the folder (a CI
// artifact, or scripts/build-target.js); then
// refuses, with exit 1, to pack a platform package without its binary, or (on the platform the
// binary is for) with a binary that does not load or is of another version.
const fs = require('node:fs')
const path = require('node:path')
const { platformTriple } = require('../lib/platform.js')

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
