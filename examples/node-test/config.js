'use strict'
// A shared fixture: the test file loads it once, before any test, so every test (and every fresh
// copy of counter.js) sees this one object.
module.exports = { step: 1, createdAt: process.hrtime.bigint() }
