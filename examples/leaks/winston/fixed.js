'use strict'
// The plugin of leaky.js, fixed: logger.close() on unload ends the transports and their files.
const os = require('node:os')
const path = require('node:path')
const winston = require('winston')
const { hot } = require('uncache-tree')

const logger = winston.createLogger({
  transports: [new winston.transports.File({ filename: path.join(os.tmpdir(), `uncache-tree-winston-${process.pid}.log`) })],
})
logger.info('plugin loaded')
hot(module).dispose(() => logger.close())
module.exports = { name: 'audit-log', logger }
