'use strict'
// The application: one express app, created once and kept while plugins come and go (the doctor
// keeps it with `--keep app\.js$`, as a host that created it first would).
const express = require('express')

module.exports = express()
