'use strict'
// Packaging, as a user meets it: the loader (platform and libc, version check, the one
// ERR_UNCACHE_NATIVE_BINARY), the install hook that must never fail an install, the CLI without
// the binary, the platform packages and their pack guard, the glibc check, and
// uncache-tree/node-test refusing to run under another test runner. Every case runs a child
// process on a copy of the package made in a temp dir (what `npm install` puts into
// node_modules); scripts/ci-packaging.sh does the real npm/pnpm installs of the tarballs.
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

test('platform: linux-x64-gnu here, glibc from /usr/bin/ldd, the report asked without its network probe', () => {
  assert.equal(PLATFORM, `${process.platform}-${process.arch}${process.platform === 'linux' ? '-gnu' : ''}`)
  assert.equal(platform.libcFamily(), 'glibc')
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
  const file = path.join(dir, 'npm/darwin-x64/package.json')
  fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(`"version": "${pkg.version}"`, '"version": "0.0.1"'))
  const r = node([path.join(dir, 'scripts/npm-dirs.js'), '--check'])
  assert.equal(r.code, 1)
  assert.match(r.stderr, /out of date: npm\/darwin-x64\/package\.json\. Run `node scripts\/npm-dirs\.js`/)
  const fix = node([path.join(dir, 'scripts/npm-dirs.js')])
  assert.equal(fix.code, 0, fix.stderr)
  assert.equal(node([path.join(dir, 'scripts/npm-dirs.js'), '--check']).code, 0)
})

test('no binary: require() throws one ERR_UNCACHE_NATIVE_BINARY naming the platform, the package and the fix', () => {
  const { dir, dest } = project()
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
      `Fix: install the prebuilt package of the same version: \`npm install uncache-tree-${PLATFORM}@${pkg.version}\`. ` +
      'npm installs it as an optional dependency of uncache-tree, but skips it with --omit=optional or --no-optional, ' +
      'and when package-lock.json was written on another platform. Or build from source: install Rust ' +
      '(https://rustup.rs), then run `npm rebuild uncache-tree` (it builds the binary with cargo).',
  )
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
  assert.match(e.message, /npm install uncache-tree-linux-x64-gnu@9\.9\.9/)
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
  assert.match(run.stderr, /^uncache-tree: No usable native binary of uncache-tree for linux-x64-gnu/)
  assert.doesNotMatch(run.stderr, /\n +at /, 'no stack trace')
})

/** A directory with a fake `cargo` that logs its arguments and CARGO_TARGET_DIR, then exits `status`. */
function fakeCargo(status) {
  const bin = tmp()
  const log = path.join(bin, 'calls.log')
  fs.writeFileSync(
    path.join(bin, 'cargo'),
    `#!/bin/sh\necho "$* target=$CARGO_TARGET_DIR" >> '${log}'\n[ "$1" = "--version" ] && { echo 'cargo 1.95.0'; exit 0; }\n` +
      `[ -n "$CARGO_TARGET_DIR" ] && mkdir -p "$CARGO_TARGET_DIR/release"\nexit ${status}\n`,
    { mode: 0o755 },
  )
  return { bin, log }
}

test('install hook without cargo: exits 0, says what is missing and what to run, builds nothing', () => {
  const { dest } = project()
  const r = node([path.join(dest, 'scripts/build-native.js')], { cwd: dest, env: { PATH: noCargoPath() } })
  assert.equal(r.code, 0)
  assert.equal(r.stdout, '')
  assert.equal(
    r.stderr,
    `uncache-tree: the prebuilt package uncache-tree-${PLATFORM} is not installed (npm skips optional dependencies with ` +
      '--omit=optional, and when package-lock.json was written on another platform); to build it from source, ' +
      'cargo (Rust) was not found on PATH. Install Rust from https://rustup.rs (`curl --proto =https --tlsv1.2 -sSf ' +
      'https://sh.rustup.rs | sh`), open a new shell so that cargo is on PATH, then run `npm rebuild uncache-tree`. ' +
      `Or add the prebuilt package: \`npm install uncache-tree-${PLATFORM}\`.\n`,
  )
  assert.deepEqual(fs.readdirSync(dest).filter((f) => f.endsWith('.node') || f === 'target'), [])
})

test('install hook with a binary present (next to package.json, or the platform package): silent no-op', () => {
  const { bin, log } = fakeCargo(0)
  for (const options of [{ binary: true }, { platformPackage: true }]) {
    const { dest } = project(options)
    const r = node([path.join(dest, 'scripts/build-native.js')], { cwd: dest, env: { PATH: `${bin}:${process.env.PATH}` } })
    assert.deepEqual([r.code, r.stdout, r.stderr], [0, '', ''])
  }
  assert.equal(fs.existsSync(log), false, 'cargo was not called')
})

test('install hook outside a clone builds in a temporary target dir, removes it, and exits 0 when cargo fails', () => {
  const { bin, log } = fakeCargo(101)
  const { dest } = project()
  const scratch = tmp()
  const r = node([path.join(dest, 'scripts/build-native.js')], {
    cwd: dest,
    env: { PATH: `${bin}:${process.env.PATH}`, TMPDIR: scratch, CARGO_TARGET_DIR: '' },
  })
  assert.equal(r.code, 0)
  const calls = fs.readFileSync(log, 'utf8').trim().split('\n')
  assert.equal(calls.length, 2)
  assert.match(calls[1], new RegExp(`^build --lib --locked --release target=${scratch}/uncache-tree-build-\\w+$`))
  assert.deepEqual(fs.readdirSync(scratch), [], 'the temporary target dir is gone')
  assert.equal(fs.existsSync(path.join(dest, 'target')), false)
  assert.match(r.stderr, /building from source instead \(about 30 s\)/)
  assert.match(r.stderr, /the build failed: `cargo build --lib --locked --release` exited with 101\. require\('uncache-tree'\) will throw ERR_UNCACHE_NATIVE_BINARY until a binary is installed\.\n$/)
})

test('`npm run build` (--force) fails loudly when cargo fails', () => {
  const { bin } = fakeCargo(101)
  const { dest } = project()
  fs.mkdirSync(path.join(dest, '.git'))
  const r = node([path.join(dest, 'scripts/build-native.js'), '--force'], { cwd: dest, env: { PATH: `${bin}:${process.env.PATH}` } })
  assert.equal(r.code, 1)
  assert.match(r.stderr, /exited with 101/)
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

  fs.copyFileSync(BINARY, path.join(repo, `uncache-tree.${PLATFORM}.node`))
  r = prepack()
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stderr, /copied uncache-tree\.linux-x64-gnu\.node from the repository root\n.*packing uncache-tree\.linux-x64-gnu\.node \(\d+ KiB\)\n$/)
  assert.deepEqual(fs.readFileSync(path.join(dir, `uncache-tree.${PLATFORM}.node`)), fs.readFileSync(BINARY))

  const json = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'))
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ ...json, version: '9.9.9' }))
  r = prepack()
  assert.equal(r.code, 1)
  assert.match(r.stderr, new RegExp(`is version ${pkg.version}, but this package is 9\\.9\\.9: rebuild it`))
})

test('check-glibc: the highest GLIBC_ version a binary imports, against a floor', () => {
  const script = path.join(ROOT, 'scripts/check-glibc.js')
  const high = node([script, BINARY, '--max', '99.0'])
  assert.equal(high.code, 0, high.stderr)
  const [, highest, used] = high.stdout.match(/needs at most GLIBC_([\d.]+) \(floor 99\.0; versions used: ([\d., ]+)\)/)
  assert.equal(used.split(', ').at(-1), highest)
  const low = node([script, BINARY, '--max', '2.2'])
  assert.equal(low.code, 1)
  assert.match(low.stderr, new RegExp(`needs GLIBC_${highest.replace(/\./g, '\\.')}, above the floor 2\\.2:\\n  .*\\(GLIBC_`))
  const notElf = node([script, path.join(ROOT, 'package.json')])
  assert.equal(notElf.code, 2)
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

test('npm pack --dry-run --json: stdout stays JSON (prepack writes to stderr), no binary in the main package', () => {
  const r = spawnSync('npm', ['pack', '--dry-run', '--json'], { cwd: ROOT, encoding: 'utf8' })
  assert.equal(r.status, 0, r.stderr)
  const [packed] = JSON.parse(r.stdout)
  assert.equal(packed.name, 'uncache-tree')
  const files = packed.files.map((f) => f.path)
  for (const file of ['index.d.mts', 'register.d.ts', 'register.d.mts', 'LICENSE', 'scripts/build-native.js', 'lib/platform.js', 'Cargo.lock']) {
    assert.ok(files.includes(file), file)
  }
  assert.deepEqual(files.filter((f) => f.endsWith('.node') || f.startsWith('target/') || f.startsWith('npm/')), [])
})
