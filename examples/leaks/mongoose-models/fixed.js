'use strict'
// The plugin of leaky.js, fixed: the model is deleted from mongoose when the plugin is unloaded.
const mongoose = require('mongoose')
const { hot } = require('uncache-tree')

const User = mongoose.model('User', new mongoose.Schema({ name: String, email: String }, { autoCreate: false, autoIndex: false }))
hot(module).dispose(() => mongoose.deleteModel('User'))
module.exports = { name: 'users', User }
