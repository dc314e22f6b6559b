'use strict'
// How the doctor's result (lib/proof/doctor.js) is shown: a plain-text report with a Unicode bar chart
// for the terminal (readable in 80 columns, and in CI logs that show no colours), and a
// self-contained HTML page with an inline SVG line chart. No chart library: the charts are
// small, and a page with no external assets can be attached to a bug report as one file.
const path = require('node:path')

const MB = 1024 * 1024
const BLOCKS = [' ', '▁', '▂', '▃', '▄', '▅', '▆', '▇', '█']

const totalOf = (s) => s.heapUsed + s.arrayBuffers

/** `12.3 MB`, `640 KB`, `512 B`: one decimal where it carries information. */
function formatBytes(bytes) {
  const abs = Math.abs(bytes)
  if (abs >= MB) return `${(bytes / MB).toFixed(1)} MB`
  if (abs >= 1024) return `${Math.round(bytes / 1024)} KB`
  return `${Math.round(bytes)} B`
}

const signed = (bytes) => (bytes >= 0 ? '+' : '−') + formatBytes(Math.abs(bytes))

/** The smallest round number (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 × 10^k) >= value: an axis end
 * that reads easily without leaving half the chart empty. */
function niceCeil(value) {
  if (!(value > 0)) return 1
  const power = 10 ** Math.floor(Math.log10(value))
  for (const m of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * power >= value * (1 - 1e-9)) return m * power
  return 10 * power
}

/** Axis tick step for about `count` ticks over [0, max]; `integer` steps for counts (cycles). */
function tickStep(max, count, integer = false) {
  const raw = max / count
  const power = 10 ** Math.floor(Math.log10(raw))
  for (const m of integer ? [1, 2, 5, 10] : [1, 2, 2.5, 5, 10]) if (m * power >= raw) return Math.max(integer ? 1 : 0, m * power)
  return 10 * power
}

// Chains after the first are shown as differences from it; beyond this many, only counted.
const MAX_CHAINS_SHOWN = 4

/** Absolute paths under `cwd` inside a chain label, made relative (shorter lines). */
function relativize(text, cwd) {
  if (cwd === undefined || cwd === path.parse(cwd).root) return text
  return text.split(cwd + path.sep).join('')
}

/** `entry` relative to `cwd` when it lies inside it (shorter lines, same meaning). */
function displayPath(file, cwd) {
  if (cwd === undefined) return file
  const rel = path.relative(cwd, file)
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file
}

/**
 * A bar chart of heapUsed + arrayBuffers per sample, starting at zero so that noise stays
 * small and a leak shows as a ramp. One to three columns per sample; more samples than columns
 * are merged (the maximum of each group: a chart must not hide a peak).
 * @returns {string[]} lines, none longer than `width`
 */
function terminalChart(samples, { width = 80, height = 8, trend } = {}) {
  const values = samples.map(totalOf)
  const top = niceCeil(Math.max(...values) / MB) * MB
  const labels = [formatBytes(top), formatBytes(top / 2), '0 MB']
  const labelWidth = Math.max(...labels.map((l) => l.length))
  const room = width - labelWidth - 2 - 6 // axis glyph + space, and room for the "cycle" caption
  let columns = samples.map((s, i) => ({ value: values[i], cycle: s.cycle }))
  if (columns.length > room) {
    const group = Math.ceil(columns.length / room)
    const merged = []
    for (let i = 0; i < columns.length; i += group) {
      const slice = columns.slice(i, i + group)
      merged.push({ value: Math.max(...slice.map((c) => c.value)), cycle: slice[0].cycle })
    }
    columns = merged
  }
  const per = Math.max(1, Math.min(3, Math.floor(room / columns.length)))
  const plotWidth = columns.length * per
  const levels = height * 8
  const level = columns.map((c) => (c.value <= 0 ? 0 : Math.max(1, Math.min(levels, Math.round((c.value / top) * levels)))))

  const lines = []
  const labelRows = new Map([
    [0, labels[0]],
    [Math.floor(height / 2), labels[1]],
  ])
  // The fitted trend (after warm-up) as dots in the empty cells above the bars.
  const trendLevel = columns.map((c) =>
    trend === undefined || c.cycle < trend.fromCycle ? -1 : Math.round(((trend.intercept + trend.slope * c.cycle) / top) * levels),
  )
  for (let row = 0; row < height; row++) {
    const base = (height - 1 - row) * 8
    let bar = ''
    level.forEach((l, i) => {
      const glyph = BLOCKS[Math.max(0, Math.min(8, l - base))]
      const t = trendLevel[i]
      const onTrend = t >= base && t < base + 8 && t <= levels
      bar += (onTrend && glyph === ' ' ? '·' : glyph).repeat(per)
    })
    const label = labelRows.get(row)
    lines.push(`${(label ?? '').padStart(labelWidth)} ${label === undefined ? '│' : '┤'}${bar.trimEnd()}`)
  }
  // X axis: ticks at round cycle numbers (0, 5, 10 ... or 0, 2, 4 ...), about five of them, on
  // the columns of the samples taken at those cycles; the last cycle always gets one.
  const lastCycle = columns[columns.length - 1].cycle
  // Samples are k cycles apart (every cycle, or every k-th on long runs, or merged columns):
  // a tick step that is a multiple of k always lands on a sampled cycle.
  const spacing = columns.length > 1 ? Math.max(1, columns[1].cycle - columns[0].cycle) : 1
  const step = spacing * tickStep(Math.max(1, lastCycle / spacing), 4, true)
  const tickIndexes = []
  columns.forEach((c, i) => {
    if (c.cycle % step === 0 || i === columns.length - 1) tickIndexes.push(i)
  })
  const axis = Array.from({ length: plotWidth }, () => '─')
  const captions = Array.from({ length: plotWidth + 8 }, () => ' ')
  let lastEnd = -1
  for (const i of tickIndexes) {
    const col = i * per
    axis[col] = '┬'
    const text = String(columns[i].cycle)
    const start = Math.min(col, plotWidth + 2 - text.length)
    if (start <= lastEnd) continue // would touch the previous caption
    for (let k = 0; k < text.length; k++) captions[start + k] = text[k]
    lastEnd = start + text.length
  }
  lines.push(`${labels[2].padStart(labelWidth)} └${axis.join('')}`)
  lines.push(`${' '.repeat(labelWidth + 2)}${captions.join('').trimEnd()}  cycle`)
  return lines
}

/**
 * One retainer chain as lines: the GC root first, then for each link the edge that the holder
 * above uses (its property, variable or internal field) and the object it leads to, down to the
 * module. A step's `edge` is how *that* step's node holds the next one.
 */
function chainLines(chain) {
  return chain.map((step, i) => (i === 0 ? step.node : `└─ ${chain[i - 1].edge || '?'} → ${step.node}`))
}

/** Two lines: which module and how many generations survived, then who holds them. */
/** The growth verdict in one sentence, the per-cycle figure and the total along the same line. */
function growthLine(result) {
  const g = result.growth
  const window = `cycles ${g.fromCycle}–${g.toCycle}, after ${result.warmup} warm-up cycle(s)`
  const trend = `${signed(g.perCycle)} per cycle (${signed(g.total)} over ${window})`
  return g.growing
    ? `Trend: ${trend}, far above the noise (±${formatBytes(g.noise)}): memory GROWS with every reload.`
    : `Trend: ${trend}, noise ±${formatBytes(g.noise)}: no growth.`
}

/** How a growing group reads: its holder first, then what it keeps, per reload. */
function groupHeadline(g, cwd) {
  const holder = relativize(g.holder ?? g.summary, cwd)
  const size = `${formatBytes(g.perCycle)} per reload`
  const count = g.objectLeak ? `, ${g.rootsPerCycle} new structure(s) of ${Math.round(g.objectsPerCycle)} object(s) per reload` : ''
  const retained = g.retained ? ` (retains ${relativize(g.retained, cwd)})` : ''
  return `${holder}: ${size}${count}${retained}`
}

/** The growing groups as lines: holder, size per reload, then the fix. */
function growingLines(result, cwd, width) {
  const out = []
  if (result.growing.length === 0) return out
  const [first, second, last] = result.snapshots
  out.push(...wrap(`What grows (objects allocated in cycles ${first + 1}–${second} still alive after cycle ${last}), biggest first:`, width))
  result.growing.forEach((g, i) => {
    out.push(...wrap(`${i + 1}. ${groupHeadline(g, cwd)}`, width, '  ', '       '))
    out.push(...wrap(`Fix: ${g.fix}`, width, '     ', '       '))
  })
  return out
}

/** A count that grows, in one sentence: what, how fast, where it is added. */
function countHeadline(c, cwd) {
  const rate = c.perCycle === undefined ? `${c.last ?? 'too many'} at once` : `+${c.perCycle} per reload (${c.first} → ${c.last})`
  const where = c.addedBy ? `, added at ${relativize(c.addedBy, cwd)}${c.package ? ` (through ${c.package})` : ''}` : ''
  return `${c.resource}: ${rate}${where}`
}

/** The counts that grow, and a package that refused the second load. */
function countLines(result, cwd, width) {
  const out = []
  if (result.refused) {
    const r = result.refused
    out.push(...wrap(`REFUSED: ${r.package} threw when the entry was loaded again (cycle ${r.cycle}): ${r.message}`, width, '', '  '))
    out.push(...wrap(`${r.registry} still holds what the previous load registered${r.addedBy ? ` at ${relativize(r.addedBy, cwd)}` : ''}.`, width, '  ', '  '))
    out.push(...wrap(`Fix: ${r.fix}`, width, '  ', '    '))
    out.push('')
  }
  const counts = result.counts?.growing ?? []
  if (counts.length > 0) {
    out.push('What grows in number with every reload (a leak whatever its size):')
    counts.forEach((c, i) => {
      out.push(...wrap(`${i + 1}. ${countHeadline(c, cwd)}`, width, '  ', '       '))
      out.push(...wrap(`Fix: ${c.fix}`, width, '     ', '       '))
    })
    out.push('')
  }
  return out
}

function survivorHeadline(s, cwd) {
  const who = s.heldBy === 'node' ? "held by Node itself, not by your code" : 'held by the program'
  return [`${displayPath(s.id, cwd)}: ${s.alive} of ${s.of} old generations alive`, `(${who})`]
}

/**
 * The whole report as text (no colours: it goes to terminals and CI logs alike).
 * @param {object} result what doctor() returned
 * @param {{ cwd?: string, width?: number }} [options]
 */
function formatText(result, { cwd, width = 80 } = {}) {
  const out = []
  const entry = displayPath(result.entry, cwd)
  out.push(`uncache-tree doctor: ${entry}`)
  out.push(`Node ${result.node} (${result.platform}), ${result.cycles} unload/reload cycles, ${result.modules.perCycle} module(s) per cycle`)
  out.push('')
  const g = result.growth
  out.push('Heap after a forced GC (heapUsed + arrayBuffers); · the fitted trend')
  out.push(...terminalChart(result.samples, { width, trend: { fromCycle: g.fromCycle, intercept: g.intercept, slope: g.perCycle } }))
  out.push(...wrap(growthLine(result), width))
  out.push('')
  out.push(...countLines(result, cwd, width))
  const grows = growingLines(result, cwd, width)
  if (grows.length > 0) out.push(...grows, '')

  const program = result.survivors.filter((s) => s.heldBy === 'program')
  const node = result.survivors.filter((s) => s.heldBy === 'node')
  if (result.survivors.length === 0) {
    out.push(`Collected: all ${result.modules.unloaded} unloaded module generations were garbage collected.`)
  } else {
    out.push(`Survivors: ${result.modules.alive} of ${result.modules.unloaded} unloaded module generations are still alive.`)
  }
  // Survivors that share a cause: the first is shown with its chain, the others only named.
  const sharedWith = new Map()
  for (const group of result.survivorGroups ?? []) {
    if (group.ids.length > 1) for (const id of group.ids.slice(1)) sharedWith.set(id, group)
  }
  for (const s of result.survivors) {
    if (sharedWith.has(s.id)) continue
    out.push('')
    const [what, who] = survivorHeadline(s, cwd)
    const group = (result.survivorGroups ?? []).find((gr) => gr.ids[0] === s.id && gr.ids.length > 1)
    if (group !== undefined) {
      const others = group.ids.slice(1).map((id) => displayPath(id, cwd))
      out.push(`  ✗ ${group.ids.length} modules held through one chain (${group.generations} generations):`)
      out.push(...wrap(`${what}, and ${others.length} more of the same tree: ${others.slice(0, 6).join(', ')}${others.length > 6 ? ', …' : ''}`, width, '    ', '      '))
      out.push(`    ${who}`)
    } else out.push(`  ${s.heldBy === 'node' ? '•' : '✗'} ${what}`, `    ${who}`)
    for (const pin of s.nodePins) out.push(...wrap(`${pin.generations} held by ${pin.why}`, width, '    '))
    if (s.chains.length === 0 && s.heldBy === 'program') out.push('    (no retainer chain: see the notes below)')
    const shown = s.chains.slice(0, MAX_CHAINS_SHOWN).map((chain) => chainLines(chain.path).map((l) => relativize(l, cwd)))
    shown.forEach((lines, k) => {
      const count = s.chains[k].generations === 1 ? '1 generation' : `${s.chains[k].generations} generations`
      if (k === 0) {
        out.push(`    chain 1 (${count}), from a GC root to the module:`)
        for (const line of lines) out.push(...wrap(line, width, '      ', '          '))
        return
      }
      // Later chains mostly repeat the first one (another position in the same timer list or
      // array); print only where they differ.
      const first = shown[0]
      let prefix = 0
      while (prefix < Math.min(lines.length, first.length) - 1 && lines[prefix] === first[prefix]) prefix++
      let suffix = 0
      while (suffix < Math.min(lines.length, first.length) - prefix && lines[lines.length - 1 - suffix] === first[first.length - 1 - suffix]) suffix++
      const nodeOf = (line) => line.replace(/^└─ .*? → /, '')
      const middle = lines.slice(prefix, lines.length - suffix)
      if (middle.length === 0) {
        // Chain 1 with links left out (a generation nearer the head of the same list).
        const missing = first.slice(prefix, first.length - suffix)
        out.push(...wrap(`chain ${k + 1} (${count}): like chain 1 without the link(s)`, width, '    ', '      '))
        for (const line of missing) out.push(...wrap(line, width, '      ', '          '))
        return
      }
      const head = prefix > 0 ? `like chain 1 down to ${nodeOf(lines[prefix - 1])}, then` : 'from a GC root:'
      out.push(...wrap(`chain ${k + 1} (${count}): ${head}`, width, '    ', '      '))
      for (const line of middle) out.push(...wrap(line, width, '      ', '          '))
      if (suffix > 0) out.push(...wrap(`and like chain 1 from ${nodeOf(lines[lines.length - suffix])} on`, width, '      ', '        '))
    })
    if (s.chains.length > MAX_CHAINS_SHOWN) {
      const rest = s.chains.slice(MAX_CHAINS_SHOWN).reduce((n, c) => n + c.generations, 0)
      out.push(`    … ${s.chains.length - MAX_CHAINS_SHOWN} more chain(s) for ${rest} generation(s): --json lists them all`)
    }
  }
  if (result.warnings.length > 0) {
    out.push('')
    out.push('Warnings Node emitted during the run:')
    for (const w of result.warnings) out.push(...wrap(`${w.message}${w.count > 1 ? ` (×${w.count})` : ''}`, width, '  - ', '    '))
  }
  if (result.disposeErrors.length > 0) {
    out.push('')
    out.push(`Dispose handlers threw ${result.disposeErrors.length} time(s); unloading went on. First: cycle ${result.disposeErrors[0].cycle}: ${result.disposeErrors[0].message}`)
  }
  for (const note of result.notes) {
    out.push('')
    out.push(...wrap(`Note: ${note}`, width, '', '  '))
  }
  out.push('')
  if (program.length > 0) {
    out.push(
      ...wrap(
        `LEAK: ${program.length} module(s) kept old generations alive${g.growing ? ', and memory grows by ' + formatBytes(g.perCycle) + ' per reload' : ''}. ` +
          'Free the references shown above in a ' +
          'hot(module).dispose() handler (clear timers, remove listeners, take the module out of global registries).',
        width,
      ),
    )
  } else if (g.growing) {
    out.push(
      ...wrap(
        `LEAK: memory grows by ${formatBytes(g.perCycle)} per reload although every old module generation was collected. ` +
          (result.growing.length > 0 ? 'Apply the fix shown under "What grows".' : 'See the notes above.'),
        width,
      ),
    )
  } else if (result.refused) {
    out.push(...wrap(`LEAK: ${result.refused.package} refused to load the entry again: ${result.refused.registry} keeps the previous load. Apply the fix under REFUSED.`, width))
  } else if ((result.counts?.growing ?? []).length > 0) {
    const c = result.counts.growing[0]
    out.push(...wrap(`LEAK: ${c.resource} grow${c.perCycle === undefined ? '' : ` by ${c.perCycle} per reload`}, whatever the bytes. Apply the fix shown under "What grows in number".`, width))
  } else if (result.leaked) {
    out.push(...wrap(`LEAK: a new structure per reload stays alive, whatever its size. Apply the fix shown under "What grows".`, width))
  } else if (node.length > 0) {
    out.push(...wrap('OK: no growth, and nothing your code holds survived; the survivors above are held by Node itself and do not grow.', width))
  } else {
    out.push('OK: no growth, and every unloaded generation was collected.')
  }
  return out.join('\n') + '\n'
}

/** Word-wraps `text` to `width`, with `first` before the first line and `rest` before the others. */
function wrap(text, width, first = '', rest = first) {
  const lines = []
  let line = first
  let empty = true
  for (const word of text.split(/ +/)) {
    if (!empty && line.length + 1 + word.length > width) {
      lines.push(line)
      line = rest + word
    } else {
      line += (empty ? '' : ' ') + word
    }
    empty = false
  }
  lines.push(line)
  return lines
}

const escapeHtml = (text) =>
  String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c])

/** An SVG line chart of heapUsed + arrayBuffers, heapUsed and arrayBuffers per cycle, in MB. */
function svgChart(samples, { width = 880, height = 380, trend } = {}) {
  const margin = { top: 36, right: 24, bottom: 52, left: 70 }
  const plotW = width - margin.left - margin.right
  const plotH = height - margin.top - margin.bottom
  const maxCycle = Math.max(1, samples[samples.length - 1].cycle)
  const maxMb = Math.max(...samples.map(totalOf)) / MB
  const yStep = tickStep(Math.max(maxMb, 0.1), 5)
  const yTop = Math.max(yStep, Math.ceil(maxMb / yStep) * yStep)
  const x = (cycle) => margin.left + (cycle / maxCycle) * plotW
  const y = (mb) => margin.top + plotH - (mb / yTop) * plotH
  const fmt = (n) => (Math.round(n * 100) / 100).toString()
  const parts = []
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="Heap after forced GC per reload cycle">`,
  )
  parts.push(`<rect x="0" y="0" width="${width}" height="${height}" fill="#fff"/>`)
  for (let v = 0; v <= yTop + yStep / 1000; v += yStep) {
    const yy = fmt(y(v))
    parts.push(`<line x1="${margin.left}" y1="${yy}" x2="${margin.left + plotW}" y2="${yy}" stroke="#e3e3e3"/>`)
    parts.push(`<text x="${margin.left - 8}" y="${yy}" text-anchor="end" dominant-baseline="middle" font-size="12" fill="#444">${fmt(v)}</text>`)
  }
  const xStep = tickStep(maxCycle, 8, true)
  for (let c = 0; c <= maxCycle; c += xStep) {
    const xx = fmt(x(c))
    parts.push(`<line x1="${xx}" y1="${margin.top + plotH}" x2="${xx}" y2="${margin.top + plotH + 5}" stroke="#444"/>`)
    parts.push(`<text x="${xx}" y="${margin.top + plotH + 20}" text-anchor="middle" font-size="12" fill="#444">${c}</text>`)
  }
  parts.push(`<line x1="${margin.left}" y1="${margin.top}" x2="${margin.left}" y2="${margin.top + plotH}" stroke="#444"/>`)
  parts.push(`<line x1="${margin.left}" y1="${margin.top + plotH}" x2="${margin.left + plotW}" y2="${margin.top + plotH}" stroke="#444"/>`)
  parts.push(`<text x="${margin.left + plotW / 2}" y="${height - 10}" text-anchor="middle" font-size="13" fill="#222">reload cycle</text>`)
  parts.push(`<text transform="translate(18 ${margin.top + plotH / 2}) rotate(-90)" text-anchor="middle" font-size="13" fill="#222">MB after forced GC</text>`)
  const series = [
    { name: 'heapUsed + arrayBuffers', color: '#c0392b', width: 2.5, dash: '', value: totalOf },
    { name: 'heapUsed', color: '#2c6fbb', width: 1.5, dash: '', value: (s) => s.heapUsed },
    { name: 'arrayBuffers', color: '#7f8c8d', width: 1.5, dash: '5 4', value: (s) => s.arrayBuffers },
  ]
  // Drawn back to front: the total last, so it stays visible where heapUsed lies on top of it.
  for (const s of [...series].reverse()) {
    const points = samples.map((p) => `${fmt(x(p.cycle))},${fmt(y(s.value(p) / MB))}`).join(' ')
    parts.push(`<polyline fill="none" stroke="${s.color}" stroke-width="${s.width}"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''} points="${points}"/>`)
  }
  if (trend !== undefined && maxCycle > trend.fromCycle) {
    const at = (c) => Math.max(0, (trend.intercept + trend.slope * c) / MB)
    parts.push(
      `<line class="trend" x1="${fmt(x(trend.fromCycle))}" y1="${fmt(y(Math.min(yTop, at(trend.fromCycle))))}" x2="${fmt(x(maxCycle))}" y2="${fmt(y(Math.min(yTop, at(maxCycle))))}" stroke="#000" stroke-width="1.5" stroke-dasharray="2 4"><title>trend after warm-up: ${escapeHtml(signed(trend.slope))} per cycle</title></line>`,
    )
  }
  if (samples.length <= 80) {
    for (const p of samples) {
      parts.push(`<circle cx="${fmt(x(p.cycle))}" cy="${fmt(y(totalOf(p) / MB))}" r="3" fill="${series[0].color}"><title>cycle ${p.cycle}: ${escapeHtml(formatBytes(totalOf(p)))}</title></circle>`)
    }
  }
  series.forEach((s, i) => {
    const lx = margin.left + 10 + i * 210
    parts.push(`<line x1="${lx}" y1="16" x2="${lx + 24}" y2="16" stroke="${s.color}" stroke-width="${s.width}"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`)
    parts.push(`<text x="${lx + 30}" y="16" dominant-baseline="middle" font-size="12" fill="#222">${escapeHtml(s.name)}</text>`)
  })
  if (trend !== undefined) {
    const lx = margin.left + 10 + series.length * 210
    parts.push(`<line x1="${lx}" y1="16" x2="${lx + 24}" y2="16" stroke="#000" stroke-width="1.5" stroke-dasharray="2 4"/>`)
    parts.push(`<text x="${lx + 30}" y="16" dominant-baseline="middle" font-size="12" fill="#222">trend</text>`)
  }
  parts.push('</svg>')
  return parts.join('\n')
}

/**
 * A self-contained page (inline CSS and SVG, no scripts, no external assets).
 * @param {object} result what doctor() returned
 * @param {{ cwd?: string }} [options]
 */
// A chain longer than this shows its first and last links; the middle opens on demand.
const CHAIN_HEAD = 4
const CHAIN_TAIL = 4

/** A retainer chain as a collapsed list: one click opens it, long middles fold again. */
function chainHtml(chain, { caption, firstNew = Infinity, cwd }) {
  const item = (step, i) =>
    `<li${i >= firstNew ? ' class="new"' : ''}>${i > 0 ? `<span class="edge">${escapeHtml(chain[i - 1].edge || '?')}</span> → ` : ''}<span class="node">${escapeHtml(relativize(step.node, cwd))}</span></li>`
  let items
  if (chain.length <= CHAIN_HEAD + CHAIN_TAIL + 2) items = chain.map(item).join('')
  else {
    const middle = chain.slice(CHAIN_HEAD, chain.length - CHAIN_TAIL).map((step, k) => item(step, k + CHAIN_HEAD)).join('')
    items =
      chain.slice(0, CHAIN_HEAD).map(item).join('') +
      `<li class="more"><details><summary>… ${chain.length - CHAIN_HEAD - CHAIN_TAIL} more links</summary><ol class="chain">${middle}</ol></details></li>` +
      chain.slice(chain.length - CHAIN_TAIL).map((step, k) => item(step, k + chain.length - CHAIN_TAIL)).join('')
  }
  return `<details class="chain-box"><summary>${escapeHtml(caption)} (${chain.length} links)</summary><ol class="chain">${items}</ol></details>`
}

function formatHtml(result, { cwd } = {}) {
  const entry = displayPath(result.entry, cwd)
  const g = result.growth
  const program = result.survivors.filter((s) => s.heldBy === 'program')
  const counts = result.counts?.growing ?? []
  const verdict =
    program.length > 0
      ? `<p class="verdict leak">Leak: ${program.length} module(s) kept old generations alive.</p>`
      : g.growing
        ? `<p class="verdict leak">Leak: memory grows by ${escapeHtml(formatBytes(g.perCycle))} per reload.</p>`
      : result.refused
        ? `<p class="verdict leak">Leak: ${escapeHtml(result.refused.package)} refused to load the entry again.</p>`
      : counts.length > 0
        ? `<p class="verdict leak">Leak: ${escapeHtml(counts[0].resource)} grow with every reload.</p>`
      : result.leaked
        ? '<p class="verdict leak">Leak: a new structure per reload stays alive.</p>'
      : result.survivors.length > 0
        ? '<p class="verdict ok">OK: no growth, and nothing your code holds survived; the survivors below are held by Node itself and do not grow.</p>'
        : '<p class="verdict ok">OK: no growth, and every unloaded generation was collected.</p>'
  // Survivors that share a cause are one section; the others of the group are only named.
  const sharedWith = new Set()
  for (const group of result.survivorGroups ?? []) if (group.ids.length > 1) for (const id of group.ids.slice(1)) sharedWith.add(id)
  const survivors = result.survivors
    .filter((s) => !sharedWith.has(s.id))
    .map((s) => {
      const pins = s.nodePins.map((p) => `<p class="pin">${p.generations} held by ${escapeHtml(p.why)}</p>`).join('')
      const group = (result.survivorGroups ?? []).find((gr) => gr.ids[0] === s.id && gr.ids.length > 1)
      const others = group === undefined ? '' : `<p>${group.ids.length} modules held through one chain (${group.generations} generations): ${group.ids.map((id) => `<code>${escapeHtml(displayPath(id, cwd))}</code>`).join(', ')}</p>`
      const chains = s.chains
        .map((c) => chainHtml(c.path, { caption: `${c.generations} generation(s), from a GC root to the module`, cwd }))
        .join('')
      return `<section class="survivor ${s.heldBy}"><h3>${escapeHtml(displayPath(s.id, cwd))}</h3><p>${s.alive} of ${s.of} old generations alive — ${
        s.heldBy === 'node' ? 'held by Node itself, not by your code' : 'held by the program'
      }</p>${others}${pins}${chains}</section>`
    })
    .join('\n')
  const refusedHtml = result.refused
    ? `<h2>Refused</h2><p><b>${escapeHtml(result.refused.package)}</b> threw when the entry was loaded again (cycle ${result.refused.cycle}): <code>${escapeHtml(result.refused.message)}</code></p><p>${escapeHtml(result.refused.registry)} still holds what the previous load registered${result.refused.addedBy ? ` at <code>${escapeHtml(relativize(result.refused.addedBy, cwd))}</code>` : ''}.</p><p class="fix">Fix: ${escapeHtml(result.refused.fix)}</p>`
    : ''
  const countsHtml =
    counts.length === 0
      ? ''
      : `<h2>What grows in number</h2><ol class="growing">${counts.map((c) => `<li><b>${escapeHtml(countHeadline(c, cwd))}</b><p class="fix">Fix: ${escapeHtml(c.fix)}</p></li>`).join('')}</ol>`
  const growingHtml =
    result.growing.length === 0
      ? ''
      : `<h2>What grows</h2><ol class="growing">${result.growing
          .map(
            (group) =>
              `<li><b>${escapeHtml(groupHeadline(group, cwd))}</b><p class="fix">Fix: ${escapeHtml(group.fix)}</p>${chainHtml(group.path, { caption: 'the whole chain, from a GC root', firstNew: group.firstNew, cwd })}</li>`,
          )
          .join('')}</ol>`
  const list = (title, items) => (items.length === 0 ? '' : `<h2>${title}</h2><ul>${items.map((i) => `<li>${escapeHtml(i)}</li>`).join('')}</ul>`)
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>uncache-tree doctor: ${escapeHtml(entry)}</title>
<style>
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #222; margin: 24px auto; max-width: 900px; padding: 0 12px; }
h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 17px; margin-top: 28px; } h3 { font: 600 14px ui-monospace, monospace; margin: 0 0 4px; }
.meta { color: #555; margin: 0 0 12px; } .growth { margin: 4px 0 0; }
.verdict { padding: 8px 12px; border-radius: 4px; font-weight: 600; }
.verdict.ok { background: #e6f4ea; color: #1e6b34; } .verdict.leak { background: #fdecea; color: #a1261b; }
.survivor { border-left: 4px solid #c0392b; padding: 4px 12px; margin: 12px 0; } .survivor.node { border-color: #7f8c8d; }
.chain { font: 13px ui-monospace, monospace; margin: 4px 0; padding-left: 28px; } .edge { color: #2c6fbb; }
.growing > li { margin: 8px 0; } .fix { margin: 2px 0; color: #1e6b34; } .chain li.new .node { color: #a1261b; font-weight: 600; }
figure { margin: 8px 0; } figcaption { color: #555; font-size: 13px; } .pin { color: #555; }
code, .chain, h3, b { overflow-wrap: anywhere; } svg { max-width: 100%; height: auto; }
details > summary { cursor: pointer; color: #555; font-size: 13px; } .chain li.more { list-style: none; color: #555; }
@media (max-width: 600px) { body { margin: 12px auto; font-size: 14px; } .chain { padding-left: 18px; font-size: 12px; } }
</style>
</head>
<body>
<h1>uncache-tree doctor: ${escapeHtml(entry)}</h1>
<p class="meta">Node ${escapeHtml(result.node)} (${escapeHtml(result.platform)}) · ${result.cycles} unload/reload cycles · ${result.modules.perCycle} module(s) per cycle</p>
${verdict}
${svgChart(result.samples, { trend: { fromCycle: g.fromCycle, intercept: g.intercept, slope: g.perCycle } })}
<p class="growth">${escapeHtml(growthLine(result))}</p>
${refusedHtml}
${countsHtml}
${growingHtml}
<h2>${result.survivors.length === 0 ? 'No survivors' : `Survivors: ${result.modules.alive} of ${result.modules.unloaded} unloaded module generations`}</h2>
${survivors}
${list('Warnings Node emitted during the run', result.warnings.map((w) => `${w.message}${w.count > 1 ? ` (×${w.count})` : ''}`))}
${list('Dispose handlers that threw', result.disposeErrors.map((e) => `cycle ${e.cycle}: ${e.message}`))}
${list('Notes', result.notes)}
</body>
</html>
`
}

module.exports = { formatText, formatHtml, terminalChart, svgChart, formatBytes, chainLines, displayPath, growthLine }
