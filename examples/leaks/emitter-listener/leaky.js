'use strict'
// A plugin that LEAKS: it listens on the application's bus and never stops. The listener closes
// over this load's lookup table (not over `module`), so each reload adds one more listener and
// one more table to the bus, which lives as long as the program. fixed.js is the cure.
const bus = require('./bus.js')

const prices = new Float64Array(64 * 1024) // 512 KB per load
function onTick(symbol) {
  return prices[symbol.length]
}
bus.on('tick', onTick)
module.exports = { name: 'prices', latest: (symbol) => prices[symbol.length] }
