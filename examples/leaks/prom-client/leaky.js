'use strict'
// A metrics plugin that LEAKS: it registers a counter and the default metrics in prom-client's
// global registry and never takes them out. prom-client stays loaded across reloads (as
// node_modules does in a host), so the second load throws "A metric with the name … has already
// been registered": in a host, the plugin cannot be reloaded at all. fixed.js is the cure.
const client = require('prom-client')

client.collectDefaultMetrics()
const requests = new client.Counter({ name: 'plugin_requests_total', help: 'Requests seen by the plugin' })
module.exports = { name: 'metrics', count: () => requests.inc() }
