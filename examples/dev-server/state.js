'use strict'
// State that outlives every reload: it declines updates, so invalidate() never unloads it (an
// edit here is refused and logged; restart to apply it). Routes read and write it.
const { hot } = require('uncache-tree')

hot(module).decline()

module.exports = {
  startedAt: new Date().toISOString(),
  requests: 0,
  activeIntervals: 0,
}
