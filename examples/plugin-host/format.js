'use strict'
// A helper shared by the host and the plugin. The host requires it before any plugin is loaded
// and keeps using it, so a reload must not replace it: uncache-tree sees that a live module (the
// host) still requires it and keeps it, with its state (the counter below) intact.
let calls = 0

function formatBytes(bytes) {
  calls++
  const units = ['B', 'KiB', 'MiB', 'GiB']
  let value = bytes
  let unit = 0
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`
}

module.exports = { formatBytes, callCount: () => calls }
