#!/usr/bin/env node
'use strict'
// A read-only npm registry on 127.0.0.1 that serves the tarballs of one directory, for
// scripts/ci-packaging.sh: npm, pnpm and Yarn then install `uncache-tree` BY NAME, as a user
// does, and resolve its optionalDependencies (the platform packages) from the same registry,
// with their own os/cpu/libc rules. Every other name is a 404.
//
//   node scripts/local-registry.js <dir with *.tgz> [--log FILE] [--lifetime-s 3600]
//
// Prints the registry URL on stdout once it listens. Stops by itself after --lifetime-s.
const { spawnSync } = require('node:child_process')
const crypto = require('node:crypto')
const fs = require('node:fs')
const http = require('node:http')
const path = require('node:path')

const args = process.argv.slice(2)
const option = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback)
const dir = path.resolve(args[0] ?? '')
const log = option('--log')
const lifetimeMs = Number(option('--lifetime-s', '3600')) * 1000

/** name -> { tarballs: Map<file, path>, versions: {version: manifest} } from every *.tgz in dir. */
function readTarballs() {
  const packages = new Map()
  for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.tgz'))) {
    const full = path.join(dir, file)
    const manifest = spawnSync('tar', ['-xzOf', full, 'package/package.json'], { encoding: 'utf8' })
    if (manifest.status !== 0) throw new Error(`${file}: no package/package.json (${manifest.stderr.trim()})`)
    const pkg = JSON.parse(manifest.stdout)
    const bytes = fs.readFileSync(full)
    const entry = packages.get(pkg.name) ?? { files: new Map(), versions: {} }
    entry.files.set(file, full)
    entry.versions[pkg.version] = {
      ...pkg,
      _id: `${pkg.name}@${pkg.version}`,
      dist: {
        tarball: `/-/${file}`, // made absolute per request
        shasum: crypto.createHash('sha1').update(bytes).digest('hex'),
        integrity: `sha512-${crypto.createHash('sha512').update(bytes).digest('base64')}`,
      },
    }
    packages.set(pkg.name, entry)
  }
  return packages
}

const packages = readTarballs()
const files = new Map([...packages.values()].flatMap((p) => [...p.files]))

const server = http.createServer((req, res) => {
  const url = decodeURIComponent(new URL(req.url, 'http://x').pathname)
  if (log) fs.appendFileSync(log, `${req.method} ${url}\n`)
  const base = `http://${req.headers.host}`
  if (req.method === 'GET' && url.startsWith('/-/') && files.has(url.slice(3))) {
    res.writeHead(200, { 'content-type': 'application/octet-stream' })
    fs.createReadStream(files.get(url.slice(3))).pipe(res)
    return
  }
  const name = url.slice(1)
  const entry = req.method === 'GET' ? packages.get(name) : undefined
  if (entry === undefined) {
    res.writeHead(404, { 'content-type': 'application/json' })
    res.end('{"error":"Not found"}')
    return
  }
  const versions = Object.fromEntries(
    Object.entries(entry.versions).map(([v, m]) => [v, { ...m, dist: { ...m.dist, tarball: base + m.dist.tarball } }]),
  )
  const latest = Object.keys(versions).at(-1)
  res.writeHead(200, { 'content-type': 'application/json' })
  res.end(JSON.stringify({ name, 'dist-tags': { latest }, versions, time: { [latest]: new Date(0).toISOString() } }))
})

server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`http://127.0.0.1:${server.address().port}/\n`)
})
setTimeout(() => server.close(() => process.exit(0)), lifetimeMs).unref()
setTimeout(() => process.exit(0), lifetimeMs + 5000).unref()
