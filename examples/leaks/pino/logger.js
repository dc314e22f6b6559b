'use strict'
// The application's logger: one pino transport (one worker thread), created once and kept while
// plugins come and go (the doctor keeps it with `--keep logger\.js$`, as a host that created it
// first would). The file goes to a temporary directory.
const os = require('node:os')
const path = require('node:path')
const pino = require('pino')

const transport = pino.transport({ target: 'pino/file', options: { destination: path.join(os.tmpdir(), `uncache-tree-pino-${process.pid}.log`) } })
module.exports = pino(transport)
