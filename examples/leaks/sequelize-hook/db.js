'use strict'
// The application's database handle: created once and kept while plugins come and go (the doctor
// keeps it with `--keep db\.js$`, as a host that required it first would). It never connects:
// Sequelize opens a connection only on the first query.
const { Sequelize } = require('sequelize')

module.exports = new Sequelize('postgres://app:app@127.0.0.1:5432/app', { logging: false })
