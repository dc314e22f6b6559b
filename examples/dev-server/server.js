'use strict'
// A dev server whose routes reload on save, with no restart:
//
//   node examples/dev-server/server.js          (PORT=3000 to choose the port, 0 = any free one)
//   curl http://127.0.0.1:<port>/hello         then edit routes/hello.js and curl again
//
// What survives a reload: this process, its listening socket, open keep-alive connections, and
// state.js (it declines updates, so its counters live as long as the process). What goes: the
// route that changed. Its dispose handler stops its interval before the new version loads. A
// route that fails to load (a syntax error, a throw at the top) is not swapped in: the error is
// logged and the previous version keeps serving until the file is fixed.
//
// GET /__debug answers with this process's pid and port, the reload count, the intervals that are
// running and, with ?gc=1, which unloaded module generations are still in memory (verifyCollected
// over every reload report; used by __test__/dev-server.test.cjs). SIGINT / SIGTERM shut it down
// cleanly.
const http = require('node:http')
const path = require('node:path')
const { watch, verifyCollected, uncacheTree } = require('uncache-tree')

// Loaded from here first, so its first parent is this long-lived module, never a route.
const state = require('./state.js')
let app = require('./app.js')

const reports = []
const relative = (id) => path.relative(__dirname, id)
const log = (line) => console.log(`[dev-server] ${line}`)

async function debug(req, res) {
  const url = new URL(req.url, 'http://localhost')
  const body = {
    pid: process.pid,
    port: server.address().port,
    reloads: reports.length,
    startedAt: state.startedAt,
    requests: state.requests,
    activeIntervals: state.activeIntervals,
    timers: process.getActiveResourcesInfo().filter((name) => name === 'Timeout').length,
  }
  if (url.searchParams.get('gc') === '1') {
    const alive = []
    // V8 frees some unloaded modules only after a few collections: give each report up to 1 s.
    for (const report of reports) alive.push(...(await verifyCollected(report, { timeoutMs: 1000 })).alive)
    body.unloaded = reports.reduce((n, report) => n + report.removed.length, 0)
    body.alive = alive.map(relative)
  }
  res.setHeader('content-type', 'application/json')
  res.end(JSON.stringify(body))
}

const server = http.createServer((req, res) => {
  if (req.url.startsWith('/__debug')) {
    debug(req, res).catch((error) => {
      res.statusCode = 500
      res.end(String(error.stack))
    })
    return
  }
  app.handle(req, res)
})

const watcher = watch({
  entry: './app.js',
  debounceMs: Number(process.env.DEBOUNCE_MS ?? 50),
  onReload(report, nextApp) {
    app = nextApp
    reports.push(report)
    for (const { id, reason, blocked } of report.skipped) {
      if (reason !== 'declined') continue
      log(`${relative(id)} declined the update of ${blocked.map(relative).join(', ')}: restart to apply it`)
    }
    if (report.removed.length > 0) log(`reloaded ${report.removed.map(relative).join(', ')}`)
    for (const error of report.errors) log(`a dispose handler threw: ${error.stack ?? error}`)
  },
  onError(error) {
    log(`reload failed, still serving the previous version: ${error.cause?.stack ?? error.stack ?? error}`)
  },
})

server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  log(`listening on http://127.0.0.1:${server.address().port}`)
})

// Shutting down is one more unload: the routes' dispose handlers stop their intervals, the last
// handles close, and the process exits on its own.
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    log(`${signal}: shutting down`)
    server.close()
    server.closeAllConnections()
    watcher.close().then(() => uncacheTree(require.resolve('./app.js')))
  })
}
