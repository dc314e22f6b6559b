#!/usr/bin/env node
'use strict'
// The per-platform packages npm/<platform>/: `napi create-npm-dirs` (@napi-rs/cli) writes their
// package.json and README.md from package.json's `napi.targets`; this script then adds what the
// CLI does not: a `prepack` guard per package (scripts/prepack-platform.js: no binary, a glibc
// above 2.17, or a binary of another version is refused) and a description that says what the
// package is. It also keeps the root's `napi.targets` and `optionalDependencies` equal to
// lib/platform.js's TARGETS, at the root version (`napi pre-publish` sets the same
// optionalDependencies when it publishes; keeping them committed lets a clone and the packed
// tarball list them too). Run it after changing the version or the target list.
//
//   node scripts/npm-dirs.js           write
//   node scripts/npm-dirs.js --check   exit 1 (and say what differs) if anything is out of date:
//                                      the root `prepack`
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { TARGETS, packageName } = require('../lib/platform.js')

const root = path.join(__dirname, '..')
const check = process.argv.includes('--check')
const rootPkgPath = path.join(root, 'package.json')
const rootPkg = JSON.parse(fs.readFileSync(rootPkgPath, 'utf8'))
const json = (value) => `${JSON.stringify(value, null, 2)}\n`

/** The root package.json as it should be: targets and optionalDependencies from TARGETS. */
function expectedRoot() {
  const next = { ...rootPkg }
  next.napi = { ...rootPkg.napi, targets: Object.keys(TARGETS) }
  // Sorted by name, as npm writes it (so `npm install <pkg>` does not make it look stale).
  next.optionalDependencies = Object.fromEntries(
    Object.values(TARGETS)
      .map((t) => [packageName(t.platform), rootPkg.version])
      .sort(([a], [b]) => (a < b ? -1 : 1)),
  )
  return next
}

/** Runs `napi create-npm-dirs` in `dir` (which holds a package.json), then adds this repo's fields. */
function createNpmDirs(dir) {
  const cli = path.join(path.dirname(require.resolve('@napi-rs/cli/package.json', { paths: [root] })), 'dist', 'cli.js')
  const r = spawnSync(process.execPath, [cli, 'create-npm-dirs', '--cwd', dir], { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`napi create-npm-dirs failed: ${r.stderr || r.stdout}`)
  for (const target of Object.values(TARGETS)) {
    const file = path.join(dir, 'npm', target.platform, 'package.json')
    const pkg = JSON.parse(fs.readFileSync(file, 'utf8'))
    pkg.description = `The ${target.platform} binary of uncache-tree's native core. Installed by uncache-tree as an optional dependency.`
    delete pkg.keywords
    pkg.scripts = { prepack: 'node ../../scripts/prepack-platform.js' }
    fs.writeFileSync(file, json(pkg))
  }
}

let stale = []
if (check) {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'uncache-tree-npm-dirs-'))
  try {
    fs.writeFileSync(path.join(scratch, 'package.json'), json(expectedRoot()))
    createNpmDirs(scratch)
    for (const target of Object.values(TARGETS)) {
      for (const name of ['package.json', 'README.md']) {
        const rel = path.join('npm', target.platform, name)
        const current = fs.existsSync(path.join(root, rel)) ? fs.readFileSync(path.join(root, rel), 'utf8') : null
        if (current !== fs.readFileSync(path.join(scratch, rel), 'utf8')) stale.push(rel)
      }
    }
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true })
  }
  if (fs.readFileSync(rootPkgPath, 'utf8') !== json(expectedRoot())) stale.push('package.json')
} else {
  const before = fs.readFileSync(rootPkgPath, 'utf8')
  fs.writeFileSync(rootPkgPath, json(expectedRoot()))
  if (before !== json(expectedRoot())) stale.push('package.json')
  createNpmDirs(root)
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
  console.log(`npm-dirs: napi create-npm-dirs wrote npm/*/; prepack guards added${stale.length > 0 ? `; wrote ${stale.join(', ')}` : ''}`)
  if (extra.length > 0) console.error(`npm-dirs: npm/${extra.join(', npm/')} is not a target in lib/platform.js: remove it`)
}
