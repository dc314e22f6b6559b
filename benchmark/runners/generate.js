'use strict'
// Generates the suite `npm run bench:runners` times: an app of about 300 CommonJS modules with
// module state (a config singleton, a service container, caches, an event bus, counters), feature
// areas built on real heavy packages (mongoose models, an express router, a graphql schema, zod
// and joi schemas, typescript and babel transforms, an S3 client, an eslint Linter…), and the
// same test files written for each runner (node:test, Jest, Mocha, Vitest).
//
// Every test loads the app inside the test and first checks that it holds nothing another test
// file put there: state left by an earlier test of the same file is allowed (isolation per file
// passes), state of another file is not (a run without isolation fails). The app also registers
// mongoose models when it loads: with mongoose kept loaded, a fresh app needs
// `mongoose.deleteModel(/.+/)` after each restore (the resets the runners' setups do).
const fs = require('node:fs')
const path = require('node:path')

/** Feature areas: the package, and the code a module of that area runs when it loads. */
const FEATURES = {
  mongoose: { pkg: 'mongoose', body: (n) => `const mongoose = require('mongoose')\nexports.model = mongoose.model('Model${n}', new mongoose.Schema({ name: String, n: Number }))` },
  express: { pkg: 'express', body: (n) => `const express = require('express')\nconst router = express.Router()\nrouter.get('/r${n}', (req, res) => res.end('${n}'))\nexports.router = router` },
  graphql: { pkg: 'graphql', body: (n) => `const { buildSchema } = require('graphql')\nexports.schema = buildSchema('type Query { f${n}: Int }')` },
  zod: { pkg: 'zod', body: (n) => `const { z } = require('zod')\nexports.schema = z.object({ id: z.number(), name: z.string().min(${n % 5}) })` },
  joi: { pkg: 'joi', body: (n) => `const Joi = require('joi')\nexports.schema = Joi.object({ id: Joi.number().min(${n}) })` },
  typescript: { pkg: 'typescript', body: (n) => `const ts = require('typescript')\nexports.transpile = (code) => ts.transpileModule(code, { compilerOptions: { target: ts.ScriptTarget.ES2022 } }).outputText\nexports.n = ${n}` },
  babel: { pkg: '@babel/core', body: (n) => `const babel = require('@babel/core')\nexports.parse = (code) => babel.parseSync(code, { configFile: false, babelrc: false })\nexports.n = ${n}` },
  aws: { pkg: '@aws-sdk/client-s3', body: (n) => `const { S3Client } = require('@aws-sdk/client-s3')\nexports.client = new S3Client({ region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } })\nexports.n = ${n}` },
  eslint: { pkg: 'eslint', body: (n) => `const { Linter } = require('eslint')\nexports.linter = new Linter()\nexports.n = ${n}` },
  sequelize: { pkg: 'sequelize', body: (n) => `const { DataTypes } = require('sequelize')\nexports.type = DataTypes.STRING(${n + 1})` },
  rxjs: { pkg: 'rxjs', body: (n) => `const { of, map } = require('rxjs')\nexports.stream = of(${n}).pipe(map((x) => x + 1))` },
  winston: { pkg: 'winston', body: (n) => `const winston = require('winston')\nexports.logger = winston.createLogger({ level: 'info', silent: true, defaultMeta: { n: ${n} } })` },
  ajv: { pkg: 'ajv', body: (n) => `const Ajv = require('ajv')\nconst ajv = new Ajv()\nlet validate\nexports.validate = (value) => (validate ??= ajv.compile({ type: 'object', properties: { n${n}: { type: 'number' } } }))(value)` },
  yup: { pkg: 'yup', body: (n) => `const yup = require('yup')\nexports.schema = yup.object({ n${n}: yup.number() })` },
  lodash: { pkg: 'lodash', body: (n) => `const _ = require('lodash')\nexports.chunks = _.chunk([${n}, ${n + 1}, ${n + 2}], 2)` },
  moment: { pkg: 'moment', body: (n) => `const moment = require('moment')\nexports.when = moment.utc(0).add(${n}, 'days').toISOString()` },
}
const FEATURE_NAMES = Object.keys(FEATURES)

/** relative path → source of the app (about 300 modules). */
function appFiles({ caches = 20, services = 60, modulesPerFeature = 12 } = {}) {
  const files = {}
  files['app/config.js'] = "// The config singleton: the owner is whoever touched it first.\nmodule.exports = { owner: null, values: {} }\n"
  files['app/bus.js'] = `// The event bus: listeners by event name.
const listeners = new Map()
exports.on = (event, fn) => { if (!listeners.has(event)) listeners.set(event, []); listeners.get(event).push(fn) }
exports.emit = (event, value) => (listeners.get(event) ?? []).forEach((fn) => fn(value))
exports.events = () => [...listeners.keys()]
`
  files['app/counters.js'] = `const counts = new Map()
exports.increment = (name) => { counts.set(name, (counts.get(name) ?? 0) + 1); return counts.get(name) }
exports.names = () => [...counts.keys()]
`
  files['app/container.js'] = `// The service container: registering a name twice is a bug, as in most containers.
const services = new Map()
exports.register = (name, service) => {
  if (services.has(name)) throw new Error('service ' + name + ' registered twice: the container outlived its app')
  services.set(name, service)
}
exports.resolve = (name) => services.get(name)
exports.names = () => [...services.keys()]
`
  for (let c = 0; c < caches; c++) {
    files[`app/cache/cache${c}.js`] = `const config = require('../config.js')\nconst entries = new Map()\nexports.set = (k, v) => entries.set(k, v)\nexports.keys = () => [...entries.keys()]\nexports.config = config\n`
  }
  for (let s = 0; s < services; s++) {
    const deps = [`require('../cache/cache${s % caches}.js')`, `require('../cache/cache${(s * 7) % caches}.js')`]
    // A tree, not a chain: a service uses the one above it (as modules of an app mostly do).
    if (s > 0) deps.push(`require('./service${Math.floor((s - 1) / 2)}.js')`)
    files[`app/services/service${s}.js`] = `const container = require('../container.js')
const bus = require('../bus.js')
const counters = require('../counters.js')
const deps = [${deps.join(', ')}]
const service = { name: 'service${s}', owner: null, calls: 0, deps }
service.call = (owner) => { service.owner = owner; service.calls++; counters.increment(owner) }
bus.on('tick', (owner) => { service.lastTick = owner })
container.register('service${s}', service)
module.exports = service
`
  }
  for (const name of FEATURE_NAMES) {
    const lines = []
    for (let m = 0; m < modulesPerFeature; m++) {
      // mongoose model names must be unique across the app.
      const n = FEATURE_NAMES.indexOf(name) * 100 + m
      files[`app/features/${name}/part${m}.js`] = `${FEATURES[name].body(n)}\nexports.service = require('../../services/service${n % services}.js')\n`
      lines.push(`require('./part${m}.js')`)
    }
    files[`app/features/${name}/index.js`] = `module.exports = [${lines.join(', ')}]\n`
  }
  files['app/index.js'] = `// Boots the app with the feature areas a test needs, and reads its state back.
const config = require('./config.js')
const bus = require('./bus.js')
const counters = require('./counters.js')
const container = require('./container.js')
const caches = [${Array.from({ length: caches }, (_, c) => `require('./cache/cache${c}.js')`).join(', ')}]

exports.boot = (features) => {
  for (const name of features) require('./features/' + name + '/index.js')
  return exports
}

/** Everything another test could have left: one owner name per piece of state. */
exports.owners = () => {
  const owners = new Set()
  if (config.owner !== null) owners.add(config.owner)
  for (const cache of caches) for (const key of cache.keys()) owners.add(key.split(':')[0])
  for (const event of bus.events()) if (event !== 'tick') owners.add(event)
  for (const name of counters.names()) owners.add(name)
  for (const name of container.names()) { const owner = container.resolve(name).owner; if (owner !== null) owners.add(owner) }
  return [...owners]
}

exports.touch = (owner, k) => {
  if (config.owner === null) config.owner = owner
  caches[k % caches.length].set(owner + ':' + k, k)
  bus.on(owner, () => {})
  bus.emit('tick', owner)
  container.resolve('service' + (k % ${services})).call(owner)
}
`
  return files
}

/** The body shared by every runner's flavour of test file `i`. */
function testBody(i, testsPerFile, features) {
  const tests = []
  for (let k = 0; k < testsPerFile; k++) {
    tests.push(`test('file ${i} test ${k} starts from a clean app', () => {
  const app = require('../app/index.js').boot(${JSON.stringify(features)})
  assert.deepEqual(app.owners().filter((owner) => owner !== FILE), [], 'state left by another test file')
  app.touch(FILE, ${k})
})`)
  }
  return `const FILE = 'file${i}'\n\n${tests.join('\n\n')}\n`
}

const HEADERS = {
  nodetest: { dir: 'nodetest', ext: '.test.js', head: "const { test } = require('node:test')\nconst assert = require('node:assert/strict')\n" },
  jest: { dir: 'jest', ext: '.test.js', head: "const assert = require('node:assert/strict')\n" },
  mocha: { dir: 'mocha', ext: '.spec.js', head: "const assert = require('node:assert/strict')\nconst test = it\n" },
  vitest: {
    dir: 'vitest',
    ext: '.test.mjs',
    head: "import { createRequire } from 'node:module'\nimport { test } from 'vitest'\nconst require = createRequire(import.meta.url)\nconst assert = require('node:assert/strict')\n",
  },
}

/** The runners' configuration and setup files (resets of the kept mongoose registry included). */
function runnerFiles(repo) {
  const rel = (file) => JSON.stringify(path.join(repo, file))
  return {
    'package.json': '{ "name": "bench-runners-suite", "private": true, "type": "commonjs" }\n',
    'reset.cjs': `// uncache-tree test --require ./reset.cjs: mongoose is kept loaded, its models are not.
require(${rel('node-test.js')}).onRestore(() => require('mongoose').deleteModel(/.+/))
`,
    'mocha-hooks.cjs': `exports.mochaHooks = require(${rel('mocha.js')}).createMochaHooks({
  per: 'file',
  onRestore: () => require('mongoose').deleteModel(/.+/),
})
`,
    'vitest-setup.mjs': `import { isolateFiles } from ${rel('vitest-hooks.mjs')}
import { createRequire } from 'node:module'
const require = createRequire(import.meta.url)
isolateFiles({ onRestore: () => require('mongoose').deleteModel(/.+/) })
`,
    'vitest.config.mjs': "export default { test: { include: ['vitest/*.test.mjs'], setupFiles: ['./vitest-setup.mjs'] } }\n",
    'jest.config.js': "module.exports = { testEnvironment: 'node', testMatch: ['<rootDir>/jest/*.test.js'] }\n",
    // The floor: every node:test file in one process, no isolation (it must fail).
    'no-isolation.js': "const fs = require('node:fs')\nfor (const f of fs.readdirSync(__dirname + '/nodetest').sort()) require('./nodetest/' + f)\n",
  }
}

/**
 * Writes the suite into `dir` (emptied first). `repo` is the uncache-tree checkout the setups use.
 * @returns {{ files: number, tests: number, appModules: number }}
 */
function generate(dir, repo, { files = 24, testsPerFile = 8, featuresPerFile = 4 } = {}) {
  fs.rmSync(dir, { recursive: true, force: true })
  const out = { ...appFiles(), ...runnerFiles(repo) }
  const appModules = Object.keys(out).filter((f) => f.startsWith('app/')).length
  for (let i = 0; i < files; i++) {
    // Each file uses a few feature areas; together the files use every one.
    const features = Array.from({ length: featuresPerFile }, (_, f) => FEATURE_NAMES[(i * featuresPerFile + f) % FEATURE_NAMES.length])
    const body = testBody(i, testsPerFile, [...new Set(features)])
    for (const { dir: sub, ext, head } of Object.values(HEADERS)) {
      out[`${sub}/file${String(i).padStart(2, '0')}${ext}`] = `${head}${body}`
    }
  }
  for (const [name, source] of Object.entries(out)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true })
    fs.writeFileSync(path.join(dir, name), source)
  }
  return { files, tests: files * testsPerFile, appModules }
}

module.exports = { generate, FEATURES }
