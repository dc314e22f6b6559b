'use strict'
// An audit plugin that LEAKS: it adds a hook to the application's Sequelize instance on each
// load and never removes it; every query then runs every old copy's hook. fixed.js is the cure.
const sequelize = require('./db.js')

const audited = []
sequelize.addHook('beforeQuery', (options) => {
  audited.push(options.type)
})
module.exports = { name: 'audit', audited }
