'use strict'
// A plugin that LEAKS: it registers itself in an array on globalThis and never leaves it.
//
// The global object lives as long as the program. `globalThis.pluginRegistry` holds this
// module, and the module holds its exports and everything they reach. Every reload pushes one
// more copy. fixed.js is the cure.

// A lookup table built at load time: large on purpose, so that each leaked copy shows on the
// doctor's chart.
const greetings = new Map(Array.from({ length: 20_000 }, (_, i) => [`user-${i}`, `Hello, user ${i}!`]))

// The host finds plugins here (and reads `module.exports` and `module.id` from each entry).
globalThis.pluginRegistry ??= []
globalThis.pluginRegistry.push(module)

module.exports = {
  name: 'greeter',
  greet: (user) => greetings.get(user) ?? `Hello, ${user}!`,
}
