'use strict'
// The plugin's command handlers. They use the plugin's own table and the host's shared helper.
const assets = require('./assets')
const { formatBytes } = require('../format')

let handled = 0 // per copy of the plugin: starts again at 0 after every reload

module.exports = {
  '/lookup': (key) => `lookup(${key}) = ${assets.lookup(Number(key) || 0)}`,
  '/stats': () => `${++handled} commands handled by this copy, table ${formatBytes(assets.size)}`,
}
