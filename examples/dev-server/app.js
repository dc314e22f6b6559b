'use strict'
// The router, and the module watch() reloads when it changes itself. Route modules are accepted:
// when one of them changes, only that route is unloaded, and the handler below requires the new
// version in place (webpack's accept(deps, callback)). The router, state.js and the other
// routes keep running untouched. If the new route throws while loading, the whole reload is
// rolled back and the old route keeps serving.
const path = require('node:path')
const { hot } = require('uncache-tree')
const state = require('./state.js')

const files = {
  '/hello': './routes/hello.js',
  '/ticker': './routes/ticker.js',
}
const routes = {}
for (const [route, file] of Object.entries(files)) routes[route] = require(file)

hot(module).accept(Object.values(files), (updated) => {
  for (const [route, file] of Object.entries(files)) {
    if (updated.includes(path.join(__dirname, file))) routes[route] = require(file)
  }
})

exports.handle = (req, res) => {
  state.requests++
  const route = routes[new URL(req.url, 'http://localhost').pathname]
  if (route === undefined) {
    res.statusCode = 404
    res.end(`no route; try ${Object.keys(routes).join(' or ')}\n`)
    return
  }
  route(req, res)
}
