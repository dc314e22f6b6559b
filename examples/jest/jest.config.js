'use strict'
// Run: npx jest --config examples/jest/jest.config.js
module.exports = {
  rootDir: __dirname,
  testEnvironment: 'node',
  // Not *.test.js: `node --test` run in this repository would pick that up as its own.
  testMatch: ['<rootDir>/*.jest.js'],
  // Plain CommonJS: nothing to compile.
  transform: {},
}
