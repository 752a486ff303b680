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

export interface ResilientCall<T> {
  /** The requested model first, then the ones to fall back to. */
  models: readonly ModelGroup[];
  /** The caller's abort (client gone, superseded, total deadline): ends the call with its reason. */
  signal: AbortSignal;
  /**
   * The controller behind `signal`, when the caller has one to lend. A try's own deadline must
   * end that try's upstream request only, which takes a controller per try; when no other try
   * could follow it (one model with one replica, or one try per model), the deadline aborts this
   * controller instead and the call ends with it, as it would have. One AbortSignal less per
   * request (creating one costs microseconds in Node).
   */
  controller?: AbortController;
  policy: CallPolicy<T>;
  /** Starts the upstream stream on one replica; aborting `signal` must close it. */
  open(replica: Replica, group: ModelGroup, signal: AbortSignal): AsyncIterable<T>;
  observe?: CallObserver;
}

const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });

/**
 * The call's answer as an async iterator: the items of the first replica that starts one, each
 * straight from that replica's stream (no wrapper per item). `group` and `replica` name the try
 * being streamed. `next()` throws the caller's abort reason when `signal` fires, else the failure
 * that ended the call (see models/errors.ts); `return()` (a `for await` left early) closes the
 * upstream request and frees the slot.
 */
export class ResilientStream<T> implements AsyncIterableIterator<T> {
  /** The model and replica of the current try: the answering one once items flow. */
  group: ModelGroup | undefined;
  replica: Replica | undefined;
  private readonly spec: ResilientCall<T>;
  private modelIndex = 0;
  private attempt = 0;
  private tried = new Set<Replica>();
  private started = false;
  private finished = false;
  /** The failure reported if the call ends now, and the one that led to the latest retry. */
  private last: unknown;
  private trigger: unknown;
  private previous: ModelGroup | undefined;
  /** Items held back until one starts the answer; drained before the try's next item. */
  private held: T[] | undefined;
  /** The try's stream ended while held items were still being handed out. */
  private ending = false;
  // The current try: its abort, deadline, lease and stream.
  private tryController: AbortController | undefined;
  private trySignal: AbortSignal | undefined;
  private onParent: (() => void) | undefined;
  private firstTokenTimer: NodeJS.Timeout | undefined;
  /** The try's idle deadline, when the policy has one. */
  private idle: IdleWatch | undefined;
  private lease: Lease | undefined;
  private iterator: AsyncIterator<T> | undefined;
  private leasedAt = 0;

  constructor(spec: ResilientCall<T>) {
    this.spec = spec;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async next(): Promise<IteratorResult<T>> {
    for (;;) {
      const held = this.held;
      if (held !== undefined && held.length > 0 && this.started) return { value: held.shift()!, done: false };
      if (this.finished) return DONE;
      if (this.ending) {
        // The stream ended and everything it gave was handed out: a complete answer.
        this.group!.markHealthy(this.replica!);
        this.finished = true;
        await this.closeTry(false);
        return DONE;
      }
      if (this.iterator === undefined && this.modelIndex >= this.spec.models.length) {
        this.finished = true;
        throw this.last;
      }
      let result: IteratorResult<T>;
      try {
        if (this.iterator === undefined) await this.openTry();
        result = await this.pull();
      } catch (thrown) {
        this.idle?.answered();
        await this.tryFailed(thrown);
        continue;
      }
      this.idle?.answered();
      if (result.done) {
        // Without anything that starts an answer, what was held is an empty answer, still complete.
        this.started = true;
        this.ending = true;
        continue;
      }
      if (!this.started) {
        const { startsAnswer } = this.spec.policy;
        if (startsAnswer !== undefined && !startsAnswer(result.value)) {
          if (this.held === undefined) this.held = [result.value];
          else this.held.push(result.value);
          continue;
        }
        this.started = true;
        this.answerStarted();
        if (held !== undefined && held.length > 0) {
          held.push(result.value);
          return { value: held.shift()!, done: false };
        }
      }
      return result;
    }
  }

  /** Leaving early: closes the upstream request and frees the slot. */
  async return(): Promise<IteratorResult<T>> {
    if (!this.finished) {
      this.finished = true;
      await this.closeTry(true);
    }
    return DONE;
  }

  /** The next try: on a replica of the current model not tried yet, or on the next model. */
  private async openTry(): Promise<void> {
    const { spec } = this;
    const group = spec.models[this.modelIndex]!;
    if (this.previous !== undefined && this.last !== undefined) {
      spec.observe?.retrying?.({
        from: this.previous,
        to: group,
        nextModel: this.attempt === 0,
        cause: this.last,
        trigger: this.trigger,
      });
    }
    this.previous = group;
    this.group = group;
    this.replica = undefined;
    const parent = spec.signal;
    if (spec.controller !== undefined && this.isOnlyTry(group)) {
      this.trySignal = parent;
    } else {
      const controller = new AbortController();
      const onParent = () => controller.abort(parent.reason);
      this.tryController = controller;
      this.trySignal = controller.signal;
      this.onParent = onParent;
      if (parent.aborted) onParent();
      else parent.addEventListener('abort', onParent, { once: true });
    }
    const { policy, observe } = spec;
    if (policy.queueMs === undefined) this.armFirstToken();
    const queueStart = performance.now();
    try {
      this.lease = await group.acquire(this.trySignal, policy.queueMs ?? policy.firstTokenMs, this.tried);
    } finally {
      observe?.queued?.(group, performance.now() - queueStart);
    }
    const replica = this.lease.replica;
    this.replica = replica;
    this.tried.add(replica);
    this.leasedAt = performance.now();
    if (policy.queueMs !== undefined) this.armFirstToken();
    const { idleMs } = policy;
    if (idleMs !== undefined) {
      const target = this.tryAbort();
      this.idle = new IdleWatch(idleMs, () =>
        target.abort(new UpstreamTimeout('idle', `no token for ${idleMs} ms mid-answer`)),
      );
    }
    this.iterator = spec.open(replica, group, this.trySignal)[Symbol.asyncIterator]();
  }

  /** No other try can follow this one, whatever it fails with. */
  private isOnlyTry(group: ModelGroup): boolean {
    return (
      this.spec.models.length === 1 && (this.spec.policy.triesPerModel <= 1 || group.replicas.length <= 1)
    );
  }

  /** What ends the try on its deadline: its own controller, or the caller's when no other try could follow. */
  private tryAbort(): AbortController {
    return (this.tryController ?? this.spec.controller)!;
  }

  private armFirstToken(): void {
    const ms = this.spec.policy.firstTokenMs;
    const target = this.tryAbort();
    this.firstTokenTimer = setTimeout(
      () => target.abort(new UpstreamTimeout('first_token', `no first token within ${ms} ms`)),
      ms,
    );
  }

  /**
   * The try's next item; once the answer started, the idle watch times the wait. Not `async`: an
   * async function returning the stream's promise wraps it in one more, two microtask turns more
   * for every item.
   */
  private pull(): Promise<IteratorResult<T>> {
    if (this.started) this.idle?.waiting();
    return this.iterator!.next();
  }

  private answerStarted(): void {
    clearTimeout(this.firstTokenTimer);
    this.lease!.started();
    this.group!.markHealthy(this.replica!);
    this.spec.observe?.started?.(this.group!, performance.now() - this.leasedAt);
  }

  /**
   * Ends the failed try, then either sets up the next one (returns) or throws what ends the call.
   * An abort surfaces as whatever the backend threw; the try's signal says why.
   */
  private async tryFailed(thrown: unknown): Promise<void> {
    const { spec } = this;
    const group = this.group!;
    const replica = this.replica;
    if (replica !== undefined && thrown instanceof UpstreamError && thrown.kind === 'unreachable') {
      group.markDown(replica, thrown.message);
    }
    const signal = this.trySignal;
    const err: unknown = signal?.aborted ? signal.reason : thrown;
    this.lease?.failed(err);
    spec.observe?.failed?.(group, err);
    await this.closeTry(true);
    if (this.started || spec.signal.aborted || !isModelCallFailure(err)) {
      this.finished = true;
      throw err;
    }
    this.trigger = err;
    // What the failed try held back is not part of the answer another try gives.
    this.held = undefined;
    // Every replica of this model was tried already: the failure before is the news.
    const exhausted = err instanceof ModelUnavailableError && this.tried.size > 0;
    if (!exhausted) this.last = err;
    const anotherReplica = !exhausted && spec.policy.retryReplica(err);
    if (anotherReplica && ++this.attempt < spec.policy.triesPerModel) return;
    // Out of tries on this model after a replica-worthy failure, or one worth the next model.
    if (anotherReplica || spec.policy.nextModel(err)) {
      this.modelIndex++;
      this.attempt = 0;
      this.tried = new Set();
      if (this.modelIndex < spec.models.length) return;
    }
    this.finished = true;
    throw this.last;
  }

  /** Ends the current try: its deadline, its parent-abort listener, its stream (when `early`), its slot. */
  private async closeTry(early: boolean): Promise<void> {
    clearTimeout(this.firstTokenTimer);
    this.firstTokenTimer = undefined;
    this.idle?.close();
    this.idle = undefined;
    if (this.onParent !== undefined) {
      this.spec.signal.removeEventListener('abort', this.onParent);
      this.onParent = undefined;
    }
    this.tryController = undefined;
    const iterator = this.iterator;
    this.iterator = undefined;
    const lease = this.lease;
    this.lease = undefined;
    if (early && iterator?.return !== undefined) await iterator.return(undefined).catch(() => undefined);
    lease?.release();
  }
}

/**
 * The idle deadline of one try: the upstream's silence only, timed while the caller waits for its
 * next item and not while a slow consumer keeps it from asking. One timer per try, re-armed only
 * when it fires early, instead of a timer set and cleared for every item of a long stream.
 */
class IdleWatch {
  private since = 0;
  private isWaiting = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly ms: number,
    private readonly onIdle: () => void,
  ) {}

  /** The caller asks the upstream for its next item from now. */
  waiting(): void {
    this.since = performance.now();
    this.isWaiting = true;
    this.timer ??= setTimeout(this.check, this.ms);
  }

  /** The upstream answered (an item, its end or a failure). */
  answered(): void {
    this.isWaiting = false;
  }

  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.isWaiting = false;
  }

  private readonly check = (): void => {
    this.timer = undefined;
    if (!this.isWaiting) return;
    const left = this.ms - (performance.now() - this.since);
    if (left <= 0) this.onIdle();
    else this.timer = setTimeout(this.check, left);
  };
}
