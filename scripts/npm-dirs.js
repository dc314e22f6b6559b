#!/usr/bin/env node
'use strict'
// Writes the per-platform packages npm/<platform>/ (package.json, README.md) for every target in
// lib/platform.js's TARGETS, and the root package.json's `napi.targets` and
// `optionalDependencies` to match, all at the root package's version: the layout of
// @napi-rs/cli's `create-npm-dirs`. Run it after changing the version or the target list.
//
//   node scripts/npm-dirs.js           write
//   node scripts/npm-dirs.js --check   exit 1 (and say what differs) if anything is out of date
const fs = require('node:fs')
const path = require('node:path')
const { TARGETS, binaryName, packageName } = require('../lib/platform.js')

const root = path.join(__dirname, '..')
const check = process.argv.includes('--check')
const rootPkgPath = path.join(root, 'package.json')
const rootPkg = JSON.parse(fs.readFileSync(rootPkgPath, 'utf8'))

function platformPackage(triple, target) {
  const pkg = {
    name: packageName(target.platform),
    version: rootPkg.version,
    description: `The ${target.platform} binary of uncache-tree's native core. Installed by uncache-tree as an optional dependency.`,
    os: [target.os],
    cpu: [target.cpu],
    ...(target.libc ? { libc: [target.libc] } : {}),
    main: binaryName(target.platform),
    files: [binaryName(target.platform)],
    license: rootPkg.license,
    repository: rootPkg.repository,
    homepage: rootPkg.homepage,
    bugs: rootPkg.bugs,
    engines: rootPkg.engines,
    scripts: {
      // Copies the binary in (see scripts/prepack-platform.js) and refuses to pack without it.
      prepack: 'node ../../scripts/prepack-platform.js',
    },
  }
  return `${JSON.stringify(pkg, null, 2)}\n`
}

function platformReadme(triple, target) {
  return `# ${packageName(target.platform)}

The \`${triple}\` binary of [uncache-tree](https://github.com/uncache-tree/uncache-tree)'s native
core. Do not install it directly: \`uncache-tree\` lists it in \`optionalDependencies\`, npm installs
it on ${target.platform} only (its \`os\`/\`cpu\`${target.libc ? '/`libc`' : ''} fields), and
uncache-tree loads it from there.

Packing: \`npm pack\` in this folder runs \`prepack\`, which copies \`${binaryName(target.platform)}\`
in from the repository root when one is there (\`npm run build\` or \`npm run build:release\` puts
it there), else packs the one already here (\`node scripts/build-target.js ${triple}\`, or the
release workflow's artifact), and refuses to pack without it.
`
}

const wanted = new Map()
for (const [triple, target] of Object.entries(TARGETS)) {
  const dir = path.join(root, 'npm', target.platform)
  wanted.set(path.join(dir, 'package.json'), platformPackage(triple, target))
  wanted.set(path.join(dir, 'README.md'), platformReadme(triple, target))
}
const nextRoot = { ...rootPkg }
nextRoot.napi = { ...rootPkg.napi, targets: Object.keys(TARGETS) }
// Sorted by name, as npm writes it (so `npm install <pkg>` does not make it look stale).
nextRoot.optionalDependencies = Object.fromEntries(
  Object.values(TARGETS)
    .map((t) => [packageName(t.platform), rootPkg.version])
    .sort(([a], [b]) => (a < b ? -1 : 1)),
)
wanted.set(rootPkgPath, `${JSON.stringify(nextRoot, null, 2)}\n`)

const stale = []
for (const [file, text] of wanted) {
  const current = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : null
  if (current === text) continue
  stale.push(path.relative(root, file))
  if (!check) {
    fs.mkdirSync(path.dirname(file), { recursive: true })
    fs.writeFileSync(file, text)
  }
}
const known = new Set(Object.values(TARGETS).map((t) => t.platform))
const extra = fs.readdirSync(path.join(root, 'npm')).filter((d) => !known.has(d))
if (check) {
  if (stale.length > 0 || extra.length > 0) {
    if (stale.length > 0) console.error(`npm-dirs: out of date: ${stale.join(', ')}. Run \`node scripts/npm-dirs.js\`.`)
    if (extra.length > 0) console.error(`npm-dirs: npm/${extra.join(', npm/')} is not a target in lib/platform.js`)
    process.exit(1)
  }
  // stderr: this runs as `prepack`, and `npm pack --json` output on stdout must stay JSON.
  console.error(`npm-dirs: ${known.size} platform packages and package.json are up to date`)
} else {
  console.log(stale.length > 0 ? `npm-dirs: wrote ${stale.join(', ')}` : 'npm-dirs: nothing to change')
  if (extra.length > 0) console.error(`npm-dirs: npm/${extra.join(', npm/')} is not a target in lib/platform.js: remove it`)
}
