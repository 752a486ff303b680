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
  const state = { started: false };
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
      try {
        yield* tryOnce(call, group, tried, state);
        return;
      } catch (err) {
        if (state.started || signal.aborted || !isModelCallFailure(err)) throw err;
        trigger = err;
        // Every replica of this model was tried already: the failure before is the news.
        const exhausted = err instanceof ModelUnavailableError && tried.size > 0;
        if (!exhausted) last = err;
        if (!exhausted && policy.retryReplica(err)) continue;
        if (policy.nextModel(err)) break;
        throw last;
      }
    }
  }
  throw last;
}

/** One upstream call on one replica, holding opening items back until the answer starts. */
async function* tryOnce<T>(
  call: ResilientCall<T>,
  group: ModelGroup,
  tried: Set<Replica>,
  state: { started: boolean },
): AsyncGenerator<Answered<T>> {
  const { policy, observe } = call;
  const parent = call.signal;
  const controller = new AbortController();
  const onParent = () => controller.abort(parent.reason);
  if (parent.aborted) onParent();
  else parent.addEventListener('abort', onParent, { once: true });
  let firstTokenTimer: NodeJS.Timeout | undefined;
  const armFirstToken = () => {
    firstTokenTimer = setTimeout(
      () =>
        controller.abort(
          new UpstreamTimeout('first_token', `no first token within ${policy.firstTokenMs} ms`),
        ),
      policy.firstTokenMs,
    );
  };
  if (policy.queueMs === undefined) armFirstToken();
  let lease: Lease | undefined;
  let iterator: AsyncIterator<T> | undefined;
  try {
    const queueStart = performance.now();
    try {
      lease = await group.acquire(controller.signal, policy.queueMs ?? policy.firstTokenMs, tried);
    } finally {
      observe?.queued?.(group, performance.now() - queueStart);
    }
    const replica = lease.replica;
    tried.add(replica);
    const leased = performance.now();
    if (policy.queueMs !== undefined) armFirstToken();
    iterator = call.open(replica, group, controller.signal)[Symbol.asyncIterator]();
    const held: T[] = [];
    try {
      for (;;) {
        // Idle is the upstream's silence only: the timer runs while we wait for it, not while a
        // slow consumer makes us wait.
        const idleTimer =
          state.started && policy.idleMs !== undefined
            ? setTimeout(
                () =>
                  controller.abort(
                    new UpstreamTimeout('idle', `no token for ${policy.idleMs} ms mid-answer`),
                  ),
                policy.idleMs,
              )
            : undefined;
        let next: IteratorResult<T>;
        try {
          next = await iterator.next();
        } finally {
          clearTimeout(idleTimer);
        }
        if (next.done) break;
        if (!state.started) {
          if (policy.startsAnswer && !policy.startsAnswer(next.value)) {
            held.push(next.value);
            continue;
          }
          clearTimeout(firstTokenTimer);
          state.started = true;
          group.markHealthy(replica);
          observe?.started?.(group, performance.now() - leased);
          for (const item of held.splice(0)) yield { item, group, replica };
        }
        yield { item: next.value, group, replica };
      }
      // The stream ended without anything that starts an answer: an empty answer, still complete.
      if (!state.started) {
        state.started = true;
        for (const item of held.splice(0)) yield { item, group, replica };
      }
      group.markHealthy(replica);
    } catch (err) {
      if (err instanceof UpstreamError && err.kind === 'unreachable') group.markDown(replica, err.message);
      throw err;
    }
  } catch (err) {
    // An abort surfaces as whatever the backend threw; the signal's reason says what it was.
    const reason: unknown = controller.signal.aborted ? controller.signal.reason : err;
    observe?.failed?.(group, reason);
    throw reason;
  } finally {
    clearTimeout(firstTokenTimer);
    parent.removeEventListener('abort', onParent);
    // Closes the upstream request when we stop early (consumer left, or an error above).
    await iterator?.return?.(undefined).catch(() => undefined);
    lease?.release();
  }
}
