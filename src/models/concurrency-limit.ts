/**
 * How many requests one replica may have in flight: a fixed number, or an adaptive limit that
 * grows while the replica's time to first token holds and shrinks when it rises or when the
 * replica says it is overloaded.
 *
 * The adaptive rule is the gradient limiter of service proxies (Netflix concurrency-limits'
 * Gradient, Envoy's adaptive concurrency filter), fitted to model servers:
 *
 * - The signal is time to first token (lease → first token): a model server that is full queues
 *   new requests (vLLM past `max_num_seqs`, Ollama past `OLLAMA_NUM_PARALLEL`, llama.cpp past its
 *   slots), and a queued request's first token waits for whole answers to finish. Total duration
 *   is no signal: it is mostly the answer's length.
 * - Samples are judged a window at a time, by their median (one slow prompt is not a trend). A
 *   window closes once it holds at least {@link MIN_WINDOW} events and as many as were in flight
 *   (one "round trip" of the replica, capped at {@link MAX_WINDOW}), so a change of the limit
 *   has had time to show before the next decision.
 * - The baseline is the lowest window median seen (the no-load latency). It drifts up slowly
 *   towards what is measured ({@link BASELINE_DRIFT} of the gap per window), so a lasting change
 *   that is not load (a bigger model, longer prompts) stops holding the limit down.
 * - gradient = (tolerance × baseline + slack) / median. The slack ({@link LATENCY_SLACK_MS}) keeps
 *   Shenma's own event-loop delay under load from reading as a full model server: a request
 *   queued in a model server waits for whole answers, far longer than that.
 * - Below 1 the limit is multiplied by the gradient (at most halved per window), starting from
 *   at most twice the peak in flight: a limit far above what was used cannot be the cause, and
 *   cutting it first would take windows to bite.
 * - At 1 the limit grows by √limit, but only when the window used at least half of it: an idle
 *   replica gives no evidence that more would be fine.
 * - An overload answer (429, 503, 504) halves what was in flight at once, once per window (the
 *   requests already in flight answer the same way: one cut is enough). A missed first-token
 *   deadline is no such answer: the pool counts it as a first token as late as the lease lasted,
 *   since the deadline may have been spent mostly in Shenma's own queue.
 *
 * Decisions depend only on the samples given, never on a clock, so tests script them.
 */

/** Fewest events (first tokens and overload answers) per window. */
export const MIN_WINDOW = 8;
/** Most events per window, however many are in flight. */
export const MAX_WINDOW = 64;
/** Share of the gap between the window median and a lower baseline the baseline moves per window. */
export const BASELINE_DRIFT = 0.05;
/** Time to first token up to this multiple of the baseline (plus the slack) counts as holding. */
export const DEFAULT_TOLERANCE = 2;
/** Latency added on top of the tolerated multiple that still counts as holding, in ms. */
export const LATENCY_SLACK_MS = 50;
/** The factor an overload answer multiplies the limit by. */
export const OVERLOAD_BACKOFF = 0.5;

export interface ConcurrencyLimitOptions {
  /** Upper bound, and the fixed limit when not adaptive. */
  max: number;
  /** Lower bound of the adaptive limit. */
  min: number;
  adaptive: boolean;
  /** Where the adaptive limit starts (default `max`: nothing is held back before there is evidence). */
  initial?: number;
  tolerance?: number;
}

export class ConcurrencyLimit {
  readonly max: number;
  readonly min: number;
  readonly adaptive: boolean;
  private readonly tolerance: number;
  /** The adaptive limit before rounding down. */
  private estimate: number;
  private baselineMs: number | undefined;
  private samples: number[] = [];
  private events = 0;
  private peakInFlight = 0;
  private cutThisWindow = false;
  /** Whole-number limit the pool compares in-flight counts with. */
  current: number;

  constructor(opts: ConcurrencyLimitOptions) {
    if (!(opts.min >= 1 && opts.max >= opts.min)) {
      throw new RangeError(
        `concurrency bounds must satisfy 1 <= min <= max (min ${opts.min}, max ${opts.max})`,
      );
    }
    this.max = opts.max;
    this.min = opts.min;
    this.adaptive = opts.adaptive;
    this.tolerance = opts.tolerance ?? DEFAULT_TOLERANCE;
    this.estimate = opts.adaptive ? clamp(opts.initial ?? opts.max, opts.min, opts.max) : opts.max;
    this.current = Math.floor(this.estimate);
  }

  /** The no-load time to first token measured so far (undefined before the first window closed). */
  get baseline(): number | undefined {
    return this.baselineMs;
  }

  /**
   * A request's first token arrived `latencyMs` after its lease; `inFlight` is how many requests
   * the replica had in flight when it was leased, itself included.
   */
  onFirstToken(latencyMs: number, inFlight: number): void {
    if (!this.adaptive) return;
    this.samples.push(latencyMs);
    this.count(inFlight);
  }

  /** The replica answered 429, 503 or 504: it says it is full. */
  onOverload(inFlight: number): void {
    if (!this.adaptive) return;
    if (!this.cutThisWindow) {
      this.cutThisWindow = true;
      this.set(Math.min(this.estimate, inFlight) * OVERLOAD_BACKOFF);
    }
    this.count(inFlight);
  }

  private count(inFlight: number): void {
    this.events++;
    if (inFlight > this.peakInFlight) this.peakInFlight = inFlight;
    if (this.events >= clamp(this.peakInFlight, MIN_WINDOW, MAX_WINDOW)) this.closeWindow();
  }

  private closeWindow(): void {
    const median = this.samples.length > 0 ? medianOf(this.samples) : undefined;
    if (median !== undefined) {
      if (this.baselineMs === undefined || median < this.baselineMs) this.baselineMs = median;
      else this.baselineMs += (median - this.baselineMs) * BASELINE_DRIFT;
    }
    // An overload cut this window already said what it had to say.
    if (!this.cutThisWindow && median !== undefined && this.baselineMs !== undefined) {
      const gradient = (this.tolerance * this.baselineMs + LATENCY_SLACK_MS) / median;
      if (gradient < 1) {
        const used = Math.min(this.estimate, 2 * this.peakInFlight);
        this.set(used * Math.max(0.5, gradient));
      } else if (this.peakInFlight * 2 >= this.current) {
        this.set(this.estimate + Math.sqrt(this.estimate));
      }
    }
    this.samples = [];
    this.events = 0;
    this.peakInFlight = 0;
    this.cutThisWindow = false;
  }

  private set(estimate: number): void {
    this.estimate = clamp(estimate, this.min, this.max);
    this.current = Math.max(this.min, Math.floor(this.estimate));
  }
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(Math.max(v, lo), hi);
}

function medianOf(values: number[]): number {
  const sorted = values.slice().sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
