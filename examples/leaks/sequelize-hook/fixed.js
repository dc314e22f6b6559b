'use strict'
// The audit plugin of leaky.js, fixed: the hook has a name, and the name removes it on unload.
const sequelize = require('./db.js')
const { hot } = require('uncache-tree')

const audited = []
sequelize.addHook('beforeQuery', 'audit-plugin', (options) => {
  audited.push(options.type)
})
hot(module).dispose(() => sequelize.removeHook('beforeQuery', 'audit-plugin'))
module.exports = { name: 'audit', audited }
