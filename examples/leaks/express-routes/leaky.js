'use strict'
// A plugin that LEAKS: it adds its routes to the kept app on each load. express has no call to
// remove a route, so every reload stacks one more copy of each route (the first one still
// answers, with the first copy's code). fixed.js is the cure.
const app = require('./app.js')

const greeting = 'hello'
app.get('/hello', (req, res) => res.send(greeting))
module.exports = { name: 'hello' }
