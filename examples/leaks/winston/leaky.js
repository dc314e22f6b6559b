'use strict'
// A plugin that LEAKS: it creates a winston logger with a file transport on each load and never
// closes it. Each reload opens the log file once more; the old streams stay open for the life
// of the process. fixed.js is the cure. (The file goes to a temporary directory.)
const os = require('node:os')
const path = require('node:path')
const winston = require('winston')

const logger = winston.createLogger({
  transports: [new winston.transports.File({ filename: path.join(os.tmpdir(), `uncache-tree-winston-${process.pid}.log`) })],
})
logger.info('plugin loaded')
module.exports = { name: 'audit-log', logger }
