'use strict'
// The plugin of leaky.js, fixed: it takes itself out of the global registry when it is unloaded.
//
// hot(module).dispose() registers a handler that uncache-tree runs just before this module is
// unloaded. Removing this copy from `globalThis.pluginRegistry` cuts the only path from the
// global object to it.
const { hot } = require('uncache-tree')

// A lookup table built at load time: large on purpose, so that a leak would show on the
// doctor's chart.
const greetings = new Map(Array.from({ length: 20_000 }, (_, i) => [`user-${i}`, `Hello, user ${i}!`]))

// The host finds plugins here (and reads `module.exports` and `module.id` from each entry).
globalThis.pluginRegistry ??= []
globalThis.pluginRegistry.push(module)

hot(module).dispose(() => {
  const registry = globalThis.pluginRegistry
  const index = registry.indexOf(module)
  if (index !== -1) registry.splice(index, 1)
})

module.exports = {
  name: 'greeter',
  greet: (user) => greetings.get(user) ?? `Hello, ${user}!`,
}
