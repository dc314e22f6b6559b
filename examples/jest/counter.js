'use strict'
// Module state a test can mutate.
let count = 0
module.exports = { increment: () => ++count }
