/**
 * `uncache-tree/vitest`, a Vitest setup file: each test file starts with fresh app modules (what
 * lives in `require.cache`: CommonJS code loaded with `createRequire`, CommonJS dependencies left
 * to Node), and packages under `node_modules` stay loaded for the whole run. Meant for one process
 * running many files: `vitest run --pool=forks --no-isolate`. For options, see
 * `uncache-tree/vitest/hooks`.
 *
 * @example
 * // vitest.config.mjs
 * export default { test: { pool: 'forks', isolate: false, setupFiles: ['uncache-tree/vitest'] } }
 */
export {}
