'use strict'
// A shared fixture: the spec file loads it before any test runs, so all tests share it.
module.exports = { step: 1 }
