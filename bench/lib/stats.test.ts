import { describe, expect, it } from 'vitest';
import { medianItem } from './stats.js';

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
