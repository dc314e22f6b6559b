'use strict'
// The plugin of leaky.js, fixed: its routes live on a Router of its own, mounted on the kept app
// once per load and taken out of the app's router stack when the plugin is unloaded.
const express = require('express')
const app = require('./app.js')
const { hot } = require('uncache-tree')

const greeting = 'hello'
const routes = express.Router()
routes.get('/hello', (req, res) => res.send(greeting))
app.use(routes)
hot(module).dispose(() => {
  // express 5 exposes the app's router as app.router, express 4 as app._router.
  const stack = (app.router ?? app._router).stack
  const at = stack.findIndex((layer) => layer.handle === routes)
  if (at !== -1) stack.splice(at, 1)
})
module.exports = { name: 'hello' }
