import { UpstreamError } from './backend.js';
import { isModelCallFailure, UpstreamTimeout } from './errors.js';
import { type Lease, type ModelGroup, ModelUnavailableError, type Replica } from './pool.js';

/**
 * The one resilient upstream call, shared by completion and chat: take a lease on a replica,
 * stream under the first-token and idle deadlines, mark the replica's health from what happened,
 * try another replica, then the next model (the fallback). Nothing is retried once the answer has
 * started. Each feature passes its policy: what is worth another replica or model, how many
 * tries, whether the first-token deadline covers the wait for a slot.
 */

export interface CallPolicy<T> {
  /** Tries per model, each on a replica not tried yet, the first one included. */
  triesPerModel: number;
  /** A failure before the answer started that is worth another replica of the same model. */
  retryReplica(err: unknown): boolean;
  /** A failure (once no other replica is worth trying) that is worth the next model. */
  nextModel(err: unknown): boolean;
  firstTokenMs: number;
  /**
   * Without it, the first-token deadline covers the wait for a slot too (the user waits either
   * way). With it, a slot is waited for up to this long and the first-token deadline starts once
   * a replica was leased.
   */
  queueMs?: number;
  /** Silence allowed between items once the answer started (unbounded without it). */
  idleMs?: number;
  /**
   * Items before the first one that starts the answer are held back, so another replica can still
   * replace them (e.g. a chat stream's role-only opening chunk). Default: every item starts it.
   */
  startsAnswer?(item: T): boolean;
}

/** What the call reports as it goes, for each feature's metrics and logs. */
export interface CallObserver {
  /** Waited `ms` for a slot on `group` (granted or not). */
  queued?(group: ModelGroup, ms: number): void;
  /** The answer started, `ms` after the replica was leased. */
  started?(group: ModelGroup, ms: number): void;
  /** One try on `group` failed (the deadline's, the upstream's or the caller's abort reason). */
  failed?(group: ModelGroup, err: unknown): void;
  /**
   * About to try again: on another replica of `to`, or on the next model when `nextModel`.
   * `cause` is the failure reported if this try fails too; `trigger` the one that led here.
   */
  retrying?(e: {
    from: ModelGroup;
    to: ModelGroup;
    nextModel: boolean;
    cause: unknown;
    trigger: unknown;
  }): void;
}

export interface Answered<T> {
  item: T;
  group: ModelGroup;
  replica: Replica;
}

export interface ResilientCall<T> {
  /** The requested model first, then the ones to fall back to. */
  models: readonly ModelGroup[];
  /** The caller's abort (client gone, superseded, total deadline): ends the call with its reason. */
  signal: AbortSignal;
  policy: CallPolicy<T>;
  /** Starts the upstream stream on one replica; aborting `signal` must close it. */
  open(replica: Replica, group: ModelGroup, signal: AbortSignal): AsyncIterable<T>;
  observe?: CallObserver;
}

/**
 * Streams the answer of the first replica that starts one. Throws the caller's abort reason when
 * `signal` fires, else the failure that ended the call (see models/errors.ts).
 */
export async function* resilientCall<T>(call: ResilientCall<T>): AsyncGenerator<Answered<T>> {
  const { policy, signal, observe } = call;
  let started = false;
  let last: unknown;
  let trigger: unknown;
  let previous: ModelGroup | undefined;
  for (const group of call.models) {
    const tried = new Set<Replica>();
    for (let attempt = 0; attempt < policy.triesPerModel; attempt++) {
      if (previous && last !== undefined) {
        observe?.retrying?.({ from: previous, to: group, nextModel: attempt === 0, cause: last, trigger });
      }
      previous = group;
      // One try on one replica, streamed here rather than through a nested generator: every
      // item of every answer passes this loop, so it is kept to one generator step.
      const attemptOnce = new Attempt(call, group);
      try {
        const replica = await attemptOnce.lease(tried);
        const held: T[] = [];
        for (;;) {
          const next = await attemptOnce.next(started);
          if (next.done) break;
          if (!started) {
            if (policy.startsAnswer && !policy.startsAnswer(next.value)) {
              held.push(next.value);
              continue;
            }
            started = true;
            attemptOnce.answerStarted();
            for (const item of held.splice(0)) yield { item, group, replica };
          }
          yield { item: next.value, group, replica };
        }
        // The stream ended without anything that starts an answer: an empty answer, still complete.
        if (!started) {
          started = true;
          for (const item of held.splice(0)) yield { item, group, replica };
        }
        group.markHealthy(replica);
        return;
      } catch (thrown) {
        const err = attemptOnce.failed(thrown);
        if (started || signal.aborted || !isModelCallFailure(err)) throw err;
        trigger = err;
        // Every replica of this model was tried already: the failure before is the news.
        const exhausted = err instanceof ModelUnavailableError && tried.size > 0;
        if (!exhausted) last = err;
        if (!exhausted && policy.retryReplica(err)) continue;
        if (policy.nextModel(err)) break;
        throw last;
      } finally {
        await attemptOnce.close();
      }
    }
  }
  throw last;
}

/** The state of one try: its abort (the caller's, or its own deadlines), lease and stream. */
class Attempt<T> {
  private readonly controller = new AbortController();
  private readonly onParent = () => this.controller.abort(this.call.signal.reason);
  private firstTokenTimer: NodeJS.Timeout | undefined;
  private leaseHeld: Lease | undefined;
  private iterator: AsyncIterator<T> | undefined;
  private leasedAt = 0;

  constructor(
    private readonly call: ResilientCall<T>,
    private readonly group: ModelGroup,
  ) {
    const parent = call.signal;
    if (parent.aborted) this.onParent();
    else parent.addEventListener('abort', this.onParent, { once: true });
  }

  private armFirstToken(): void {
    const ms = this.call.policy.firstTokenMs;
    this.firstTokenTimer = setTimeout(
      () => this.controller.abort(new UpstreamTimeout('first_token', `no first token within ${ms} ms`)),
      ms,
    );
  }

  /** Waits for a slot on a replica not tried yet and opens the stream there. */
  async lease(tried: Set<Replica>): Promise<Replica> {
    const { policy, observe } = this.call;
    if (policy.queueMs === undefined) this.armFirstToken();
    const queueStart = performance.now();
    try {
      this.leaseHeld = await this.group.acquire(
        this.controller.signal,
        policy.queueMs ?? policy.firstTokenMs,
        tried,
      );
    } finally {
      observe?.queued?.(this.group, performance.now() - queueStart);
    }
    const replica = this.leaseHeld.replica;
    tried.add(replica);
    this.leasedAt = performance.now();
    if (policy.queueMs !== undefined) this.armFirstToken();
    this.iterator = this.call.open(replica, this.group, this.controller.signal)[Symbol.asyncIterator]();
    return replica;
  }

  /** The next item. Once the answer started, silence beyond `idleMs` ends the try. */
  async next(started: boolean): Promise<IteratorResult<T>> {
    const { idleMs } = this.call.policy;
    // Idle is the upstream's silence only: the timer runs while we wait for it, not while a slow
    // consumer makes us wait.
    if (!started || idleMs === undefined) return this.iterator!.next();
    const idleTimer = setTimeout(
      () => this.controller.abort(new UpstreamTimeout('idle', `no token for ${idleMs} ms mid-answer`)),
      idleMs,
    );
    try {
      return await this.iterator!.next();
    } finally {
      clearTimeout(idleTimer);
    }
  }

  answerStarted(): void {
    clearTimeout(this.firstTokenTimer);
    this.leaseHeld!.started();
    const replica = this.leaseHeld!.replica;
    this.group.markHealthy(replica);
    this.call.observe?.started?.(this.group, performance.now() - this.leasedAt);
  }

  /** What the try failed with: an abort surfaces as whatever the backend threw, the signal says why. */
  failed(thrown: unknown): unknown {
    const replica = this.leaseHeld?.replica;
    if (replica && thrown instanceof UpstreamError && thrown.kind === 'unreachable') {
      this.group.markDown(replica, thrown.message);
    }
    const reason: unknown = this.controller.signal.aborted ? this.controller.signal.reason : thrown;
    this.leaseHeld?.failed(reason);
    this.call.observe?.failed?.(this.group, reason);
    return reason;
  }

  /** Closes the upstream request when we stop early (consumer left, or a failure) and frees the slot. */
  async close(): Promise<void> {
    clearTimeout(this.firstTokenTimer);
    this.call.signal.removeEventListener('abort', this.onParent);
    await this.iterator?.return?.(undefined).catch(() => undefined);
    this.leaseHeld?.release();
  }
}
