import { describe, expect, it } from 'vitest';
import {
  DEFAULT_WARM_UP,
  describeWarmUp,
  hasSettled,
  ONE_WINDOW,
  WARM_WINDOW_MS,
  warmTarget,
  warmUntilSteady,
} from './warm-up.js';

/** Feeds warmUntilSteady a scripted series of CPU µs per request, one per window. */
function scripted(costs: number[]) {
  let i = 0;
  return async () => {
    const c = costs[Math.min(i++, costs.length - 1)]!;
    return { cpuMs: c / 1000, units: 1 };
  };
}

describe('warming a target until its CPU per request settles', () => {
  it('keeps going while the cost falls, and stops once two groups of windows agree', async () => {
    // Shenma's first 16 s at c=16, as measured: compile time falling away, then noise.
    const r = await warmUntilSteady(
      scripted([4181, 3237, 3346, 2539, 1925, 2083, 1594, 1855, 1852, 1364, 2105]),
    );
    expect(r.settled).toBe(true);
    // Windows 4–6 (median 2,083) are far below 1–3 (3,346); 7–9 (1,852) are 11 % below 4–6; 8–10
    // (1,852) against 5–7 (1,925) is within 5 %.
    expect(r.windows).toBe(10);
  });

  it('stops at the cap when the cost never stops falling, and says so', async () => {
    const falling = Array.from({ length: 30 }, (_, i) => 5000 * 0.9 ** i);
    const r = await warmUntilSteady(scripted(falling));
    expect(r).toMatchObject({ windows: DEFAULT_WARM_UP.maxWindows, settled: false });
    expect(describeWarmUp('shenma', r, 'request')).toBe(
      'shenma still falling after 20 windows: 5,000 → 675 CPU µs/request',
    );
  });

  it('does not settle on windows without work or without a process to read', async () => {
    expect(hasSettled([100, 100, 100, Number.NaN, 100, 100], DEFAULT_WARM_UP)).toBe(false);
    expect(hasSettled([100, 100, 100, 100, 100], DEFAULT_WARM_UP)).toBe(false);
    expect(hasSettled([100, 100, 100, 100, 100, 100], DEFAULT_WARM_UP)).toBe(true);
    const r = await warmUntilSteady(async () => undefined, ONE_WINDOW);
    expect(r).toMatchObject({ windows: 1, settled: undefined });
    expect(describeWarmUp('direct', r, 'request')).toBe('direct warmed after 1 window');
  });

  it('a cost that rises again counts as settled: more load will not make it cheaper', () => {
    expect(hasSettled([900, 1000, 950, 1400, 1300, 1500], DEFAULT_WARM_UP)).toBe(true);
  });
});

describe('warming a benchmark target', () => {
  const flat = (asked: number[]) => async (ms: number) => {
    asked.push(ms);
    return { cpuMs: 1, units: 1 };
  };

  it('runs full windows until settled for a target with a process, and says so', async () => {
    const asked: number[] = [];
    const line = await warmTarget(
      { name: 'shenma', pid: 1 },
      { quick: false, quickWindowMs: 600, unit: 'request' },
      flat(asked),
    );
    expect(asked).toEqual(Array(DEFAULT_WARM_UP.minWindows).fill(WARM_WINDOW_MS));
    expect(line).toBe('shenma settled after 6 windows: 1,000 → 1,000 CPU µs/request');
  });

  it('runs one window, with no line, for a target without a process; one short window under --quick', async () => {
    const direct: number[] = [];
    expect(
      await warmTarget(
        { name: 'direct' },
        { quick: false, quickWindowMs: 600, unit: 'request' },
        flat(direct),
      ),
    ).toBeUndefined();
    expect(direct).toEqual([WARM_WINDOW_MS]);
    const quick: number[] = [];
    const line = await warmTarget(
      { name: 'shenma', pid: 1 },
      { quick: true, quickWindowMs: 800, unit: 'chunk' },
      flat(quick),
    );
    expect(quick).toEqual([800]);
    expect(line).toBe('shenma warmed after 1 window: 1,000 → 1,000 CPU µs/chunk');
  });
});
