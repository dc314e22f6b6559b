'use strict'
// Loaded afresh by the fuzz harness after each sequence's cleanup (harness.cjs, Sequence.cleanup).
module.exports = { sentinel: true }
