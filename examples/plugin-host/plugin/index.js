'use strict'
// The plugin's entry: what the host requires. Three files of its own plus the shared helper.
const commands = require('./commands')
const assets = require('./assets')

module.exports = {
  name: 'lookup-plugin',
  loadedAt: Date.now(),
  tableBytes: assets.size,
  commands,
}
