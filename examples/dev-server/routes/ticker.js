'use strict'
// A route with a background job. The interval holds this module's closures: without the dispose
// handler every reload would leave one more interval running, and the old module in memory.
const { hot } = require('uncache-tree')
const state = require('../state.js')

const version = 'ticker v1'
let ticks = hot(module).data?.ticks ?? 0 // carried over from the previous version
const timer = setInterval(() => ticks++, 100)
state.activeIntervals++

hot(module).dispose((data) => {
  clearInterval(timer)
  state.activeIntervals--
  data.ticks = ticks
})

module.exports = (req, res) => {
  res.end(`${version}: ${ticks} ticks\n`)
}
