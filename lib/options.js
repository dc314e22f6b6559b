'use strict'
// Validation of the options every public function takes, so each function states only what is
// its own. Every options object is checked whole before anything happens: an option name that
// the function does not know is an error (a `{ dryrun: true }` typo must not really unload),
// named with the closest known option.
const { invalidArgType, invalidArgValue } = require('./errors.js')
const { parseFrom } = require('./targets.js')

/**
 * The option names each public function knows. `aliases` maps a name another library uses for
 * the same thing (chokidar's `usePolling`) to ours, for the "did you mean" hint only.
 */
const KNOWN_OPTIONS = {
  uncacheTree: ['from', 'shared', 'keep', 'dryRun'],
  invalidate: ['from', 'keep', 'dryRun'],
  // `dryRun` is known so that `{ dryRun: true }` gets reload()'s own explanation.
  reload: ['from', 'keep', 'shared', 'tree', 'dryRun'],
  snapshot: ['keep', 'onRestore'],
  isolate: ['keep', 'onRestore'],
  isolateEach: ['keep', 'onRestore', 'per'],
  watch: ['entry', 'paths', 'ignore', 'debounceMs', 'from', 'poll', 'onReload', 'onError', 'onWarning'],
  'watch poll': ['intervalMs'],
  verifyCollected: ['timeoutMs'],
  explainRetainers: ['snapshot'],
}
const ALIASES = {
  watch: { usePolling: 'poll', interval: 'poll', binaryInterval: 'poll', ignored: 'ignore', onChange: 'onReload', cwd: 'from' },
  'watch poll': { interval: 'intervalMs', ms: 'intervalMs' },
  verifyCollected: { timeout: 'timeoutMs' },
  explainRetainers: { file: 'snapshot', path: 'snapshot' },
}

/** Edit distance with adjacent transpositions (optimal string alignment), case-insensitive. */
function editDistance(a, b) {
  a = a.toLowerCase()
  b = b.toLowerCase()
  const rows = [Array.from({ length: b.length + 1 }, (_, j) => j)]
  for (let i = 1; i <= a.length; i++) {
    const row = [i]
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      row[j] = Math.min(rows[i - 1][j] + 1, row[j - 1] + 1, rows[i - 1][j - 1] + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        row[j] = Math.min(row[j], rows[i - 2][j - 2] + 1)
      }
    }
    rows.push(row)
  }
  return rows[a.length][b.length]
}

/**
 * The known option `name` was most likely meant to be, or undefined when none is close: a
 * case-insensitive match, a known alias, a known name that starts or ends it (`timeout` for
 * `timeoutMs`), then the smallest edit distance up to a third of the name's length (at least 1).
 */
function closestOption(name, known, aliases = {}) {
  const lower = name.toLowerCase()
  const exact = known.find((k) => k.toLowerCase() === lower)
  if (exact !== undefined) return exact
  if (Object.hasOwn(aliases, name)) return aliases[name]
  if (lower.length >= 3) {
    const affix = known.find((k) => k.toLowerCase().startsWith(lower) || lower.startsWith(k.toLowerCase()))
    if (affix !== undefined) return affix
  }
  let best
  let bestDistance = Math.max(1, Math.floor(name.length / 3)) + 1
  for (const k of known) {
    const d = editDistance(name, k)
    if (d < bestDistance) {
      best = k
      bestDistance = d
    }
  }
  return best
}

/**
 * Throws the RangeError (ERR_INVALID_ARG_VALUE) for the first own enumerable string key of
 * `options` that `api` does not know. Symbol keys are not options and are left alone.
 * @param {object} options an object already checked to be one
 * @param {keyof typeof KNOWN_OPTIONS} api
 * @param {string} [prefix] how the options object is named in messages
 */
function checkKnownOptions(options, api, prefix = 'options') {
  const known = KNOWN_OPTIONS[api]
  for (const name of Object.keys(options)) {
    if (known.includes(name)) continue
    const guess = closestOption(name, known, ALIASES[api])
    const callee = api === 'watch poll' ? 'watch() options.poll' : `${api}()`
    const hint = guess === undefined ? '' : ` (did you mean '${guess}'?)`
    throw invalidArgValue(
      `${prefix}.${name}`,
      options[name],
      `is not an option of ${callee}${hint}; its options are ${known.map((k) => `'${k}'`).join(', ')}`,
    )
  }
}

/** `options` as an object (`{}` for undefined or null), its names checked against `api`'s. */
function checkObject(options, name = 'options', api) {
  if (options === undefined || options === null) return {}
  if (typeof options !== 'object') throw invalidArgType(name, 'an object', options)
  if (api !== undefined) checkKnownOptions(options, api, name)
  return options
}

function checkBoolean(value, name, fallback) {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean') throw invalidArgType(name, 'of type boolean', value)
  return value
}

/** `keep` as a predicate over require.cache keys, or undefined. */
function parseKeep(keep) {
  if (keep === undefined) return undefined
  if (keep instanceof RegExp) {
    // A /g or /y RegExp keeps state between test() calls; test a fresh copy each time.
    return keep.global || keep.sticky ? (id) => new RegExp(keep.source, keep.flags).test(id) : (id) => keep.test(id)
  }
  if (typeof keep === 'function') return (id) => Boolean(keep(id))
  throw invalidArgType('options.keep', 'a RegExp or a function (id: string) => boolean', keep)
}

function parseShared(shared) {
  if (shared === undefined) return 'keep'
  if (typeof shared !== 'string') throw invalidArgType('options.shared', "'keep' or 'remove'", shared)
  if (shared !== 'keep' && shared !== 'remove') {
    throw invalidArgValue('options.shared', shared, "must be 'keep' or 'remove'")
  }
  return shared
}

/** The options of uncacheTree(). */
function parseUnloadOptions(options) {
  const o = checkObject(options, 'options', 'uncacheTree')
  return {
    from: parseFrom(o.from),
    shared: parseShared(o.shared),
    keep: parseKeep(o.keep),
    dryRun: checkBoolean(o.dryRun, 'options.dryRun', false),
  }
}

/** The options of invalidate(): where specifiers resolve from, what to keep. */
function parseInvalidateOptions(options) {
  const o = checkObject(options, 'options', 'invalidate')
  return {
    from: parseFrom(o.from),
    keep: parseKeep(o.keep),
    dryRun: checkBoolean(o.dryRun, 'options.dryRun', false),
  }
}

/**
 * The options of reload(): invalidate()'s, plus `tree` (default true: the target's tree is
 * unloaded as uncacheTree() does, with `shared`; false: the target and its importers only).
 */
function parseReloadOptions(options) {
  const o = checkObject(options, 'options', 'reload')
  return {
    from: parseFrom(o.from),
    keep: parseKeep(o.keep),
    shared: parseShared(o.shared),
    tree: checkBoolean(o.tree, 'options.tree', true),
    dryRun: checkBoolean(o.dryRun, 'options.dryRun', false),
  }
}

/** The options of snapshot(): `onRestore(report)` runs after each restore(). */
function parseSnapshotOptions(options) {
  const o = checkObject(options, 'options', 'snapshot')
  if (o.onRestore !== undefined && typeof o.onRestore !== 'function') {
    throw invalidArgType('options.onRestore', 'a function (report) => void', o.onRestore)
  }
  return { keep: parseKeep(o.keep), onRestore: o.onRestore }
}

/** The options of isolate() (`api` 'isolate') and of the per-test hooks (`api` 'isolateEach'). */
function parseIsolateOptions(options, api = 'isolate') {
  const o = checkObject(options, 'options', api)
  if (o.onRestore !== undefined && typeof o.onRestore !== 'function') {
    const signature = api === 'isolate' ? '(report) => void' : '(report, test) => void'
    throw invalidArgType('options.onRestore', `a function ${signature}`, o.onRestore)
  }
  parseKeep(o.keep) // a wrong `keep` fails here, where it was written
  return { keep: o.keep, onRestore: o.onRestore }
}

module.exports = {
  KNOWN_OPTIONS,
  checkKnownOptions,
  closestOption,
  checkObject,
  checkBoolean,
  parseKeep,
  parseUnloadOptions,
  parseInvalidateOptions,
  parseReloadOptions,
  parseSnapshotOptions,
  parseIsolateOptions,
}
