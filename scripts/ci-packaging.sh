#!/usr/bin/env bash
# CI: the install a user gets, from the packed tarballs, with no Rust (cargo, rustc) on PATH.
#   1. the linux-x64-gnu release binary (`npm run build:release`: napi build -x, zig, glibc 2.17);
#   2. `npm pack` of uncache-tree and of npm/linux-x64-gnu: runtime files only, no install script;
#      the six other platform packages as stand-ins (package.json only: they are built elsewhere);
#   3. a registry on 127.0.0.1 serving those tarballs (scripts/local-registry.js), so that every
#      package manager installs `uncache-tree` BY NAME and resolves its optionalDependencies the
#      way it does from npmjs.com;
#   4. per package manager, in a fresh project: the install (timed; it must not warn about or
#      block an install script), `require`, `import`, the CLI through the package manager's own
#      runner, a smoke unload with the binary from the platform package; then a project where the
#      platform package is left out (--omit=optional, supportedArchitectures, --ignore-optional):
#      the install exits 0 and require() throws ERR_UNCACHE_NATIVE_BINARY with that package
#      manager's advice. npm on Node 20 and 26; pnpm 10 (Node 20), 11 and 12 (Node 26: they need
#      Node >= 22.13); yarn 1; yarn 4 with the node-modules linker and with PnP (its ESM loader on
#      Node 22, where a loader hook hands Node CommonJS source: an unload must still work);
#   5. arethetypeswrong and publint on the packed package;
#   6. a fresh clone: `npm install` builds the core from source and leaves `git status` clean.
# pnpm and yarn come from the npm registry (pnpm@N, yarn@1, @yarnpkg/cli-dist@4) into a temp
# prefix. Every cache is a fresh folder of this run: yarn 4 gets a global folder of its own
# (its tarball mirror and npm metadata cache live there: an earlier run's tarball of the same
# version, or its registry's port, would win) and keeps no mirror. Network: the npm registry only. Run from the repository root after `npm install`:
#   bash scripts/ci-packaging.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=$(mktemp -d "${TMPDIR:-/tmp}/uncache-tree-packaging.XXXXXX")
registry_pid=""
cleanup() {
  [[ -n "$registry_pid" ]] && kill "$registry_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
started=$SECONDS
summary="$work/summary.txt"

fail() {
  echo "!! packaging: $*" >&2
  exit 1
}
now_ms() { date +%s%3N; }

# PATH without any directory that has a cargo (or rustc) in it: what a user without Rust has.
nocargo_path=""
IFS=':' read -r -a path_dirs <<<"$PATH"
for dir in "${path_dirs[@]}"; do
  [[ -z "$dir" || -x "$dir/cargo" || -x "$dir/rustc" ]] && continue
  nocargo_path="${nocargo_path:+$nocargo_path:}$dir"
done
PATH="$nocargo_path" bash -c 'command -v cargo' >/dev/null && fail "cargo is still on the reduced PATH"

if [[ ! -x .ci/nodes/node_modules/node26/bin/node ]]; then
  (cd .ci/nodes && npm install --no-audit --no-fund --no-package-lock >/dev/null)
fi
node20_dir=$(dirname "$(command -v node)")
node22_dir=$(cd .ci/nodes/node_modules/node22/bin && pwd)
node26_dir=$(cd .ci/nodes/node_modules/node26/bin && pwd)
version=$(node -p "require('./package.json').version")

phase_start=$SECONDS
phase() { # prints how long the previous phase took, then the next heading
  echo "   ($((SECONDS - phase_start)) s)"
  phase_start=$SECONDS
  echo "== $*"
}

echo "== release binary: npm run build:release (napi build -x, zig, glibc 2.17)"
# One zig venv per user, not per clone: CI runs from fresh clones.
export UNCACHE_TREE_ZIG_VENV="${UNCACHE_TREE_ZIG_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/uncache-tree/venv-zig}"
mkdir -p "$(dirname "$UNCACHE_TREE_ZIG_VENV")"
npm run --silent build:release

phase "npm pack: runtime files only"
tarballs="$work/tarballs"
mkdir -p "$tarballs"
npm pack --silent --pack-destination "$tarballs" >/dev/null
(cd npm/linux-x64-gnu && npm pack --silent --pack-destination "$tarballs" >/dev/null)
main_tgz="$tarballs/uncache-tree-$version.tgz"
platform_tgz="$tarballs/uncache-tree-linux-x64-gnu-$version.tgz"
[[ -f "$main_tgz" && -f "$platform_tgz" ]] || fail "npm pack did not write both tarballs"
listing=$(tar -tzf "$main_tgz")
bad=$(grep -E '\.node$|^package/(src|target|npm|__test__|benchmark)/|^package/(Cargo\.(toml|lock)|build\.rs)$|^package/scripts/' <<<"$listing" || true)
[[ -z "$bad" ]] || fail "the main tarball holds build-time files: $bad"
for needed in package/bin/demo.js package/examples/plugin-host/demo.js package/index.d.ts package/lib/native.js; do
  grep -qx "$needed" <<<"$listing" || fail "the main tarball lacks $needed"
done
tar -xzOf "$main_tgz" package/package.json | node -e "
  const { scripts = {} } = JSON.parse(require('fs').readFileSync(0, 'utf8'))
  const hooks = ['preinstall', 'install', 'postinstall'].filter((s) => s in scripts)
  if (hooks.length > 0) { console.error('install scripts in the published package.json: ' + hooks); process.exit(1) }
" || fail "the published package.json has an install script"
tar -tzf "$platform_tgz" | grep -qx "package/uncache-tree.linux-x64-gnu.node" || fail "the platform tarball has no binary"
main_size=$(stat -c %s "$main_tgz")
echo "   uncache-tree:               $main_size bytes packed, $(wc -l <<<"$listing") files"
echo "   uncache-tree-linux-x64-gnu: $(stat -c %s "$platform_tgz") bytes packed"
echo "tarball uncache-tree: $main_size bytes, $(wc -l <<<"$listing") files" >>"$summary"
echo "tarball uncache-tree-linux-x64-gnu: $(stat -c %s "$platform_tgz") bytes" >>"$summary"
# The release workflow publishes all seven platform packages; the six built elsewhere are
# stand-ins here (package.json only), so that the registry lists every optional dependency.
for pkg_json in npm/*/package.json; do
  platform=$(basename "$(dirname "$pkg_json")")
  [[ "$platform" == linux-x64-gnu ]] && continue
  mkdir -p "$work/stub/$platform"
  node -e "const p = require('./$pkg_json'); delete p.scripts; require('fs').writeFileSync('$work/stub/$platform/package.json', JSON.stringify(p))"
  (cd "$work/stub/$platform" && npm pack --silent --ignore-scripts --pack-destination "$tarballs" >/dev/null)
done

# A platform folder without its binary must refuse to pack.
mkdir -p "$work/lonely/npm/linux-x64-gnu" "$work/lonely/scripts" "$work/lonely/lib"
cp npm/linux-x64-gnu/package.json "$work/lonely/npm/linux-x64-gnu/"
cp scripts/prepack-platform.js scripts/check-glibc.js "$work/lonely/scripts/"
cp lib/platform.js "$work/lonely/lib/"
if (cd "$work/lonely/npm/linux-x64-gnu" && npm pack --silent --pack-destination "$work/lonely" >"$work/lonely.log" 2>&1); then
  fail "npm pack of a platform package without its binary succeeded"
fi
grep -q 'refusing to pack' "$work/lonely.log" || fail "packing without a binary failed without the guard's message: $(cat "$work/lonely.log")"
echo "   a platform package without its binary: npm pack refused"

phase "a registry on 127.0.0.1 serving the tarballs"
node scripts/local-registry.js "$tarballs" --log "$work/registry.log" --lifetime-s 3600 >"$work/registry.url" &
registry_pid=$!
for _ in $(seq 50); do [[ -s "$work/registry.url" ]] && break; sleep 0.1; done
registry=$(cat "$work/registry.url")
[[ -n "$registry" ]] || fail "the registry did not start"
echo "   $registry: $(ls "$tarballs" | wc -l) tarballs"

# What a consumer runs. smoke.js: load, unload a two-file tree, load fresh; the binary must come
# from the platform package. missing.js <manager>: the coded error with that manager's advice.
cp scripts/smoke.js "$work/smoke.js"
cat >"$work/esm.mjs" <<'EOF'
import { uncacheTree, UncacheError } from 'uncache-tree'
import defaultExport from 'uncache-tree'
if (typeof uncacheTree !== 'function' || defaultExport.UncacheError !== UncacheError) process.exit(1)
console.log('   esm import ok')
EOF
# An unload from an ES module (item 7 of issue 19: under Yarn's ESM loader, which hands Node
# CommonJS source, uncache-tree must still unload).
cat >"$work/esm-unload.mjs" <<'EOF'
import { createRequire } from 'node:module'
import { writeFileSync } from 'node:fs'
import { uncacheTree } from 'uncache-tree'
const require = createRequire(import.meta.url)
writeFileSync(new URL('./plugin.cjs', import.meta.url), "exports.dep = require('./dep.cjs')\n")
writeFileSync(new URL('./dep.cjs', import.meta.url), 'exports.n = 1\n')
const first = require('./plugin.cjs')
const report = uncacheTree(new URL('./plugin.cjs', import.meta.url))
if (report.removed.length !== 2 || require('./plugin.cjs') === first) process.exit(1)
console.log(`   esm unload ok on Node ${process.version}: removed ${report.removed.length}`)
EOF
cat >"$work/missing.js" <<'EOF'
const assert = require('node:assert/strict')
const manager = process.argv[2]
const advice = {
  npm: [/skips it when installing with --omit=optional or --no-optional/, /delete node_modules and package-lock\.json, then run `npm install`/],
  pnpm: [/supportedArchitectures setting only/, /then run `pnpm install`/],
  yarn: [/not with --ignore-optional: run `yarn install` without it/],
  'yarn-berry': [/supportedArchitectures \(\.yarnrc\.yml\) only/, /then run `yarn install`/],
}[manager]
try {
  require('uncache-tree')
} catch (error) {
  assert.equal(error.code, 'ERR_UNCACHE_NATIVE_BINARY', String(error))
  assert.equal(error.name, 'UncacheError')
  assert.equal(error.platform, 'linux-x64-gnu')
  assert.equal(error.packageName, 'uncache-tree-linux-x64-gnu')
  for (const pattern of advice) assert.match(error.message, pattern)
  assert.match(error.message, /Do not add uncache-tree-linux-x64-gnu to your own dependencies/)
  assert.doesNotMatch(error.message, /(npm install|pnpm add|yarn add) uncache-tree-/)
  console.log(`   missing binary ok (${manager} advice): ${error.code}`)
  process.exit(0)
}
throw new Error('require("uncache-tree") worked without the platform package')
EOF

consumer() { # consumer <name>: a fresh project directory
  mkdir -p "$work/$1"
  cp "$work/smoke.js" "$work/esm.mjs" "$work/esm-unload.mjs" "$work/missing.js" "$work/$1/"
  printf '{ "name": "consumer-%s", "version": "1.0.0", "private": true }\n' "$1" >"$work/$1/package.json"
  echo "$work/$1"
}
# install_with <label> <node dir> <dir> <command...>: an install without cargo, timed; it must not
# mention an install script of uncache-tree.
install_with() {
  local label=$1 node_dir=$2 dir=$3
  shift 3
  local t0 t1
  t0=$(now_ms)
  if ! (cd "$dir" && PATH="$node_dir:$nocargo_path" "$@" >"$dir.log" 2>&1); then
    cat "$dir.log" >&2
    fail "install failed in $dir: $*"
  fi
  t1=$(now_ms)
  if grep -iE 'install-scripts.*uncache-tree|uncache-tree.*(install script|postinstall)|IGNORED_BUILDS|YN0004|YN0007' "$dir.log"; then
    fail "the install in $dir warned about a build script"
  fi
  echo "   install: $((t1 - t0)) ms ($label)"
  printf 'install %-40s %6d ms\n' "$label" "$((t1 - t0))" >>"$summary"
}
run_in() { # run_in <node dir> <dir> <command...>
  local node_dir=$1 dir=$2
  shift 2
  (cd "$dir" && PATH="$node_dir:$nocargo_path" "$@")
}
check_smoke() { # check_smoke <node dir> <dir> <runner...>: smoke.js must load the platform package's binary
  local node_dir=$1 dir=$2 out
  shift 2
  out=$(run_in "$node_dir" "$dir" "$@" smoke.js) || fail "smoke test failed in $dir"
  echo "   $out"
  [[ "$out" == *"uncache-tree-linux-x64-gnu"*"/uncache-tree.linux-x64-gnu.node" ]] || fail "the binary was not loaded from the platform package in $dir"
}
check_help() { # check_help <node dir> <dir> <cli command...>
  local node_dir=$1 dir=$2
  shift 2
  run_in "$node_dir" "$dir" "$@" --help | grep -q '^Usage: uncache-tree <command>' || fail "$* --help in $dir"
  echo "   $* --help ok"
}

npm_install() { npm install --no-audit --no-fund --registry "$registry" --cache "$work/npm-cache" "$@"; }
for node_dir in "$node20_dir" "$node26_dir"; do
  major=$("$node_dir/node" -p 'process.versions.node.split(".")[0]')
  phase "npm $(npm --version) on Node $major"
  dir=$(consumer "npm-$major")
  install_with "npm $(npm --version), Node $major" "$node_dir" "$dir" npm_install uncache-tree
  check_smoke "$node_dir" "$dir" node
  run_in "$node_dir" "$dir" node esm.mjs
  run_in "$node_dir" "$dir" node esm-unload.mjs
  check_help "$node_dir" "$dir" npx --no-install uncache-tree
  if [[ $major == 20 ]]; then
    run_in "$node_dir" "$dir" npx --no-install uncache-tree demo --reloads 200 --every 50 >"$dir.demo" || fail "npx uncache-tree demo: $(cat "$dir.demo")"
    grep -q 'uncache-tree freed every old generation (200/200 collected)' "$dir.demo" || fail "the demo's verdict: $(tail -3 "$dir.demo")"
    echo "   npx uncache-tree demo ok: $(tail -1 "$dir.demo" | cut -c1-90)…"
  fi
  dir=$(consumer "npm-$major-omit")
  install_with "npm, Node $major, --omit=optional" "$node_dir" "$dir" npm_install --omit=optional uncache-tree
  run_in "$node_dir" "$dir" node missing.js npm
  run_in "$node_dir" "$dir" npx --no-install uncache-tree doctor --help | grep -q '^Usage: uncache-tree doctor' || fail "doctor --help without the binary"
done

pm_prefix="$work/package-managers"
for pnpm_major in 10 11 12; do
  node_dir=$node26_dir
  [[ $pnpm_major == 10 ]] && node_dir=$node20_dir
  npm install --silent --no-audit --no-fund --no-package-lock --prefix "$pm_prefix/pnpm$pnpm_major" "pnpm@$pnpm_major" >/dev/null
  pnpm_bin="$pm_prefix/pnpm$pnpm_major/node_modules/.bin/pnpm"
  pnpm_version=$(PATH="$node_dir:$PATH" "$pnpm_bin" --version)
  major=$("$node_dir/node" -p 'process.versions.node.split(".")[0]')
  phase "pnpm $pnpm_version on Node $major"
  pnpm_add() { "$pnpm_bin" add --registry "$registry" --store-dir "$work/pnpm-store-$pnpm_major" --cache-dir "$work/pnpm-cache-$pnpm_major" uncache-tree; }
  dir=$(consumer "pnpm$pnpm_major")
  install_with "pnpm $pnpm_version, Node $major" "$node_dir" "$dir" pnpm_add
  check_smoke "$node_dir" "$dir" node
  run_in "$node_dir" "$dir" node esm.mjs
  check_help "$node_dir" "$dir" "$pnpm_bin" exec uncache-tree
  dir=$(consumer "pnpm$pnpm_major-other-arch")
  printf 'supportedArchitectures:\n  os: [darwin]\n  cpu: [arm64]\n' >"$dir/pnpm-workspace.yaml"
  install_with "pnpm $pnpm_major, other supportedArchitectures" "$node_dir" "$dir" pnpm_add
  run_in "$node_dir" "$dir" node missing.js pnpm
done

phase "yarn 1 on Node 20"
npm install --silent --no-audit --no-fund --no-package-lock --prefix "$pm_prefix/yarn1" yarn@1 >/dev/null
yarn1="$pm_prefix/yarn1/node_modules/.bin/yarn"
yarn1_add() { "$yarn1" add --registry "$registry" --cache-folder "$work/yarn1-cache" --no-progress --non-interactive "$@" uncache-tree; }
dir=$(consumer yarn1)
install_with "yarn $("$yarn1" --version), Node 20" "$node20_dir" "$dir" yarn1_add
check_smoke "$node20_dir" "$dir" node
run_in "$node20_dir" "$dir" node esm.mjs
check_help "$node20_dir" "$dir" "$yarn1" --silent uncache-tree
dir=$(consumer yarn1-ignore-optional)
install_with "yarn 1, --ignore-optional" "$node20_dir" "$dir" yarn1_add --ignore-optional
run_in "$node20_dir" "$dir" node missing.js yarn

npm install --silent --no-audit --no-fund --no-package-lock --prefix "$pm_prefix/yarn4" @yarnpkg/cli-dist@4 >/dev/null
yarn4_js="$pm_prefix/yarn4/node_modules/@yarnpkg/cli-dist/bin/yarn.js"
yarn4_version=$(node "$yarn4_js" --version)
yarn4_project() { # yarn4_project <name> <linker> [extra .yarnrc.yml line]
  local dir
  dir=$(consumer "$1")
  printf 'nodeLinker: %s\nnpmRegistryServer: "%s"\nunsafeHttpWhitelist: ["127.0.0.1"]\nenableGlobalCache: false\nenableMirror: false\nglobalFolder: "%s"\ncacheFolder: "%s"\nenableTelemetry: false\nenableImmutableInstalls: false\n%s\n' \
    "$2" "${registry%/}" "$work/yarn4-global-$1" "$work/yarn4-cache-$1" "${3:-}" >"$dir/.yarnrc.yml"
  touch "$dir/yarn.lock"
  echo "$dir"
}
yarn4() { node "$yarn4_js" "$@"; }
for linker in node-modules pnp; do
  node_dir=$node20_dir
  [[ $linker == pnp ]] && node_dir=$node22_dir
  major=$("$node_dir/node" -p 'process.versions.node.split(".")[0]')
  phase "yarn $yarn4_version, $linker linker, Node $major"
  extra=""
  # PnP: ESM needs Yarn's ESM loader, which hands Node the source of every CommonJS file.
  [[ $linker == pnp ]] && extra="pnpEnableEsmLoader: true"
  dir=$(yarn4_project "yarn4-$linker" "$linker" "$extra")
  install_with "yarn $yarn4_version $linker, Node $major" "$node_dir" "$dir" yarn4 add uncache-tree
  [[ $linker == pnp && ! -f "$dir/.pnp.cjs" ]] && fail "yarn 4 made no .pnp.cjs"
  [[ $linker == pnp && -d "$dir/node_modules" ]] && fail "yarn 4 PnP made a node_modules"
  check_smoke "$node_dir" "$dir" yarn4 node
  run_in "$node_dir" "$dir" yarn4 node esm.mjs
  run_in "$node_dir" "$dir" yarn4 node esm-unload.mjs
  check_help "$node_dir" "$dir" yarn4 uncache-tree
  dir=$(yarn4_project "yarn4-$linker-other-arch" "$linker" $'supportedArchitectures:\n  os: [darwin]\n  cpu: [arm64]')
  install_with "yarn 4 $linker, other supportedArchitectures" "$node_dir" "$dir" yarn4 add uncache-tree
  run_in "$node_dir" "$dir" yarn4 node missing.js yarn-berry
done

phase "arethetypeswrong and publint (packed package)"
# The Vitest setup files are ES modules only (Vitest imports them; a require() or node10
# resolution of them has no use), so they are checked with attw's esm-only profile, and every
# other entry point with the strict one.
npx --no-install attw "$main_tgz" --format table-flipped --exclude-entrypoints ./vitest ./vitest/hooks >"$work/attw.log" 2>&1 || {
  cat "$work/attw.log"
  fail "attw found problems"
}
grep -q 'No problems found' "$work/attw.log" || fail "attw: $(cat "$work/attw.log")"
npx --no-install attw "$main_tgz" --format table-flipped --entrypoints ./vitest ./vitest/hooks --profile esm-only >"$work/attw-esm.log" 2>&1 || {
  cat "$work/attw-esm.log"
  fail "attw found problems in the Vitest setup files (ES modules only)"
}
echo "   attw: No problems found (the Vitest setup files as ES modules only)"
npx --no-install publint run "$main_tgz" --strict >"$work/publint.log" 2>&1 || {
  cat "$work/publint.log"
  fail "publint found problems"
}
echo "   publint: $(tail -1 "$work/publint.log")"

phase "fresh clone: npm install builds the core from source and leaves git status clean"
git clone --quiet "$root" "$work/clone"
# Reuse this checkout's compiled crates; the clone still builds its own binary with cargo.
(cd "$work/clone" && CARGO_TARGET_DIR="$root/target" npm install --no-audit --no-fund >"$work/clone.log" 2>&1) || {
  cat "$work/clone.log"
  fail "npm install in a fresh clone failed"
}
[[ -f "$work/clone/uncache-tree.linux-x64-gnu.node" ]] || fail "the clone's npm install built no binary"
changes=$(git -C "$work/clone" status --porcelain)
[[ -z "$changes" ]] || fail "npm install in a fresh clone changed: $changes"
echo "   git status clean after npm install (binary built)"

phase "packaging ok in $((SECONDS - started)) s"
echo "packaging job: $((SECONDS - started)) s" >>"$summary"
echo "== summary"
sed 's/^/   /' "$summary"
