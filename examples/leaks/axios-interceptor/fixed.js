'use strict'
// The auth plugin of leaky.js, fixed: it keeps the interceptor's id and ejects it on unload.
const axios = require('axios')
const { hot } = require('uncache-tree')

let token = 'secret'
const id = axios.interceptors.request.use((config) => {
  config.headers.Authorization = `Bearer ${token}`
  return config
})
hot(module).dispose(() => axios.interceptors.request.eject(id))
module.exports = { name: 'auth', setToken: (t) => (token = t) }
