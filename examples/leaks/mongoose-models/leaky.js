'use strict'
// A plugin that LEAKS: it compiles a mongoose model on each load and never deletes it. mongoose
// stays loaded across reloads (as node_modules does in a host) and keeps every model by name, so
// the second load throws OverwriteModelError. No database connection is needed (autoCreate and
// autoIndex are off, so nothing waits for one). fixed.js is the cure.
const mongoose = require('mongoose')

const User = mongoose.model('User', new mongoose.Schema({ name: String, email: String }, { autoCreate: false, autoIndex: false }))
module.exports = { name: 'users', User }
