/** Nearest-rank percentile (p in 0..100) of unsorted samples; NaN when empty. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = Float64Array.from(samples).sort();
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export function median(values: readonly number[]): number {
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return Number.NaN;
  const sorted = [...finite].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * The item whose value is the median (the lower middle one of an even count), so that every
 * figure reported for it comes from one and the same item. Items without a finite value are left
 * out; undefined when none has one.
 */
export function medianItem<T>(items: readonly T[], value: (item: T) => number): T | undefined {
  const scored = items.map((item) => ({ item, v: value(item) })).filter((x) => Number.isFinite(x.v));
  if (scored.length === 0) return undefined;
  scored.sort((a, b) => a.v - b.v);
  return scored[(scored.length - 1) >> 1]!.item;
}

export function fmt(v: number | undefined, digits = 1): string {
  return v === undefined || !Number.isFinite(v) ? '—' : v.toFixed(digits);
}

export function signed(v: number | undefined, digits = 1): string {
  return v === undefined || !Number.isFinite(v) ? '—' : `${v >= 0 ? '+' : ''}${v.toFixed(digits)}`;
}

/** Left-aligns the first column, right-aligns the others. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), ...rows.map(line)].join('\n');
}

/**
 * How a reference process does on a latency row, per round and as the median, and whether that is
 * within the row's line: `+0.38 ms (per round: +0.38, +1.02), within the line`. Under a verdict it
 * says whether the line is within reach of a Node server that only forwards bytes on this machine.
 */
export function againstLine(perRound: readonly number[], limit: number): string {
  const d = median(perRound);
  return (
    `${signed(d, 2)} ms (per round: ${perRound.map((v) => signed(v, 2)).join(', ')}), ` +
    `${d <= limit ? 'within' : 'OVER'} the line`
  );
}
