'use strict'
// A status plugin that LEAKS: each load starts an HTTP server and nothing closes it. A few hundred
// bytes of heap per reload, far under any byte threshold, but one more listening socket (and file
// descriptor) every time: a real host runs out of ports or fds long before memory. fixed.js is the cure.
const http = require('node:http')

const server = http.createServer((req, res) => res.end('ok\n'))
server.listen(0, '127.0.0.1')
module.exports = { name: 'status', server }
