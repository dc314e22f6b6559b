#!/usr/bin/env bash
# CI: proves the install a user gets, from the packed tarballs, with `cargo` removed from PATH.
#   1. the linux-x64-gnu release binary (cargo-zigbuild, glibc 2.17) and its glibc floor;
#   2. `npm pack` of the main package and of npm/linux-x64-gnu (sizes printed);
#   3. npm, Node 20 and 26: both tarballs into a fresh project -> require + a smoke unload;
#      the main tarball alone -> install exits 0, require throws ERR_UNCACHE_NATIVE_BINARY,
#      `uncache-tree --help` still works;
#   4. the same two installs with pnpm 10 (installed from the npm registry into a temp prefix);
#   5. arethetypeswrong on the packed main package;
#   6. a fresh clone: `npm install` leaves `git status` clean (it checks HEAD: commit first).
# Network: the npm registry only (npm asks it for the six other platform packages, which are
# not published: a 404 for an optional dependency must not fail the install, and this checks
# that it does not). Run from the repository root, after `npm install`: bash scripts/ci-packaging.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=$(mktemp -d "${TMPDIR:-/tmp}/uncache-tree-packaging.XXXXXX")
trap 'rm -rf "$work"' EXIT
started=$SECONDS

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

node20_dir=$(dirname "$(command -v node)")
node26_bin=.ci/nodes/node_modules/node26/bin/node
if [[ ! -x "$node26_bin" ]]; then
  (cd .ci/nodes && npm install --no-audit --no-fund --no-package-lock >/dev/null)
fi
node26_dir=$(cd "$(dirname "$node26_bin")" && pwd)

phase_start=$SECONDS
phase() { # prints how long the previous phase took, then the next heading
  echo "   ($((SECONDS - phase_start)) s)"
  phase_start=$SECONDS
  echo "== $*"
}

echo "== release binary: cargo-zigbuild against glibc 2.17"
# One zig venv per user, not per clone: CI runs from fresh clones.
export UNCACHE_TREE_ZIG_VENV="${UNCACHE_TREE_ZIG_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/uncache-tree/venv-zig}"
mkdir -p "$(dirname "$UNCACHE_TREE_ZIG_VENV")"
npm run --silent build:release

phase "npm pack"
npm pack --silent --pack-destination "$work" >/dev/null
(cd npm/linux-x64-gnu && npm pack --silent --pack-destination "$work" >/dev/null)
main_tgz="$work/uncache-tree-$(node -p "require('./package.json').version").tgz"
platform_tgz="$work/uncache-tree-linux-x64-gnu-$(node -p "require('./npm/linux-x64-gnu/package.json').version").tgz"
[[ -f "$main_tgz" && -f "$platform_tgz" ]] || fail "npm pack did not write both tarballs"
tar -tzf "$main_tgz" | grep -q '\.node$' && fail "the main tarball contains a .node binary"
tar -tzf "$platform_tgz" | grep -qx 'package/uncache-tree.linux-x64-gnu.node' || fail "the platform tarball has no binary"
echo "main package:     $(stat -c %s "$main_tgz") bytes packed, $(tar -tzf "$main_tgz" | wc -l) files"
echo "platform package: $(stat -c %s "$platform_tgz") bytes packed"

# A platform folder without its binary must refuse to pack.
mkdir -p "$work/lonely/npm/linux-x64-gnu" "$work/lonely/scripts" "$work/lonely/lib"
cp npm/linux-x64-gnu/package.json "$work/lonely/npm/linux-x64-gnu/"
cp scripts/prepack-platform.js "$work/lonely/scripts/"
cp lib/platform.js "$work/lonely/lib/"
if (cd "$work/lonely/npm/linux-x64-gnu" && npm pack --silent --pack-destination "$work/lonely" >"$work/lonely.log" 2>&1); then
  fail "npm pack of a platform package without its binary succeeded"
fi
grep -q 'refusing to pack' "$work/lonely.log" || fail "packing without a binary failed without the guard's message: $(cat "$work/lonely.log")"
echo "platform package without its binary: npm pack refused:"
grep 'refusing to pack' "$work/lonely.log" | sed 's/^/   /' 

# The smoke test a consumer runs (scripts/smoke.js), and what it must print here.
cp scripts/smoke.js "$work/smoke.js"
smoke() { # smoke <node dir> <dir>: the binary must come from the platform package
  local out
  out=$(run_in "$1" "$2" node smoke.js) || fail "smoke test failed in $2"
  echo "   $out"
  [[ "$out" == *"binary node_modules/"*"uncache-tree-linux-x64-gnu/uncache-tree.linux-x64-gnu.node" ]] ||
    fail "the binary was not loaded from the platform package"
  [[ -d "$2/node_modules/uncache-tree/target" ]] && fail "target/ inside node_modules"
  return 0
}
cat >"$work/missing.js" <<'EOF'
const assert = require('node:assert/strict')
try {
  require('uncache-tree')
} catch (error) {
  assert.equal(error.code, 'ERR_UNCACHE_NATIVE_BINARY', String(error))
  assert.equal(error.name, 'UncacheError')
  assert.equal(error.platform, 'linux-x64-gnu')
  assert.equal(error.packageName, 'uncache-tree-linux-x64-gnu')
  assert.match(error.message, /npm install uncache-tree-linux-x64-gnu@\d+\.\d+\.\d+/)
  assert.match(error.message, /rustup\.rs/)
  console.log(`   missing binary ok on Node ${process.version}: ${error.code} (${error.message.split('\n').pop().slice(0, 60)}...)`)
  process.exit(0)
}
throw new Error('require("uncache-tree") worked without a binary')
EOF

consumer() { # consumer <name>: a fresh project directory
  mkdir -p "$work/$1"
  cp "$work/smoke.js" "$work/missing.js" "$work/$1/"
  printf '{ "name": "consumer-%s", "version": "1.0.0", "private": true }\n' "$1" >"$work/$1/package.json"
  echo "$work/$1"
}
# install_with <node dir> <dir> <command...>: runs an install without cargo, prints its time.
install_with() {
  local node_dir=$1 dir=$2
  shift 2
  local t0 t1
  t0=$(now_ms)
  if ! (cd "$dir" && PATH="$node_dir:$nocargo_path" "$@" >"$dir.log" 2>&1); then
    cat "$dir.log" >&2
    fail "install failed in $dir: $*"
  fi
  t1=$(now_ms)
  echo "   install: $((t1 - t0)) ms ($(basename "$dir"))"
}
run_in() { # run_in <node dir> <dir> <command...>: smoke.js and missing.js run from <dir>
  local node_dir=$1 dir=$2
  shift 2
  (cd "$dir" && PATH="$node_dir:$nocargo_path" "$@")
}

for node_dir in "$node20_dir" "$node26_dir"; do
  version=$("$node_dir/node" --version)
  major=${version%%.*}
  phase "npm on Node $version, no cargo: main + platform tarballs"
  dir=$(consumer "npm-both-$major")
  install_with "$node_dir" "$dir" npm install --no-audit --no-fund "$main_tgz" "$platform_tgz"
  smoke "$node_dir" "$dir"
  run_in "$node_dir" "$dir" node --input-type=module -e \
    "import { uncacheTree, UncacheError } from 'uncache-tree'; if (typeof uncacheTree !== 'function' || typeof UncacheError !== 'function') process.exit(1)"
  [[ "$(run_in "$node_dir" "$dir" ./node_modules/.bin/uncache-tree --version)" == "$(node -p "require('./package.json').version")" ]] ||
    fail "uncache-tree --version"

  phase "npm on Node $version, no cargo: main tarball alone"
  dir=$(consumer "npm-main-$major")
  install_with "$node_dir" "$dir" npm install --no-audit --no-fund "$main_tgz"
  run_in "$node_dir" "$dir" node missing.js
  run_in "$node_dir" "$dir" ./node_modules/.bin/uncache-tree doctor --help | grep -q '^Usage: uncache-tree doctor' || fail "--help without the binary"
  if run_in "$node_dir" "$dir" ./node_modules/.bin/uncache-tree doctor x.js 2>"$dir.doctor"; then
    fail "doctor ran without the binary"
  fi
  grep -q 'ERR_UNCACHE_NATIVE_BINARY\|No usable native binary' "$dir.doctor" || fail "doctor without the binary: $(cat "$dir.doctor")"
  [[ -d "$dir/node_modules/uncache-tree/target" ]] && fail "target/ left inside node_modules"
done

phase "pnpm 10 (from the npm registry, into a temp prefix)"
npm install --silent --no-audit --no-fund --prefix "$work/pnpm" pnpm@10 >/dev/null
pnpm_bin="$work/pnpm/node_modules/.bin/pnpm"
echo "   pnpm $("$pnpm_bin" --version)"
dir=$(consumer pnpm-both)
install_with "$node20_dir" "$dir" "$pnpm_bin" add --store-dir "$work/pnpm-store" "$main_tgz" "$platform_tgz"
smoke "$node20_dir" "$dir"
dir=$(consumer pnpm-main)
install_with "$node20_dir" "$dir" "$pnpm_bin" add --store-dir "$work/pnpm-store" "$main_tgz"
run_in "$node20_dir" "$dir" node missing.js

phase "arethetypeswrong (packed main package)"
npx --no-install attw --pack . --format table-flipped >"$work/attw.log" 2>&1 || {
  cat "$work/attw.log"
  fail "attw found problems"
}
grep -q 'No problems found' "$work/attw.log" || fail "attw: $(cat "$work/attw.log")"
echo "   attw: No problems found"

phase "fresh clone: npm install leaves git status clean"
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
