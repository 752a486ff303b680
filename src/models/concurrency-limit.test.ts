import { describe, expect, it } from 'vitest';
import { ConcurrencyLimit, LATENCY_SLACK_MS, MAX_WINDOW, MIN_WINDOW } from './concurrency-limit.js';

/**
 * The limiter is fed scripted times to first token and in-flight counts, a window at a time:
 * no clock, no timers, so every decision below is exact.
 */

/** One full window: as many first tokens as close it, each `ms` long, with `inFlight` in flight. */
function window(limit: ConcurrencyLimit, ms: number, inFlight = limit.current): void {
  const events = Math.min(Math.max(inFlight, MIN_WINDOW), MAX_WINDOW);
  for (let i = 0; i < events; i++) limit.onFirstToken(ms, inFlight);
}

function adaptive(max: number, min = 1, initial?: number) {
  return new ConcurrencyLimit({ max, min, adaptive: true, initial });
}

describe('ConcurrencyLimit', () => {
  it('stays at max when not adaptive, whatever the latency or the answers', () => {
    const limit = new ConcurrencyLimit({ max: 8, min: 1, adaptive: false });
    window(limit, 100);
    window(limit, 5000);
    limit.onOverload(8);
    expect(limit.current).toBe(8);
  });

  it('starts at max and stays there while time to first token holds under full use', () => {
    const limit = adaptive(32);
    for (let i = 0; i < 10; i++) window(limit, 100 + (i % 3) * 20);
    expect(limit.current).toBe(32);
    expect(limit.baseline).toBe(100);
  });

  it('shrinks by the gradient when time to first token rises, halving at most, down to min', () => {
    const limit = adaptive(64, 2);
    window(limit, 100);
    // (2 × 100 + 50) / 400 = 0.625 of what was in use (64), after the baseline drifted 5 % up:
    // (2 × 115 + 50) / 400 = 0.7 → 44.8.
    window(limit, 400);
    expect(limit.current).toBe(44);
    const seen = [limit.current];
    for (let i = 0; i < 12; i++) {
      window(limit, 5000);
      seen.push(limit.current);
    }
    // Every window cuts, at most in half, until the floor.
    for (let i = 1; i < seen.length; i++) {
      expect(seen[i]).toBeLessThanOrEqual(seen[i - 1]!);
      expect(seen[i]).toBeGreaterThanOrEqual(Math.floor(seen[i - 1]! / 2));
    }
    expect(seen.at(-1)).toBe(2);
  });

  it('reads a rise within tolerance × baseline + slack as holding (event-loop jitter is no queue)', () => {
    const limit = adaptive(16);
    window(limit, 5);
    // 8× the baseline, yet only 35 ms more: under 2 × 5 + 50.
    window(limit, 5 + LATENCY_SLACK_MS - 10);
    window(limit, 5 + LATENCY_SLACK_MS - 10);
    expect(limit.current).toBe(16);
    window(limit, 400);
    expect(limit.current).toBeLessThan(16);
  });

  it('grows by √limit per window while latency holds and at least half the limit is used', () => {
    const limit = adaptive(64, 1, 4);
    window(limit, 100);
    expect(limit.current).toBe(6); // 4 + √4
    window(limit, 100);
    expect(limit.current).toBe(8); // 6 + √6 = 8.45
    for (let i = 0; i < 20; i++) window(limit, 100);
    expect(limit.current).toBe(64);
  });

  it('does not grow on windows that used less than half the limit', () => {
    const limit = adaptive(64, 1, 16);
    for (let i = 0; i < 10; i++) window(limit, 100, 7);
    expect(limit.current).toBe(16);
    window(limit, 100, 8);
    expect(limit.current).toBe(20);
  });

  it('cuts from twice the peak in flight, not from an unused limit far above it', () => {
    const limit = adaptive(256);
    window(limit, 100, 16);
    window(limit, 1000, 16);
    // (2 × 145 + 50) / 1000 → halved, of 2 × 16 in use: 16, where it bites at once.
    expect(limit.current).toBe(16);
  });

  it('halves what was in flight at once on an overload answer, once per window', () => {
    const limit = adaptive(64);
    window(limit, 100);
    limit.onOverload(40);
    expect(limit.current).toBe(20);
    // The other requests that were in flight when the replica filled up answer the same way.
    for (let i = 0; i < 5; i++) limit.onOverload(40);
    expect(limit.current).toBe(20);
    // The window is over (40 events): the next overload cuts again.
    for (let i = 0; i < 34; i++) limit.onFirstToken(100, 40);
    limit.onOverload(20);
    expect(limit.current).toBe(10);
  });

  it('grows back once the slow-down is over', () => {
    const limit = adaptive(32);
    window(limit, 100);
    for (let i = 0; i < 8; i++) window(limit, 2000);
    expect(limit.current).toBe(1);
    const low = limit.current;
    for (let i = 0; i < 3; i++) window(limit, 100);
    expect(limit.current).toBeGreaterThan(low);
    for (let i = 0; i < 20; i++) window(limit, 100);
    expect(limit.current).toBe(32);
  });

  it('accepts a lasting rise it cannot cure: the baseline drifts up and the limit grows again', () => {
    const limit = adaptive(32);
    window(limit, 100);
    for (let i = 0; i < 6; i++) window(limit, 1000);
    expect(limit.current).toBe(1);
    // Same 1000 ms at a limit of 1: not our load. After enough windows it counts as the norm.
    for (let i = 0; i < 60; i++) window(limit, 1000);
    expect(limit.baseline).toBeGreaterThan(400);
    expect(limit.current).toBeGreaterThan(8);
  });

  it('judges a window by its median: one slow answer is not a trend', () => {
    const limit = adaptive(16);
    window(limit, 100);
    for (let i = 0; i < 15; i++) limit.onFirstToken(100, 16);
    limit.onFirstToken(10_000, 16);
    expect(limit.current).toBe(16);
  });

  it('refuses bounds that cannot hold', () => {
    expect(() => new ConcurrencyLimit({ max: 2, min: 3, adaptive: true })).toThrow(RangeError);
    expect(() => new ConcurrencyLimit({ max: 2, min: 0, adaptive: true })).toThrow(RangeError);
  });
});
