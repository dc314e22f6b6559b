'use strict'
// An application-wide event bus: a module that stays loaded while plugins come and go (the
// doctor keeps it loaded with `--keep bus`, as a host that required it first would).
const { EventEmitter } = require('node:events')
const bus = new EventEmitter()
bus.setMaxListeners(0)
module.exports = bus
