'use strict'
// Packaging, as a user meets it: the loader (platform and libc, version check, the one
// ERR_UNCACHE_NATIVE_BINARY with advice in the words of the package manager that installed it),
// `prepare` (a clone builds from source; a pack never does), the CLI without the binary, the
// platform packages and their pack guard (glibc 2.17), the glibc check, what the tarball holds,
// the types under strict TypeScript, the demo command, and uncache-tree/node-test refusing to
// run under another test runner. Every case runs a child process on a copy of the package made
// in a temp dir (what `npm install` puts into node_modules); scripts/ci-packaging.sh does the
// real npm/pnpm/yarn installs of the packed tarballs.
const test = require('node:test')
const assert = require('node:assert/strict')
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const ROOT = path.join(__dirname, '..')
const pkg = require('../package.json')
const platform = require('../lib/platform.js')
const native = require('../lib/native.js')
const PLATFORM = platform.platformTriple()
const BINARY = path.join(ROOT, platform.binaryName())

const made = []
const tmp = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'uncache-tree-packaging-'))
  made.push(dir)
  return dir
}
test.after(() => {
  for (const dir of made) fs.rmSync(dir, { recursive: true, force: true })
})
const noCargoPath = () =>
  process.env.PATH.split(path.delimiter)
    .filter((dir) => dir && !fs.existsSync(path.join(dir, 'cargo')))
    .join(path.delimiter)

/** A project with uncache-tree copied into node_modules the way `npm install` unpacks it (the
 * package.json `files`), without a binary unless `binary` is set. */
function project({ binary = false, platformPackage = false, version } = {}) {
  const dir = tmp()
  const dest = path.join(dir, 'node_modules', 'uncache-tree')
  fs.mkdirSync(dest, { recursive: true })
  for (const entry of [...pkg.files, 'package.json']) {
    fs.cpSync(path.join(ROOT, entry), path.join(dest, entry), { recursive: true })
  }
  if (version !== undefined) {
    const json = JSON.parse(fs.readFileSync(path.join(dest, 'package.json'), 'utf8'))
    json.version = version
    fs.writeFileSync(path.join(dest, 'package.json'), JSON.stringify(json))
  }
  if (binary) fs.copyFileSync(BINARY, path.join(dest, platform.binaryName()))
  if (platformPackage) {
    const p = path.join(dir, 'node_modules', platform.packageName())
    fs.mkdirSync(p, { recursive: true })
    fs.copyFileSync(path.join(ROOT, 'npm', PLATFORM, 'package.json'), path.join(p, 'package.json'))
    fs.copyFileSync(BINARY, path.join(p, platform.binaryName()))
  }
  return { dir, dest }
}

function node(args, { cwd, env = {} } = {}) {
  const r = spawnSync(process.execPath, args, { cwd, encoding: 'utf8', env: { ...process.env, ...env } })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

/** What require('uncache-tree') throws in `dir`, as plain data (or `{ loaded: true }`). */
function requireIn(dir, env) {
  const script =
    "try { const u = require('uncache-tree'); console.log(JSON.stringify({ loaded: typeof u.uncacheTree })) }" +
    ' catch (e) { console.log(JSON.stringify({ name: e.name, code: e.code, message: e.message, platform: e.platform, packageName: e.packageName, isUncacheError: e instanceof require(require("path").resolve("node_modules/uncache-tree/lib/errors.js")).UncacheError })) }'
  const r = node(['-e', script], { cwd: dir, env: { UNCACHE_TREE_NATIVE_PATH: '', ...env } })
  assert.equal(r.code, 0, r.stderr)
  return JSON.parse(r.stdout)
}

const glibc = platform.libcFamily() === 'glibc'

test('platform: the napi-rs name of this machine, glibc from /usr/bin/ldd, the report asked without its network probe', { skip: !glibc && 'not a glibc Linux' }, () => {
  assert.equal(PLATFORM, `${process.platform}-${process.arch}-gnu`)
  assert.equal(platform.binaryName(), `uncache-tree.${PLATFORM}.node`)
  assert.equal(platform.packageName('darwin-arm64'), 'uncache-tree-darwin-arm64')
  assert.equal(platform.hasPrebuilt('linux-x64-musl'), true)
  assert.equal(platform.hasPrebuilt('freebsd-x64'), false)
  const before = process.report.excludeNetwork
  const version = platform.glibcVersion()
  assert.equal(process.report.excludeNetwork, before, 'excludeNetwork is put back')
  process.report.excludeNetwork = true
  assert.equal(version, process.report.getReport().header.glibcVersionRuntime)
  process.report.excludeNetwork = before
  assert.match(version, /^2\.\d+$/)
})

test('versions: the binary, Cargo.toml, package.json and every platform package agree', () => {
  assert.equal(native.coreVersion(), pkg.version)
  assert.match(fs.readFileSync(path.join(ROOT, 'Cargo.toml'), 'utf8'), new RegExp(`^version = "${pkg.version}"$`, 'm'))
  const targets = Object.values(platform.TARGETS)
  assert.deepEqual(Object.keys(pkg.optionalDependencies).sort(), targets.map((t) => `uncache-tree-${t.platform}`).sort())
  assert.deepEqual(pkg.napi.targets, Object.keys(platform.TARGETS))
  for (const t of targets) {
    const p = require(`../npm/${t.platform}/package.json`)
    assert.equal(pkg.optionalDependencies[p.name], pkg.version)
    assert.equal(p.version, pkg.version)
    assert.deepEqual([p.os, p.cpu, p.libc], [[t.os], [t.cpu], t.libc ? [t.libc] : undefined])
    assert.equal(p.main, `uncache-tree.${t.platform}.node`)
    assert.deepEqual(p.files, [p.main])
  }
  const check = node([path.join(ROOT, 'scripts/npm-dirs.js'), '--check'])
  assert.equal(check.code, 0, check.stderr)
  assert.match(check.stderr, /7 platform packages and package.json are up to date/)
})

test('npm-dirs --check names the platform package that is out of date', () => {
  const dir = tmp()
  for (const entry of ['package.json', 'npm', 'scripts', 'lib']) fs.cpSync(path.join(ROOT, entry), path.join(dir, entry), { recursive: true })
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules')) // @napi-rs/cli
  const file = path.join(dir, 'npm/darwin-x64/package.json')
  fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(`"version": "${pkg.version}"`, '"version": "0.0.1"'))
  const r = node([path.join(dir, 'scripts/npm-dirs.js'), '--check'])
  assert.equal(r.code, 1)
  assert.match(r.stderr, /out of date: npm\/darwin-x64\/package\.json\. Run `node scripts\/npm-dirs\.js`/)
  const fix = node([path.join(dir, 'scripts/npm-dirs.js')])
  assert.equal(fix.code, 0, fix.stderr)
  assert.equal(node([path.join(dir, 'scripts/npm-dirs.js'), '--check']).code, 0)
})

const NEVER_ADD = `Do not add uncache-tree-${PLATFORM} to your own dependencies: only one OS can install it, and every other machine's install would then fail.`

test('no binary (npm layout): require() throws one ERR_UNCACHE_NATIVE_BINARY naming the platform, the package and npm\'s fix', () => {
  const { dir, dest } = project()
  fs.writeFileSync(path.join(dir, 'package-lock.json'), '{}')
  const e = requireIn(dir)
  assert.equal(e.isUncacheError, true)
  assert.equal(e.name, 'UncacheError')
  assert.equal(e.code, 'ERR_UNCACHE_NATIVE_BINARY')
  assert.equal(e.platform, PLATFORM)
  assert.equal(e.packageName, `uncache-tree-${PLATFORM}`)
  assert.equal(
    e.message,
    `No usable native binary of uncache-tree for ${PLATFORM} (Node ${process.version}). Looked for:\n` +
      `  ${path.join(fs.realpathSync(dest), `uncache-tree.${PLATFORM}.node`)}: not built\n` +
      `  uncache-tree-${PLATFORM}: not installed\n` +
      `Fix: npm installs uncache-tree-${PLATFORM} as an optional dependency of uncache-tree, but skips it when installing ` +
      'with --omit=optional or --no-optional (or npm_config_omit=optional): install without them. If package-lock.json ' +
      'was written on another platform, npm can skip it too (https://github.com/npm/cli/issues/4828): delete ' +
      `node_modules and package-lock.json, then run \`npm install\`. ${NEVER_ADD}`,
  )
})

test('regression (issue 19): the missing-binary advice matches the package manager that installed the package, and never adds the platform package', () => {
  const { installedBy } = require('../lib/install-advice.js')
  const target = Object.values(platform.TARGETS).find((t) => t.platform === PLATFORM)
  const arch = `os ${target.os}, cpu ${target.cpu}${target.libc ? `, libc ${target.libc}` : ''}`
  const cases = [
    // [how the project looks, the manager, what the advice must say]
    [{ 'pnpm-lock.yaml': '' }, 'pnpm', new RegExp(`supportedArchitectures setting only .*includes this one \\(${arch}\\).*then run \`pnpm install\``)],
    [{ 'yarn.lock': '' }, 'yarn', /not with --ignore-optional: run `yarn install` without it/],
    [{ 'yarn.lock': '', '.yarnrc.yml': '' }, 'yarn-berry', /supportedArchitectures \(\.yarnrc\.yml\) only: make sure it includes this one/],
    [{ 'package-lock.json': '{}' }, 'npm', /--omit=optional or --no-optional/],
  ]
  for (const [files, manager, advice] of cases) {
    const { dir, dest } = project()
    for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text)
    assert.equal(installedBy(dest), manager)
    const e = requireIn(dir)
    assert.equal(e.code, 'ERR_UNCACHE_NATIVE_BINARY')
    assert.match(e.message, advice, manager)
    assert.ok(e.message.endsWith(NEVER_ADD), manager)
    assert.doesNotMatch(e.message, /(npm install|pnpm add|yarn add) uncache-tree-/, manager)
  }
  // pnpm's own layout says pnpm whatever lockfile is near.
  const pnpmDest = path.join(tmp(), 'node_modules', '.pnpm', `uncache-tree@${pkg.version}`, 'node_modules', 'uncache-tree')
  assert.equal(installedBy(pnpmDest), 'pnpm')
  assert.equal(installedBy(ROOT), null, 'a clone is no install')
})

test('in a clone without a binary, the fix is `npm run build`', () => {
  const { dir, dest } = project()
  fs.mkdirSync(path.join(dest, '.git'))
  const e = requireIn(dir)
  assert.equal(e.code, 'ERR_UNCACHE_NATIVE_BINARY')
  assert.match(e.message, /\nFix: this is a clone of the repository, which builds the binary from source: install Rust \(https:\/\/rustup\.rs\), then run `npm run build`\.$/)
})

test('a binary of another version is refused, the platform package is then tried', () => {
  const { dir, dest } = project({ binary: true, version: '9.9.9' })
  const e = requireIn(dir)
  assert.equal(e.code, 'ERR_UNCACHE_NATIVE_BINARY')
  const local = path.join(fs.realpathSync(dest), `uncache-tree.${PLATFORM}.node`)
  assert.match(e.message, new RegExp(`\\n  ${local.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: is version ${pkg.version}, but this uncache-tree is 9\\.9\\.9\\n`))
  assert.match(e.message, new RegExp(`\\n  uncache-tree-${PLATFORM}: not installed\\n`))
  assert.match(e.message, new RegExp(`\\nFix: npm installs uncache-tree-${PLATFORM} as an optional dependency of uncache-tree`))
  // A platform package of another version: the advice is to reinstall, not to add it.
  const other = project({ platformPackage: true, version: '9.9.9' })
  const wrong = requireIn(other.dir)
  assert.match(wrong.message, new RegExp(`\\n  uncache-tree-${PLATFORM}: is version ${pkg.version}, but this uncache-tree is 9\\.9\\.9\\n`))
  assert.match(wrong.message, new RegExp(`\\nFix: uncache-tree-${PLATFORM} must be the version uncache-tree lists in its optionalDependencies\\. Run \`npm install\`; if the lockfile keeps the other version, delete node_modules and package-lock\\.json`))
  assert.doesNotMatch(wrong.message, /npm install uncache-tree-/)
})

test('a binary of the same version from an older build is refused by name, not a TypeError later', () => {
  const { dir } = project({ binary: true })
  // A stand-in for a stale build: the right coreVersion(), a module graph without planTree.
  const stale = path.join(dir, 'stale-binding.js')
  fs.writeFileSync(stale, `exports.coreVersion = () => ${JSON.stringify(pkg.version)}\nexports.ModuleGraph = class { forget() {} }\n`)
  const e = requireIn(dir, { UNCACHE_TREE_NATIVE_PATH: stale })
  assert.equal(e.code, 'ERR_UNCACHE_NATIVE_BINARY')
  assert.match(e.message, new RegExp(`: is version ${pkg.version.replace(/\./g, '\\.')}, but from an older build of it \\(no ModuleGraph\\.planTree\\)\\n`))
})

test('UNCACHE_TREE_NATIVE_PATH is the only place looked at when set', () => {
  const { dir } = project({ binary: true })
  const missing = path.join(dir, 'nowhere.node')
  const e = requireIn(dir, { UNCACHE_TREE_NATIVE_PATH: missing })
  assert.equal(e.code, 'ERR_UNCACHE_NATIVE_BINARY')
  assert.match(e.message, new RegExp(`Looked for:\\n  UNCACHE_TREE_NATIVE_PATH=${missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: not found\\n`))
  assert.match(e.message, /Fix: point UNCACHE_TREE_NATIVE_PATH at a binary built from this version, or unset it\.$/)
  assert.deepEqual(requireIn(dir, { UNCACHE_TREE_NATIVE_PATH: BINARY }), { loaded: 'function' })
})

test('the prebuilt platform package is loaded when no binary sits next to package.json', () => {
  const { dir } = project({ platformPackage: true })
  assert.deepEqual(requireIn(dir), { loaded: 'function' })
  const r = node(
    ['-e', "require('uncache-tree'); console.log(Object.keys(require.cache).filter((k) => k.endsWith('.node')).map((k) => require('path').relative(process.cwd(), k)).join())"],
    { cwd: dir, env: { UNCACHE_TREE_NATIVE_PATH: '' } },
  )
  assert.equal(r.stdout.trim(), path.join('node_modules', `uncache-tree-${PLATFORM}`, `uncache-tree.${PLATFORM}.node`))
})

test('CLI without the binary: --help and --version work, a command exits 3 with the coded message', () => {
  const { dest } = project()
  const bin = path.join(dest, 'bin', 'uncache-tree.js')
  const version = node([bin, '--version'])
  assert.deepEqual([version.code, version.stdout, version.stderr], [0, `${pkg.version}\n`, ''])
  const help = node([bin, 'doctor', '--help'])
  assert.equal(help.code, 0)
  const { DEFAULT_CYCLES, MAX_CYCLES } = require('../lib/proof/doctor.js')
  assert.match(help.stdout, new RegExp(`--cycles N +unload/reload cycles \\(default ${DEFAULT_CYCLES}, at most ${MAX_CYCLES}\\)`))
  const usage = node([bin, 'doctr'])
  assert.equal(usage.code, 2)
  const run = node([bin, 'doctor', './x.js'], { cwd: dest })
  assert.equal(run.code, 3)
  assert.match(run.stderr, new RegExp(`^uncache-tree: No usable native binary of uncache-tree for ${PLATFORM}`))
  assert.doesNotMatch(run.stderr, /\n +at /, 'no stack trace')
})

/** A directory with a fake `cargo` that logs its arguments, then exits `status`. */
function fakeCargo(status) {
  const bin = tmp()
  const log = path.join(bin, 'calls.log')
  fs.writeFileSync(
    path.join(bin, 'cargo'),
    `#!/bin/sh\necho "cargo $*" >> '${log}'\n[ "$1" = "--version" ] && { echo 'cargo 1.95.0'; exit 0; }\nexit ${status}\n`,
    { mode: 0o755 },
  )
  return { bin, log }
}

test('the published package.json has no install script: prepare only builds a clone, never for pack or publish', { skip: process.platform === 'win32' && 'sh scripts' }, () => {
  for (const hook of ['preinstall', 'install', 'postinstall']) assert.equal(pkg.scripts[hook], undefined, hook)
  assert.equal(pkg.scripts.prepare, 'node scripts/prepare.js')
  const { bin, log } = fakeCargo(0)
  // A fake npm that logs what prepare asks it to run.
  const npm = path.join(bin, 'npm-cli.js')
  fs.writeFileSync(npm, `require('fs').appendFileSync(${JSON.stringify(log)}, 'npm ' + process.argv.slice(2).join(' ') + '\\n')\n`)
  const prepare = (env) => node([path.join(ROOT, 'scripts/prepare.js')], { env: { PATH: `${bin}:${process.env.PATH}`, npm_execpath: npm, ...env } })
  for (const command of ['pack', 'publish']) {
    const r = prepare({ npm_command: command })
    assert.deepEqual([r.code, r.stderr], [0, ''])
  }
  assert.equal(fs.existsSync(log), false, 'nothing was built for pack or publish')
  const r = prepare({ npm_command: 'install' })
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(fs.readFileSync(log, 'utf8').trim().split('\n'), ['cargo --version', 'npm run --silent build'])
  assert.match(pkg.scripts.build, /^napi build --platform --release --no-js --dts target\/napi-binding\.d\.ts /)
  assert.match(pkg.scripts['build:release'], /napi build --platform --release -x --target x86_64-unknown-linux-gnu\.2\.17 --no-js --dts /)
})

test('prepare in a clone without cargo: exit 1, says to install Rust', () => {
  const r = node([path.join(ROOT, 'scripts/prepare.js')], { env: { PATH: noCargoPath(), npm_command: 'install' } })
  assert.equal(r.code, 1)
  assert.match(r.stderr, /^uncache-tree: a clone builds its native core from source, and cargo \(Rust\) was not found on PATH\. Install Rust from https:\/\/rustup\.rs/)
  assert.match(r.stderr, /install the published package instead: `npm install uncache-tree`\.\n$/)
})

test('the platform package: prepack copies the binary in, and refuses to pack without one or with a wrong one', () => {
  const repo = tmp()
  const dir = path.join(repo, 'npm', PLATFORM)
  fs.mkdirSync(dir, { recursive: true })
  fs.cpSync(path.join(ROOT, 'lib'), path.join(repo, 'lib'), { recursive: true })
  fs.cpSync(path.join(ROOT, 'scripts'), path.join(repo, 'scripts'), { recursive: true })
  fs.copyFileSync(path.join(ROOT, 'npm', PLATFORM, 'package.json'), path.join(dir, 'package.json'))
  const prepack = () => node([path.join(repo, 'scripts/prepack-platform.js')], { cwd: dir })

  let r = prepack()
  assert.equal(r.code, 1)
  assert.match(r.stderr, new RegExp(`^uncache-tree-${PLATFORM}: refusing to pack: uncache-tree\\.${PLATFORM}\\.node is missing\\. Build it first`))

  fs.writeFileSync(path.join(repo, `uncache-tree.${PLATFORM}.node`), 'not a binary')
  r = prepack()
  assert.equal(r.code, 1)
  assert.match(r.stderr, /is only 12 bytes: not a built binary/)

  if (PLATFORM.endsWith('-gnu')) {
    // What `npm run build` makes on a new distro: a binary that needs glibc 2.34.
    fs.writeFileSync(path.join(repo, `uncache-tree.${PLATFORM}.node`), Buffer.concat([Buffer.alloc(8192), Buffer.from('GLIBC_2.2.5\0GLIBC_2.34\0')]))
    r = prepack()
    assert.equal(r.code, 1)
    assert.match(r.stderr, new RegExp(`refusing to pack: uncache-tree\\.${PLATFORM}\\.node needs GLIBC_2\\.34, but the package must load on glibc 2\\.17\\. .*build it with \`npm run build:release\``))
  }

  // Another platform's package: copied in and packed (it cannot be loaded here to check it).
  const other = PLATFORM === 'darwin-arm64' ? 'darwin-x64' : 'darwin-arm64'
  const otherDir = path.join(repo, 'npm', other)
  fs.mkdirSync(otherDir)
  fs.copyFileSync(path.join(ROOT, 'npm', other, 'package.json'), path.join(otherDir, 'package.json'))
  fs.writeFileSync(path.join(repo, `uncache-tree.${other}.node`), Buffer.alloc(8192, 1))
  const packed = node([path.join(repo, 'scripts/prepack-platform.js')], { cwd: otherDir })
  assert.equal(packed.code, 0, packed.stderr)
  assert.equal(packed.stderr, `uncache-tree-${other}: copied uncache-tree.${other}.node from the repository root\nuncache-tree-${other}: packing uncache-tree.${other}.node (8 KiB)\n`)

  fs.copyFileSync(BINARY, path.join(repo, `uncache-tree.${PLATFORM}.node`))
  r = prepack()
  if (require('../scripts/check-glibc.js').glibcVersions(BINARY).some((v) => v.localeCompare('2.17', 'en', { numeric: true }) > 0)) {
    // This checkout's binary came from `npm run build` (this machine's glibc): refused, as above.
    assert.equal(r.code, 1)
    return
  }
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stderr, new RegExp(`copied uncache-tree\\.${PLATFORM}\\.node from the repository root\\n.*packing uncache-tree\\.${PLATFORM}\\.node \\(\\d+ KiB\\)\\n$`))
  assert.deepEqual(fs.readFileSync(path.join(dir, `uncache-tree.${PLATFORM}.node`)), fs.readFileSync(BINARY))

  const json = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'))
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ ...json, version: '9.9.9' }))
  r = prepack()
  assert.equal(r.code, 1)
  assert.match(r.stderr, new RegExp(`is version ${pkg.version}, but this package is 9\\.9\\.9: rebuild it`))
})

test('check-glibc: the highest GLIBC_ version a binary names, against a floor, for any architecture', () => {
  const script = path.join(ROOT, 'scripts/check-glibc.js')
  const dir = tmp()
  const file = (name, versions) => {
    const f = path.join(dir, name)
    fs.writeFileSync(f, Buffer.concat([Buffer.alloc(64), Buffer.from(versions.map((v) => `GLIBC_${v}\0`).join('xx'))]))
    return f
  }
  const old = file('old.node', ['2.2.5', '2.14', '2.3.4'])
  const ok = node([script, old])
  assert.deepEqual([ok.code, ok.stdout], [0, 'check-glibc: old.node needs at most GLIBC_2.14 (floor 2.17; versions used: 2.2.5, 2.3.4, 2.14)\n'])
  const fresh = node([script, file('new.node', ['2.2.5', '2.34', '2.18'])])
  assert.equal(fresh.code, 1)
  assert.match(fresh.stderr, /^check-glibc: new\.node needs GLIBC_2\.34, above the floor 2\.17:\n  \(GLIBC_2\.18\)\n  \(GLIBC_2\.34\)\nBuild it with `npm run build:release`/)
  assert.equal(node([script, old, '--max', '2.3']).code, 1)
  const notElf = node([script, path.join(ROOT, 'package.json')])
  assert.equal(notElf.code, 2)
  if (glibc) {
    // The real binary agrees with objdump -T where objdump exists.
    const dump = spawnSync('objdump', ['-T', BINARY], { encoding: 'utf8' })
    if (dump.status === 0) {
      const fromObjdump = [...new Set(dump.stdout.match(/GLIBC_\d+(\.\d+)+/g))].map((v) => v.slice(6))
      assert.deepEqual(new Set(require('../scripts/check-glibc.js').glibcVersions(BINARY)), new Set(fromObjdump))
    }
  }
})

test('uncache-tree/node-test refuses to load inside a Vitest or Jest worker, and loads in their children', () => {
  const dir = tmp()
  fs.mkdirSync(path.join(dir, 'node_modules'))
  fs.symlinkSync(ROOT, path.join(dir, 'node_modules', 'uncache-tree'))
  const body =
    "try { console.log(typeof require('uncache-tree/node-test').isolateEach) } catch (e) { console.log(e.code + ': ' + e.message) }\n"
  fs.writeFileSync(path.join(dir, 'vitest-worker.js'), body)
  fs.writeFileSync(path.join(dir, 'jest-worker.js'), body)
  fs.writeFileSync(path.join(dir, 'child.js'), body)
  fs.writeFileSync(path.join(dir, 'marked.js'), `globalThis.__vitest_worker__ = {}\n${body}`)
  const clean = { VITEST: '', JEST_WORKER_ID: '', NODE_TEST_CONTEXT: '' }
  const run = (file, env) => {
    const e = { ...process.env, ...clean, ...env }
    for (const k of Object.keys(clean)) if (e[k] === '') delete e[k]
    return spawnSync(process.execPath, [file], { cwd: dir, encoding: 'utf8', env: e }).stdout.trim()
  }
  const vitest = run('vitest-worker.js', { VITEST: 'true' })
  assert.match(vitest, /^ERR_UNCACHE_UNSUPPORTED_RUNTIME: uncache-tree\/node-test registers node:test hooks, but this file runs under Vitest: /)
  assert.match(vitest, /list 'uncache-tree\/vitest' in test.setupFiles/)
  assert.match(run('marked.js', {}), /^ERR_UNCACHE_UNSUPPORTED_RUNTIME: .* runs under Vitest/)
  assert.match(run('jest-worker.js', { JEST_WORKER_ID: '1' }), /^ERR_UNCACHE_UNSUPPORTED_RUNTIME: .* runs under Jest: .*jest\.isolateModules/)
  // A program a Vitest test spawns inherits VITEST but is not a Vitest worker.
  assert.equal(run('child.js', { VITEST: 'true', JEST_WORKER_ID: '1' }), 'function')
  assert.equal(run('vitest-worker.js', { VITEST: 'true', NODE_TEST_CONTEXT: 'child-v8' }), 'function')
  assert.equal(run('child.js', {}), 'function')
})

test('npm pack --dry-run --json: runtime files only (no Rust sources, no build scripts), stdout stays JSON', () => {
  const r = spawnSync('npm', ['pack', '--dry-run', '--json'], { cwd: ROOT, encoding: 'utf8' })
  assert.equal(r.status, 0, r.stderr)
  const [packed] = JSON.parse(r.stdout)
  assert.equal(packed.name, 'uncache-tree')
  const files = packed.files.map((f) => f.path)
  for (const file of ['index.d.mts', 'register.d.ts', 'register.d.mts', 'LICENSE', 'lib/platform.js', 'lib/install-advice.js', 'bin/demo.js', 'examples/plugin-host/demo.js', 'examples/plugin-host/plugin/index.js']) {
    assert.ok(files.includes(file), file)
  }
  assert.deepEqual(
    files.filter((f) => /\.node$|^(target|npm|src|scripts|__test__|benchmark|docs)\/|^(Cargo\.(toml|lock)|build\.rs)$/.test(f)),
    [],
  )
})

test('types: strict TypeScript with noPropertyAccessFromIndexSignature compiles hot().data and the API, CJS and ESM', () => {
  const dir = tmp()
  fs.mkdirSync(path.join(dir, 'node_modules'))
  fs.symlinkSync(ROOT, path.join(dir, 'node_modules', 'uncache-tree'))
  fs.symlinkSync(path.join(ROOT, 'node_modules', '@types'), path.join(dir, 'node_modules', '@types'))
  fs.writeFileSync(path.join(dir, 'package.json'), '{ "name": "ts-consumer", "private": true }\n')
  fs.writeFileSync(
    path.join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: { strict: true, noPropertyAccessFromIndexSignature: true, noUncheckedIndexedAccess: true, exactOptionalPropertyTypes: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', noEmit: true, types: ['node'] },
      files: ['plugin.cts', 'typed.cts', 'app.mts'],
    }),
  )
  fs.writeFileSync(
    path.join(dir, 'plugin.cts'),
    "import { hot, uncacheTree } from 'uncache-tree'\n" +
      'let ticks: number = hot(module).data?.ticks ?? 0 // TS4111 before: data was Record<string, any>\n' +
      'const timer = setInterval(() => ticks++, 1000)\n' +
      'hot(module).dispose((data) => { clearInterval(timer); data.ticks = ticks })\n' +
      "export const removed: string[] = uncacheTree('./x', { dryRun: true }).removed\n",
  )
  fs.writeFileSync(
    path.join(dir, 'typed.cts'),
    "import { hot } from 'uncache-tree'\n" +
      'const handle = hot<{ ticks: number }>(module)\n' +
      'export const ticks: number = handle.data?.ticks ?? 0\n' +
      'handle.dispose((data) => { data.ticks = 1 })\n' +
      '// @ts-expect-error a typed handle knows its fields\n' +
      'handle.dispose((data) => { data.tick = 1 })\n',
  )
  fs.writeFileSync(path.join(dir, 'app.mts'), "import u, { reload, UncacheError } from 'uncache-tree'\nexport const same: boolean = u.UncacheError === UncacheError && typeof reload === 'function'\n")
  const r = spawnSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir], { encoding: 'utf8' })
  assert.equal(r.status, 0, r.stdout + r.stderr)
  assert.equal(r.stdout, '')
  // @types/node: the types reference it; an optional peer dependency (TS users have it, others need nothing).
  assert.deepEqual([pkg.peerDependencies['@types/node'], pkg.peerDependenciesMeta['@types/node'].optional], ['>=20', true])
})

test('CLI: `uncache-tree demo` runs the memory-chart demo, `help demo` shows its usage, bad numbers are usage errors in CLI words', () => {
  const bin = path.join(ROOT, 'bin', 'uncache-tree.js')
  const demo = node([bin, 'demo', '--reloads', '100', '--every', '50'], { cwd: tmp() })
  assert.equal(demo.code, 0, demo.stderr)
  assert.match(demo.stdout, /^A plugin host reloads its plugin 100 times/)
  assert.match(demo.stdout, /\n\* plain delete +o uncache-tree\n|\* plain delete {4}o uncache-tree/)
  assert.match(demo.stdout, /uncache-tree: \+\d+\.\d MB — uncache-tree freed every old generation \(100\/100 collected\)\n$/)
  const help = node([bin, 'help', 'demo'])
  assert.equal(help.code, 0)
  assert.match(help.stdout, /^Usage: uncache-tree demo \[options\]/)
  const bad = node([bin, 'demo', '--reloads', 'many'])
  assert.deepEqual([bad.code, bad.stdout], [2, ''])
  assert.equal(bad.stderr, "uncache-tree: --reloads must be a positive integer, got 'many'\nRun `uncache-tree demo --help` for usage.\n")
  const top = node([bin, 'help'])
  assert.match(top.stdout, /\n {2}demo {7}reload a plugin 3,000 times with and without uncache-tree; chart the memory\n/)
})

test('regression (issue 19): the doctor\'s unresolvable entry is explained in command-line words (no options.from)', () => {
  const dir = tmp()
  const r = node([path.join(ROOT, 'bin', 'uncache-tree.js'), 'doctor', './nope.js'], { cwd: dir })
  assert.equal(r.code, 2)
  assert.match(r.stderr, /Cannot find module '\.\/nope\.js' from .*: name a file \(absolute, or relative to the current directory\) or an installed package, e\.g\. `uncache-tree doctor \.\/plugins\/metrics\.js`\./)
  assert.doesNotMatch(r.stderr, /options\./)
})
