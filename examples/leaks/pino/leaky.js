'use strict'
// A plugin that LEAKS: it starts a pino transport of its own on each load (a worker thread with
// its own file descriptors and a 4 MB buffer) and flushes it on a timer it never clears. Each
// reload leaves one more thread running. fixed.js is the cure. (The file goes to a temporary directory.)
const os = require('node:os')
const path = require('node:path')
const pino = require('pino')

const transport = pino.transport({ target: 'pino/file', options: { destination: path.join(os.tmpdir(), `uncache-tree-pino-${process.pid}.log`) } })
const logger = pino(transport)
setInterval(() => logger.flush(), 10_000)
logger.info('plugin loaded')
module.exports = { name: 'request-log', logger }
