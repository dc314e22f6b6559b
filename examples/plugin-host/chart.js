'use strict'
// A line chart for the terminal, no library: series of (x, y) points drawn on a character grid
// with a labelled y axis, x ticks and a legend, sized to fit 80 columns.

/** A round step (1, 2, 2.5 or 5 times a power of ten) at least `raw`. */
function niceStep(raw) {
  if (!(raw > 0)) return 1
  const power = 10 ** Math.floor(Math.log10(raw))
  for (const factor of [1, 2, 2.5, 5, 10]) if (factor * power >= raw) return factor * power
  return 10 * power
}

/** y of the polyline through `points` (sorted by x) at `x`, linear between points. */
function valueAt(points, x) {
  if (x <= points[0].x) return points[0].y
  for (let i = 1; i < points.length; i++) {
    const a = points[i - 1]
    const b = points[i]
    if (x <= b.x) return b.x === a.x ? b.y : a.y + ((b.y - a.y) * (x - a.x)) / (b.x - a.x)
  }
  return points[points.length - 1].y
}

const formatTick = (value) => (Number.isInteger(value) ? String(value) : value.toFixed(1))

/**
 * @param {{ label: string, marker: string, points: { x: number, y: number }[] }[]} series
 *   drawn in order: a later series is drawn over an earlier one where they meet
 * @param {{ width?: number, height?: number, yUnit?: string, xLabel?: string, title?: string }} [options]
 * @returns {string}
 */
function lineChart(series, options = {}) {
  const { width = 60, height = 17, yUnit = '', xLabel = '', title = '' } = options
  const all = series.flatMap((s) => s.points)
  const xMin = Math.min(...all.map((p) => p.x))
  const xMax = Math.max(...all.map((p) => p.x))
  const yTicks = 4
  const step = niceStep(Math.max(...all.map((p) => p.y), 0) / yTicks)
  const yMax = step * yTicks
  const rows = height // grid rows 0 (bottom) .. rows - 1 (top)
  const grid = Array.from({ length: rows }, () => Array(width).fill(' '))
  const rowOf = (y) => Math.max(0, Math.min(rows - 1, Math.round((y / yMax) * (rows - 1))))

  for (const s of series) {
    let previous
    for (let col = 0; col < width; col++) {
      const x = xMin + ((xMax - xMin) * col) / (width - 1)
      const row = rowOf(valueAt(s.points, x))
      // Also fill the rows between the last column's point and this one, so that steep parts
      // stay one connected line.
      let low = row
      let high = row
      if (previous !== undefined && previous < row) low = previous + 1
      if (previous !== undefined && previous > row) high = previous - 1
      for (let r = low; r <= high; r++) grid[r][col] = s.marker
      previous = row
    }
  }

  const labels = new Map()
  for (let t = 0; t <= yTicks; t++) labels.set(rowOf(step * t), `${formatTick(step * t)} ${yUnit}`.trim())
  const labelWidth = Math.max(...[...labels.values()].map((l) => l.length))
  const lines = []
  if (title) lines.push(title)
  for (let r = rows - 1; r >= 0; r--) {
    const label = labels.has(r) ? labels.get(r).padStart(labelWidth) : ' '.repeat(labelWidth)
    lines.push(`${label} ${labels.has(r) ? '┤' : '│'}${grid[r].join('')}`)
  }
  lines.push(`${' '.repeat(labelWidth)} └${'─'.repeat(width)}`)
  // x ticks at 0, 1/4, 1/2, 3/4 and the end of the range, each centred under its column.
  const ticks = Array(width + 2).fill(' ')
  for (let t = 0; t <= 4; t++) {
    const col = Math.round(((width - 1) * t) / 4)
    const text = String(Math.round(xMin + ((xMax - xMin) * t) / 4))
    const start = Math.max(0, Math.min(width + 2 - text.length, col + 1 - Math.floor(text.length / 2)))
    for (let i = 0; i < text.length; i++) ticks[start + i] = text[i]
  }
  lines.push(`${' '.repeat(labelWidth + 1)}${ticks.join('').trimEnd()}`)
  if (xLabel) lines.push(`${' '.repeat(labelWidth + 2)}${xLabel.padStart(Math.floor((width + xLabel.length) / 2))}`)
  lines.push(`${' '.repeat(labelWidth + 2)}${series.map((s) => `${s.marker} ${s.label}`).join('    ')}`)
  return lines.join('\n')
}

module.exports = { lineChart, niceStep, valueAt }
