'use strict'
// A plugin host: it loads a plugin, routes commands to it, and on `/reload` drops the plugin
// and loads it again from disk (new code, fresh state), as hosts of bots, editors and game
// servers do. The only thing that differs between the two runs of the demo is `unload`.
const path = require('node:path')
const { formatBytes } = require('./format') // the host's own use of the shared helper

const PLUGIN_DIR = path.join(__dirname, 'plugin')
const PLUGIN_ENTRY = path.join(PLUGIN_DIR, 'index.js')

const UNLOADERS = {
  // What most hosts do: forget every file of the plugin in require.cache, then require again.
  // The new copy loads, but the host module's `children` array still holds every old copy.
  'plain delete'() {
    for (const key of Object.keys(require.cache)) {
      if (key.startsWith(PLUGIN_DIR + path.sep)) delete require.cache[key]
    }
  },
  // uncache-tree: unload the plugin's tree and cut every reference Node keeps to it. format.js
  // stays loaded (the host requires it too) and keeps its identity.
  'uncache-tree'() {
    return require('uncache-tree').uncacheTree(PLUGIN_ENTRY)
  },
}

class PluginHost {
  /** @param {'plain delete' | 'uncache-tree'} strategy */
  constructor(strategy) {
    if (!(strategy in UNLOADERS)) throw new RangeError(`unknown strategy ${strategy}`)
    this.strategy = strategy
    this.reloads = 0
    this.plugin = require(PLUGIN_ENTRY)
  }

  /** The module object of the plugin copy loaded now (the demo watches it with a WeakRef). */
  get pluginModule() {
    return require.cache[PLUGIN_ENTRY]
  }

  handle(command, ...args) {
    if (command === '/reload') {
      UNLOADERS[this.strategy]()
      this.plugin = require(PLUGIN_ENTRY)
      this.reloads++
      return `reloaded ${this.plugin.name} (${formatBytes(this.plugin.tableBytes)} table), reload #${this.reloads}`
    }
    const handler = this.plugin.commands[command]
    if (handler === undefined) return `unknown command ${command}`
    return handler(...args)
  }
}

module.exports = { PluginHost, PLUGIN_ENTRY }
