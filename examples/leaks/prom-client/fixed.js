'use strict'
// The metrics plugin of leaky.js, fixed. Its own counter is unregistered when it is unloaded.
// The default metrics are process-wide (CPU, memory, event loop, GC): they are collected once
// per process, not once per load (prom-client's GC metric starts a PerformanceObserver that
// nothing can stop, so a second collectDefaultMetrics() would keep one more each time).
const client = require('prom-client')
const { hot } = require('uncache-tree')

if (client.register.getSingleMetric('process_cpu_user_seconds_total') === undefined) client.collectDefaultMetrics()
const requests = new client.Counter({ name: 'plugin_requests_total', help: 'Requests seen by the plugin' })
hot(module).dispose(() => client.register.removeSingleMetric('plugin_requests_total'))
module.exports = { name: 'metrics', count: () => requests.inc() }
