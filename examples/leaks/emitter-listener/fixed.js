'use strict'
// The plugin of leaky.js, fixed: it removes its listener from the bus when it is unloaded.
const { hot } = require('uncache-tree')
const bus = require('./bus.js')

const prices = new Float64Array(64 * 1024)
function onTick(symbol) {
  return prices[symbol.length]
}
bus.on('tick', onTick)
hot(module).dispose(() => bus.off('tick', onTick))
module.exports = { name: 'prices', latest: (symbol) => prices[symbol.length] }
