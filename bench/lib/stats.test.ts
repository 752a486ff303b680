import { describe, expect, it } from 'vitest';
import { againstLine, medianItem } from './stats.js';

describe('medianItem', () => {
  const cpu: Record<string, number> = { a: 0.86, b: 0.82, c: 0.89, d: Number.NaN };
  it('picks the item with the median value, so all its figures come from one item', () => {
    expect(medianItem(['a', 'b', 'c'], (n) => cpu[n]!)).toBe('a');
  });
  it('takes the lower middle of an even count and leaves out items without a value', () => {
    expect(medianItem(['a', 'b', 'd', 'e'], (n) => cpu[n] ?? Number.NaN)).toBe('b');
    expect(medianItem(['c', 'a'], (n) => cpu[n]!)).toBe('a');
  });
  it('is undefined when no item has a value', () => {
    expect(medianItem(['d'], (n) => cpu[n]!)).toBeUndefined();
    expect(medianItem([], () => 1)).toBeUndefined();
  });
});

describe('againstLine', () => {
  it('judges the median of the rounds against the line and lists every round', () => {
    expect(againstLine([0.38, 1.02, 0.5], 1)).toBe(
      '+0.50 ms (per round: +0.38, +1.02, +0.50), within the line',
    );
    expect(againstLine([7.48, -0.5, 9], 3)).toBe('+7.48 ms (per round: +7.48, -0.50, +9.00), OVER the line');
  });

  it('counts a median exactly on the line as within it, and a round without data as missing', () => {
    expect(againstLine([3, Number.NaN], 3)).toBe('+3.00 ms (per round: +3.00, —), within the line');
  });
});
