/** Small statistics and formatting helpers for the bench report. */

export function median(values) {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function min(values) {
  return Math.min(...values.filter((v) => Number.isFinite(v)));
}

export function max(values) {
  return Math.max(...values.filter((v) => Number.isFinite(v)));
}

/** Element-wise a[i] / b[i]: ratios of two cases measured in the same round. */
export function pairedRatios(a, b) {
  return a.map((value, i) => value / b[i]);
}

/** Element-wise a[i] - b[i]. */
export function pairedDifferences(a, b) {
  return a.map((value, i) => value - b[i]);
}

/** "0.93 (0.90–0.95)": median and the range over rounds. */
export function ratioCell(values, digits = 2) {
  const m = median(values);
  if (!Number.isFinite(m)) return 'n/a';
  if (values.length < 2) return m.toFixed(digits);
  return `${m.toFixed(digits)} (${min(values).toFixed(digits)}–${max(values).toFixed(digits)})`;
}

/** Thousands separated, no decimals. */
export function int(value) {
  return Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : 'n/a';
}

export function fixed(value, digits = 1) {
  return Number.isFinite(value) ? value.toFixed(digits) : 'n/a';
}

export function table(headers, rows, align) {
  const lines = [`| ${headers.join(' | ')} |`, `| ${headers.map((_, i) => (align?.[i] === 'r' ? '---:' : '---')).join(' | ')} |`];
  for (const row of rows) lines.push(`| ${row.join(' | ')} |`);
  return lines.join('\n');
}
