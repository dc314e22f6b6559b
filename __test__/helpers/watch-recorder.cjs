'use strict'
// A watch() recorder for the tests: the callbacks go into watch()'s options, next() waits.

/** onReload/onError that queue what they get; next() waits for the next one. */
function recorder() {
  const queue = []
  const waiting = []
  const deliver = (event) => {
    const waiter = waiting.shift()
    if (waiter !== undefined) waiter(event)
    else queue.push(event)
  }
  return {
    // Only these two go into watch()'s options: an unknown option name is an error.
    callbacks: {
      onReload: (report, exports) => deliver({ type: 'reload', report, exports }),
      onError: (error) => deliver({ type: 'error', error }),
    },
    next(timeoutMs = 5000) {
      if (queue.length > 0) return Promise.resolve(queue.shift())
      return new Promise((resolve, reject) => {
        const done = (event) => {
          clearTimeout(timer)
          resolve(event)
        }
        const timer = setTimeout(() => {
          waiting.splice(waiting.indexOf(done), 1)
          reject(new Error(`no watch event within ${timeoutMs} ms`))
        }, timeoutMs)
        waiting.push(done)
      })
    },
    pending: () => queue.length,
  }
}

module.exports = { recorder }
