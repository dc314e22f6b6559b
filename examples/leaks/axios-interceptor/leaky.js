'use strict'
// An auth plugin that LEAKS: it adds a request interceptor to the shared axios instance (axios
// stays loaded across reloads, as node_modules does in a host) and never ejects it. Each reload
// adds one more interceptor, and every request runs through all of them. fixed.js is the cure.
const axios = require('axios')

let token = 'secret'
axios.interceptors.request.use((config) => {
  config.headers.Authorization = `Bearer ${token}`
  return config
})
module.exports = { name: 'auth', setToken: (t) => (token = t) }
