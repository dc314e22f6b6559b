'use strict'
// Validation of the options every unloading function shares, so each public function states
// only what is its own.
const { invalidArgType, invalidArgValue } = require('./errors.js')
const { parseFrom } = require('./targets.js')

function checkObject(options, name = 'options') {
  if (options === undefined || options === null) return {}
  if (typeof options !== 'object') throw invalidArgType(name, 'an object', options)
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

/** The options of uncacheTree(), and of every function that unloads like it. */
function parseUnloadOptions(options) {
  const o = checkObject(options)
  let shared = 'keep'
  if (o.shared !== undefined) {
    if (typeof o.shared !== 'string') throw invalidArgType('options.shared', "'keep' or 'remove'", o.shared)
    if (o.shared !== 'keep' && o.shared !== 'remove') {
      throw invalidArgValue('options.shared', o.shared, "must be 'keep' or 'remove'")
    }
    shared = o.shared
  }
  return {
    from: parseFrom(o.from),
    shared,
    keep: parseKeep(o.keep),
    dryRun: checkBoolean(o.dryRun, 'options.dryRun', false),
  }
}

module.exports = { checkObject, checkBoolean, parseKeep, parseUnloadOptions }
