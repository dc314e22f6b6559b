'use strict'
// A CLEAN plugin with a noisy heap: every load allocates and drops tens of megabytes (a report
// built and thrown away, big temporary buffers) and keeps a bounded cache in a module-level Map.
// Nothing outlives the unload; the doctor must say so (exit 0), run after run.
const cache = new Map()
const MAX_CACHE = 200

function remember(key, value) {
  cache.set(key, value)
  if (cache.size > MAX_CACHE) cache.delete(cache.keys().next().value)
}

// Tens of MB of garbage, of varying size: objects, strings and buffers.
const rounds = 20 + Math.floor(Math.random() * 20)
let checksum = 0
for (let r = 0; r < rounds; r++) {
  const rows = Array.from({ length: 5_000 }, (_, i) => ({ i, text: `row ${r}:${i}`, weight: Math.random() }))
  const buffer = Buffer.alloc(256 * 1024 + Math.floor(Math.random() * 512 * 1024))
  checksum += rows.length + buffer.length
  remember(`round-${r % 300}`, rows[r].text)
}
module.exports = { name: 'noisy', checksum, cached: () => cache.size }
