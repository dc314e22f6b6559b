'use strict'
// What a person does about a leak, by the package that holds it. A dispose handler can only
// release what the package hands out; where a package keeps state of its own (a registry of
// metrics or models, a worker thread, a file stream), the fix is the package's own release call,
// and the doctor names it. Facts from each package's documentation (cited per entry).
const path = require('node:path')

/**
 * Known packages: their release call, and the process-wide registry that makes a second load
 * throw when the first was not released.
 */
const PACKAGES = {
  // https://github.com/siimon/prom-client#registry: register.removeSingleMetric(name), register.clear()
  'prom-client': {
    registry: "prom-client's global registry (require('prom-client').register)",
    release:
      "unregister this load's metrics in a hot(module).dispose() handler: register.removeSingleMetric(name) for each " +
      'metric it created, or register.clear() when the plugin owns the registry (collectDefaultMetrics() registers ' +
      'the default metrics there too)',
  },
  // https://mongoosejs.com/docs/api/mongoose.html#Mongoose.prototype.deleteModel()
  mongoose: {
    registry: "mongoose's model registry (mongoose.models)",
    release: "delete this load's models in a hot(module).dispose() handler: mongoose.deleteModel(name) (or connection.deleteModel(name))",
  },
  // https://getpino.io/#/docs/transports: a transport runs in a worker thread until transport.end()
  pino: {
    release:
      'create the transport once, in a module that stays loaded, and give the plugin logger.child(); a transport made ' +
      'per load runs a worker thread with its own file descriptors until transport.end() (and thread-stream keeps the ' +
      'ended stream and its 4 MB buffer until the worker has exited)',
  },
  'thread-stream': { alias: 'pino' },
  'pino-abstract-transport': { alias: 'pino' },
  'sonic-boom': { release: 'close the destination in a hot(module).dispose() handler: destination.end() (pino.destination())' },
  // https://github.com/winstonjs/winston#usage: logger.close() ends every transport
  winston: { release: 'close the logger in a hot(module).dispose() handler: logger.close() (it ends its transports and their file streams)' },
  'winston-transport': { alias: 'winston' },
  // https://axios-http.com/docs/interceptors: const id = axios.interceptors.request.use(fn); axios.interceptors.request.eject(id)
  axios: {
    release: 'eject the interceptor in a hot(module).dispose() handler: keep the id that interceptors.request.use() (or .response.use()) returns and call interceptors.request.eject(id)',
  },
  // https://sequelize.org/docs/v6/other-topics/hooks/#removing-hooks
  sequelize: { release: 'remove the hook in a hot(module).dispose() handler: add it with a name (addHook(type, name, fn)) and call removeHook(type, name)' },
  // express has no route removal API: the router's stack is the documented-by-use way.
  express: {
    release:
      "mount this load's routes on an express.Router() and take that router out of the kept app in a " +
      "hot(module).dispose() handler (remove the layer whose handle is the router from the app's router stack), " +
      'or let the kept app call the current router through one function the reload replaces',
  },
  router: { alias: 'express' },
}

/** The package (`name` or `@scope/name`) a file belongs to, by its last node_modules segment, or undefined. */
function packageOf(file) {
  if (typeof file !== 'string') return undefined
  const marker = `${path.sep}node_modules${path.sep}`
  const at = file.lastIndexOf(marker)
  if (at === -1) return undefined
  const parts = file.slice(at + marker.length).split(path.sep)
  return parts[0].startsWith('@') && parts.length > 1 ? `${parts[0]}/${parts[1]}` : parts[0]
}

/** The known advice for a package (aliases resolved), or undefined. */
function knownPackage(name) {
  let entry = PACKAGES[name]
  if (entry?.alias !== undefined) {
    name = entry.alias
    entry = PACKAGES[name]
  }
  return entry === undefined ? undefined : { name, ...entry }
}

module.exports = { PACKAGES, packageOf, knownPackage }
