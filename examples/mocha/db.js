'use strict'
// An expensive fixture (think: a database pool) that a `before` hook sets up once per suite.
module.exports = { connectedAt: process.hrtime.bigint(), queries: 0 }
