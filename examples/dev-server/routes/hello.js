'use strict'
module.exports = (req, res) => {
  res.end('hello v1\n')
}
