'use strict'
// The status plugin of leaky.js, fixed: the server is closed when the plugin is unloaded.
const http = require('node:http')
const { hot } = require('uncache-tree')

const server = http.createServer((req, res) => res.end('ok\n'))
server.listen(0, '127.0.0.1')
hot(module).dispose(() => {
  server.close()
  server.closeAllConnections()
})
module.exports = { name: 'status', server }
