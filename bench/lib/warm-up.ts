/**
 * Warming a target up until its JIT has settled, before anything is measured.
 *
 * A fixed 1.5 s warm-up measured V8 still compiling: under `perf record -e cpu-clock`, TurboFan
 * was 25 % of Shenma's CPU (14 % of the bare proxy's) in the first seconds of chat load and 3 %
 * (0.3 %) after 30 s, and Shenma's CPU per completion at c=16 fell from ~4.2 to ~1.9 ms over its
 * first ~10 s of load. A bigger program takes longer to settle, so a fixed warm-up charged
 * Shenma's compile time to its per-request cost more than the proxies'. Instead, each target runs
 * load in windows until its CPU per unit of work stops falling.
 */

export interface WarmWindow {
  /** CPU ms of the target's process tree during the window. */
  cpuMs: number;
  /** Units of work done in it (requests, or streamed chunks). */
  units: number;
}

export interface WarmUpOptions {
  /** At least this many windows (two groups of `group` are needed to see a trend). */
  minWindows: number;
  /** At most this many, settled or not. */
  maxWindows: number;
  /** Windows per group whose medians are compared. */
  group: number;
  /** Settled when the last group's median CPU per unit is at most this share below the one before. */
  tolerance: number;
}

export const DEFAULT_WARM_UP: WarmUpOptions = { minWindows: 6, maxWindows: 20, group: 3, tolerance: 0.05 };
/** For a target with no process of its own to read (direct to the fake), and for `--quick`. */
export const ONE_WINDOW: WarmUpOptions = { ...DEFAULT_WARM_UP, minWindows: 1, maxWindows: 1 };
/** Long enough to hold a few hundred requests at the benches' concurrency, short enough to see a trend. */
export const WARM_WINDOW_MS = 2000;

export interface WarmUpResult {
  windows: number;
  /** CPU µs per unit in each window, in order. */
  costs: number[];
  /** False when it stopped at `maxWindows` still falling; undefined when too few windows to tell. */
  settled: boolean | undefined;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/**
 * Runs `window` until the median cost of the last `group` windows is no more than `tolerance`
 * below the median of the `group` before them: the cost has stopped falling. Windows with no work
 * (or a target without a process to read) count, but cannot settle it early.
 */
export async function warmUntilSteady(
  window: () => Promise<WarmWindow | undefined>,
  opts: WarmUpOptions = DEFAULT_WARM_UP,
): Promise<WarmUpResult> {
  const costs: number[] = [];
  for (let i = 1; i <= opts.maxWindows; i++) {
    const w = await window();
    costs.push(w && w.units > 0 ? (w.cpuMs * 1000) / w.units : Number.NaN);
    if (i >= opts.minWindows && hasSettled(costs, opts)) return { windows: i, costs, settled: true };
  }
  return { windows: opts.maxWindows, costs, settled: costs.length >= 2 * opts.group ? false : undefined };
}

/** The settling rule on its own, for tests and for reading a finished warm-up. */
export function hasSettled(costs: number[], opts: Pick<WarmUpOptions, 'group' | 'tolerance'>): boolean {
  const { group, tolerance } = opts;
  if (costs.length < 2 * group) return false;
  const last = costs.slice(-group);
  const before = costs.slice(-2 * group, -group);
  if ([...last, ...before].some((c) => !Number.isFinite(c))) return false;
  return median(last) >= (1 - tolerance) * median(before);
}

/** "settled after 7 windows: 4,181 → 1,925 µs" for the progress line. */
export function describeWarmUp(name: string, r: WarmUpResult, unit: string): string {
  const finite = r.costs.filter(Number.isFinite);
  const trend =
    finite.length > 0
      ? `: ${Math.round(finite[0]!).toLocaleString('en')} → ${Math.round(finite.at(-1)!).toLocaleString('en')} CPU µs/${unit}`
      : '';
  const state = r.settled === undefined ? 'warmed' : r.settled ? 'settled' : 'still falling';
  return `${name} ${state} after ${r.windows} window${r.windows === 1 ? '' : 's'}${trend}`;
}

/**
 * A benchmark target's warm-up: windows of `windowMs` until settled, or one short window for a
 * target with no process to read (direct to the fake) and under `--quick`. Returns the progress
 * line for a target with a process.
 */
export async function warmTarget(
  target: { name: string; pid?: number | undefined },
  opts: { quick: boolean; quickWindowMs: number; unit: string },
  window: (windowMs: number) => Promise<WarmWindow | undefined>,
): Promise<string | undefined> {
  const steady = target.pid !== undefined && !opts.quick;
  const r = await warmUntilSteady(
    () => window(opts.quick ? opts.quickWindowMs : WARM_WINDOW_MS),
    steady ? DEFAULT_WARM_UP : ONE_WINDOW,
  );
  return target.pid === undefined ? undefined : describeWarmUp(target.name, r, opts.unit);
}
