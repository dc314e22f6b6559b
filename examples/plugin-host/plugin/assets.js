'use strict'
// The plugin's data: a lookup table built when the plugin loads, the way plugins precompute
// glyph atlases, dictionaries or model weights. Every copy of the plugin that stays in memory
// keeps its own table, which is what makes a leaking reload visible.
const TABLE_BYTES = Number(process.env.PLUGIN_TABLE_KIB || 256) * 1024

// One 4 KiB block computed here, repeated over the whole table by Buffer#fill. Every page is
// written, so the table costs real memory (untouched pages would not, and the leak would hide).
const block = Buffer.allocUnsafe(4096)
for (let i = 0; i < block.length; i += 4) block.writeUInt32LE(Math.imul(i + 1, 2654435761) >>> 0, i)
const table = Buffer.alloc(TABLE_BYTES, block)

module.exports = {
  size: table.length,
  lookup: (key) => table.readUInt32LE((key * 4) % table.length),
}
