'use strict'
// What to tell a user whose install has no usable native binary: which package manager put
// uncache-tree where it is, and the fix that is safe for a team in that package manager's words.
//
// The advice never says "install uncache-tree-<platform>": that adds a dependency only one OS can
// install, and every other machine's install then fails (npm: EBADPLATFORM). The platform package
// belongs in uncache-tree's optionalDependencies only; the fixes make the package manager install
// it from there again.
//
// npm_config_user_agent says which package manager runs a script, but not which one installed a
// package that is merely required: the install layout does. pnpm keeps packages under
// node_modules/.pnpm/, Yarn PnP runs with process.versions.pnp, and a project's lockfile or
// node_modules bookkeeping file names the others.
const fs = require('node:fs')
const path = require('node:path')

/** The project that installed the package at `packageRoot`: the parent of its first node_modules. */
function projectDir(packageRoot) {
  const parts = packageRoot.split(path.sep)
  const at = parts.indexOf('node_modules')
  return at > 0 ? parts.slice(0, at).join(path.sep) || path.sep : null
}

/**
 * 'npm', 'pnpm', 'yarn' (Yarn 1) or 'yarn-berry' (Yarn 2+, either linker), or null when the
 * layout says nothing (a clone, a copy by hand).
 */
function installedBy(packageRoot) {
  if (process.versions.pnp !== undefined) return 'yarn-berry'
  if (packageRoot.split(path.sep).includes('.pnpm')) return 'pnpm'
  const project = projectDir(packageRoot)
  if (project === null) return null
  const has = (...names) => fs.existsSync(path.join(project, ...names))
  if (has('node_modules', '.modules.yaml') || has('pnpm-lock.yaml')) return 'pnpm'
  if (has('node_modules', '.yarn-state.yml') || has('.yarnrc.yml') || has('.pnp.cjs')) return 'yarn-berry'
  if (has('node_modules', '.yarn-integrity') || has('yarn.lock')) return 'yarn'
  if (has('node_modules', '.package-lock.json') || has('package-lock.json') || has('npm-shrinkwrap.json')) return 'npm'
  return null
}

/** The os/cpu/libc triple a `supportedArchitectures` setting must include for `platform`. */
function architecture(target) {
  return `os ${target.os}, cpu ${target.cpu}${target.libc ? `, libc ${target.libc}` : ''}`
}

const NEVER_ADD = (pkg) =>
  `Do not add ${pkg} to your own dependencies: only one OS can install it, and every other machine's install would then fail.`

/**
 * The "Fix: …" text when the prebuilt package `pkg` (for `target`, an entry of TARGETS) is not
 * installed. `manager` is what installedBy() returned.
 */
function missingPackageFix(manager, pkg, target) {
  switch (manager) {
    case 'pnpm':
      return (
        `Fix: pnpm installs ${pkg} as an optional dependency of uncache-tree, for the platforms in its ` +
        `supportedArchitectures setting only (the "pnpm" field of package.json, or pnpm-workspace.yaml): make sure it ` +
        `includes this one (${architecture(target)}), or "current"; do not install with --no-optional; then run \`pnpm install\`. ` +
        NEVER_ADD(pkg)
      )
    case 'yarn-berry':
      return (
        `Fix: Yarn installs ${pkg} as an optional dependency of uncache-tree, for the platforms in supportedArchitectures ` +
        `(.yarnrc.yml) only: make sure it includes this one (${architecture(target)}), or "current", then run \`yarn install\`. ` +
        NEVER_ADD(pkg)
      )
    case 'yarn':
      return (
        `Fix: Yarn installs ${pkg} as an optional dependency of uncache-tree, but not with --ignore-optional: run ` +
        `\`yarn install\` without it. ${NEVER_ADD(pkg)}`
      )
    default:
      return (
        `Fix: npm installs ${pkg} as an optional dependency of uncache-tree, but skips it when installing with ` +
        '--omit=optional or --no-optional (or npm_config_omit=optional): install without them. If package-lock.json ' +
        'was written on another platform, npm can skip it too (https://github.com/npm/cli/issues/4828): delete ' +
        `node_modules and package-lock.json, then run \`npm install\`. ${NEVER_ADD(pkg)}`
      )
  }
}

/** The "Fix: …" text when the installed platform package is of another version than uncache-tree. */
function wrongVersionFix(manager, pkg) {
  const install = { pnpm: 'pnpm install', yarn: 'yarn install', 'yarn-berry': 'yarn install' }[manager] ?? 'npm install'
  const lock = { pnpm: 'pnpm-lock.yaml', yarn: 'yarn.lock', 'yarn-berry': 'yarn.lock' }[manager] ?? 'package-lock.json'
  return (
    `Fix: ${pkg} must be the version uncache-tree lists in its optionalDependencies. Run \`${install}\`; if the ` +
    `lockfile keeps the other version, delete node_modules and ${lock}, then run \`${install}\` again. ${NEVER_ADD(pkg)}`
  )
}

/** The "Fix: …" text for a platform with no prebuilt package. */
function noPrebuiltFix(platform) {
  return (
    `Fix: no prebuilt package is published for ${platform}. Build the native core from source (needs Rust, ` +
    'https://rustup.rs): clone https://github.com/uncache-tree/uncache-tree at the tag of this version, run ' +
    '`npm install` there (it builds the binary), then set UNCACHE_TREE_NATIVE_PATH to the built ' +
    `uncache-tree.${platform}.node (docs/building-from-source.md in the repository).`
  )
}

module.exports = { installedBy, projectDir, missingPackageFix, wrongVersionFix, noPrebuiltFix }
