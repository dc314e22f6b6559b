'use strict'
// The plugin of leaky.js, fixed: it logs through a child of the application's logger, so no
// reload starts a thread, and it clears its flush timer on unload. (Ending a per-load transport
// with transport.end() stops its thread, but thread-stream keeps the ended stream and its 4 MB
// buffer until the worker has exited: one transport per process is the cure.)
const { hot } = require('uncache-tree')
const logger = require('./logger.js').child({ plugin: 'request-log' })

const timer = setInterval(() => logger.flush(), 10_000)
hot(module).dispose(() => clearInterval(timer))
logger.info('plugin loaded')
module.exports = { name: 'request-log', logger }
