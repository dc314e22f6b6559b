// `uncache-tree/vitest`, a Vitest setup file (`test.setupFiles: ['uncache-tree/vitest']`), for one
// process running many files (`--pool=forks --no-isolate`): each test file starts with fresh app
// modules, packages under node_modules are loaded once. Options: `uncache-tree/vitest/hooks`.
import { isolateFiles } from './vitest-hooks.mjs'

isolateFiles()
