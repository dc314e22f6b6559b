'use strict'
// What a person does about a leak: by the package that holds it (PACKAGES), and by the kind of
// resource whose count grows with every load (RESOURCES). A dispose handler can only release what
// the package hands out; where a package keeps state of its own (a registry of metrics or models,
// a worker thread, a file stream), the fix is the package's own release call, and the doctor
// names it. Facts from each package's documentation (cited per entry).
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

/**
 * What to do about a resource count that grows with every load, by the flat count key of
 * lib/proof/resources.js (`fds`, `threads`, `<group>:<name>`): one row per kind of resource, read
 * by the doctor (count-leaks.js) and by `uncache-tree dev`'s leak hints (lib/dev/leak-hints.js),
 * so that a kind of resource and its fix are written down once. Each says it in its own form:
 * - `one`: the resource, for one of it (dev adds the plural: "added 2 timers");
 * - `handler`: the dispose handler dev prints after "Fix:";
 * - `counted`: the count as the doctor's report names it;
 * - `fix`: the doctor's sentence.
 * A field a row lacks falls back to generic words (each reader has its own). A row of a group
 * whose words name the key's name (a listener's event) is a function of that name.
 */
const SERVER_FIX = 'Each load starts a server that keeps listening: close it in a hot(module).dispose() handler (server.close(), and server.closeAllConnections()).'
const RESOURCES = {
  processListeners: (event) => ({
    one: `process '${event}' listener`,
    handler: `hot(module).dispose(() => process.off('${event}', handler)) — remove the listener this module adds`,
    counted: `process '${event}' listeners`,
    fix: `Remove the listener in a hot(module).dispose() handler: process.removeListener('${event}', listener).`,
  }),
  // `<label> <event>`: the emitter's label (`bus.js exports`) and the event. The doctor only: dev
  // counts no emitter of the program's.
  emitterListeners: (labelAndEvent) => {
    const space = labelAndEvent.lastIndexOf(' ')
    return {
      counted: `'${labelAndEvent.slice(space + 1)}' listeners on ${labelAndEvent.slice(0, space)}`,
      fix: 'The emitter stays loaded and each load adds a listener to it: remove it in a hot(module).dispose() handler (emitter.removeListener(event, listener)).',
    }
  },
  fds: {
    one: 'open file descriptor',
    handler:
      'hot(module).dispose(() => stream.end()) — close the files, streams, loggers and transports this module opens (winston: logger.close(); pino: transport.end())',
    counted: 'open file descriptors', // the doctor adds the kinds its traced cycle saw
    fix: 'Each load opens a file, socket or pipe that stays open: close it (stream.end(), handle.close()) in a hot(module).dispose() handler.',
  },
  threads: {
    one: 'thread',
    handler: 'hot(module).dispose(() => worker.terminate()) — end the workers this module starts (pino: transport.end())',
    counted: 'threads (worker threads)',
    fix: 'Each load starts a worker thread that keeps running: worker.terminate() (or end what started it) in a hot(module).dispose() handler.',
  },
  // process.getActiveResourcesInfo() types.
  'activeResources:Timeout': {
    one: 'timer',
    handler: 'hot(module).dispose(() => clearInterval(timer)) — clear the intervals and timeouts this module sets',
    counted: 'active timers (Timeout: setInterval/setTimeout)',
    fix: 'A timer started on each load keeps running: keep its handle and clearInterval/clearTimeout it in a hot(module).dispose() handler.',
  },
  'activeResources:Immediate': { one: 'setImmediate callback', handler: 'hot(module).dispose(() => clearImmediate(handle))' },
  'activeResources:TCPServerWrap': {
    one: 'listening server',
    handler: 'hot(module).dispose(() => server.close()) — or, for a server handed to a long-lived listener, close the old one after the swap',
    counted: 'listening servers (TCPServerWrap)',
    fix: SERVER_FIX,
  },
  'activeResources:PipeServerWrap': {
    one: 'listening server',
    handler: 'hot(module).dispose(() => server.close())',
    counted: 'listening servers (PipeServerWrap)',
    fix: SERVER_FIX,
  },
  'activeResources:TCPSocketWrap': { one: 'open socket', handler: 'hot(module).dispose(() => client.destroy()) — close the connections and agents this module opens' },
  'activeResources:PipeWrap': { one: 'open pipe', handler: 'hot(module).dispose(() => stream.destroy())' },
  'activeResources:UDPWrap': { one: 'UDP socket', handler: 'hot(module).dispose(() => socket.close())' },
  'activeResources:FSEventWrap': { one: 'fs.watch watcher', handler: 'hot(module).dispose(() => watcher.close())' },
  'activeResources:StatWatcher': { one: 'fs.watchFile watcher', handler: 'hot(module).dispose(() => fs.unwatchFile(file))' },
  'activeResources:FileHandle': { one: 'open file handle', handler: 'hot(module).dispose(() => handle.close())' },
  'activeResources:ProcessWrap': { one: 'child process', handler: 'hot(module).dispose(() => child.kill())' },
  'activeResources:MessagePort': { one: 'message port', handler: 'hot(module).dispose(() => port.close())' },
  'activeResources:Worker': { one: 'worker thread', handler: 'hot(module).dispose(() => worker.terminate())' },
}

/** The RESOURCES row of a flat count key (its group's, named), or undefined. */
function resourceAdvice(key) {
  if (Object.hasOwn(RESOURCES, key)) return RESOURCES[key]
  const colon = key.indexOf(':')
  const group = colon === -1 ? undefined : key.slice(0, colon)
  if (group === undefined || !Object.hasOwn(RESOURCES, group) || typeof RESOURCES[group] !== 'function') return undefined
  return RESOURCES[group](key.slice(colon + 1))
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

module.exports = { PACKAGES, RESOURCES, resourceAdvice, packageOf, knownPackage }
