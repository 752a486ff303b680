import { type ModelConfig, maxConcurrencyOf } from '../config/schema.js';
import { redactUrl, redactUrlsIn } from '../observability/redact.js';
import type { ModelBackend } from './backend.js';
import { UpstreamError } from './backend.js';
import { ConcurrencyLimit } from './concurrency-limit.js';
import type { ModelMetrics } from './metrics.js';

/**
 * Replicas of one model name, balanced by least load, with a bounded FIFO queue and a queue
 * deadline: a request either gets a slot, waits a bounded time, or is refused at once.
 * Health comes from periodic probes and from real requests (a refused connection marks the
 * replica down until a probe or a request succeeds again). Each replica's number of slots is its
 * concurrency limit (concurrency-limit.ts): fixed, or adapted to its time to first token and
 * overload answers, which leases report.
 */

export class OverloadedError extends Error {
  override readonly name = 'OverloadedError';
  /** Another model may have room. */
  readonly retryable = true;
  constructor(
    readonly model: string,
    readonly reason: 'queue_full' | 'queue_timeout',
    readonly retryAfter = 1,
  ) {
    super(
      reason === 'queue_full'
        ? `model "${model}" is at capacity and its queue is full`
        : `model "${model}" had no free slot within the queue deadline`,
    );
  }
}

export class ModelUnavailableError extends Error {
  override readonly name = 'ModelUnavailableError';
  /** Another model may be up. */
  readonly retryable = true;
  constructor(
    readonly model: string,
    readonly detail: string,
  ) {
    super(`model "${model}" is unavailable: ${detail}`);
  }
}

export interface Replica {
  readonly config: ModelConfig;
  readonly backend: ModelBackend;
  inFlight: number;
  /** undefined until the first probe or request says otherwise. */
  healthy: boolean | undefined;
  lastError?: string;
}

export interface Lease {
  readonly replica: Replica;
  /** The answer started: its time to first token (since the lease) feeds the replica's limit. */
  started(): void;
  /** The try failed before its answer started: an overload answer shrinks the replica's limit. */
  failed(err: unknown): void;
  release(): void;
}

/**
 * What a failure before the first token tells a replica's limit: `overload` for 429, 503 and 504
 * (the server says it is full); `slow` for a deadline that passed (the first token would have
 * taken at least as long as the lease lasted; counted as such a time, not as an overload,
 * because the first-token deadline may have been spent mostly in Shenma's own queue); nothing
 * for the rest (bad requests, aborts, a replica that is down).
 */
export function failureSignal(err: unknown): 'overload' | 'slow' | undefined {
  if (err instanceof UpstreamError) {
    const overloaded =
      err.kind === 'status' && (err.status === 429 || err.status === 503 || err.status === 504);
    return overloaded ? 'overload' : undefined;
  }
  // UpstreamTimeout lives in errors.ts, which imports this module: matched by name to keep the
  // import one-way.
  return (err as { name?: unknown } | null)?.name === 'UpstreamTimeout' ? 'slow' : undefined;
}

/** A replica's limit and its pre-bound gauges, made on first use (replicas are added after the group). */
interface Slots {
  limit: ConcurrencyLimit;
  limitGauge?: { set(v: number): void };
  inFlightGauge?: { set(v: number): void };
}

interface Waiter {
  exclude: ReadonlySet<Replica> | undefined;
  resolve(lease: Lease): void;
  reject(err: unknown): void;
  cleanup(): void;
}

/**
 * One slot on a replica. A class rather than closures: a lease is made per request, and its
 * methods on the prototype cost nothing per lease.
 */
class ReplicaLease implements Lease {
  /** One report per lease: the first token, or the failure before it. */
  private reported = false;
  private released = false;

  constructor(
    private readonly group: ModelGroup,
    readonly replica: Replica,
    private readonly slots: Slots,
    /** In flight on the replica when this lease began, itself included. */
    private readonly inFlight: number,
    private readonly leasedAt: number,
  ) {}

  started(): void {
    if (this.reported) return;
    this.reported = true;
    const { slots } = this;
    const before = slots.limit.current;
    slots.limit.onFirstToken(
      this.group.clock() - this.leasedAt,
      Math.max(this.inFlight, this.replica.inFlight),
    );
    this.group.limitAdjusted(slots, before);
  }

  failed(err: unknown): void {
    if (this.reported) return;
    this.reported = true;
    const signal = failureSignal(err);
    if (!signal) return;
    const { slots } = this;
    const before = slots.limit.current;
    // What was in flight when the replica failed, this request included.
    const busy = Math.max(this.inFlight, this.replica.inFlight);
    if (signal === 'overload') slots.limit.onOverload(busy);
    else slots.limit.onFirstToken(this.group.clock() - this.leasedAt, busy);
    this.group.limitAdjusted(slots, before);
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.group.released(this.replica, this.slots);
  }
}

export class ModelGroup {
  private readonly waiters: Waiter[] = [];
  private readonly slots = new Map<Replica, Slots>();
  private rotation = 0;
  private lastQueued = 0;

  constructor(
    readonly name: string,
    readonly replicas: Replica[],
    private readonly metrics?: ModelMetrics,
    /** Milliseconds, for times to first token; tests script it. */
    private readonly now: () => number = () => performance.now(),
  ) {
    for (const r of replicas) this.slotsOf(r);
    this.metrics?.queued.set({ model: name }, 0);
  }

  private slotsOf(replica: Replica): Slots {
    let s = this.slots.get(replica);
    if (!s) {
      const c = replica.config;
      const max = maxConcurrencyOf(c);
      const limit = new ConcurrencyLimit({
        max,
        min: Math.min(c.minConcurrency, max),
        adaptive: c.adaptiveConcurrency,
      });
      s = { limit };
      if (this.metrics) {
        const labels = { model: this.name, url: redactUrl(c.url) };
        s.limitGauge = this.metrics.concurrencyLimit.labels(labels);
        s.inFlightGauge = this.metrics.inFlight.labels(labels);
        s.limitGauge.set(limit.current);
        s.inFlightGauge.set(replica.inFlight);
      }
      this.slots.set(replica, s);
    }
    return s;
  }

  /** The replica's concurrency limit (the slots it has now, and how they adapt). */
  limitOf(replica: Replica): ConcurrencyLimit {
    return this.slotsOf(replica).limit;
  }

  get settings(): ModelConfig {
    return this.replicas[0]!.config;
  }

  get queueLength(): number {
    return this.waiters.length;
  }

  get inFlight(): number {
    return this.replicas.reduce((n, r) => n + r.inFlight, 0);
  }

  private candidates(exclude?: ReadonlySet<Replica>): Replica[] {
    return this.replicas.filter((r) => r.healthy !== false && !exclude?.has(r));
  }

  /** Least loaded replica with a free slot; ties go round-robin so equal replicas share work. */
  private pickFree(exclude?: ReadonlySet<Replica>): Replica | undefined {
    const list = this.candidates(exclude);
    let best: Replica | undefined;
    let bestLoad = Number.POSITIVE_INFINITY;
    const n = list.length;
    for (let k = 0; k < n; k++) {
      const r = list[(this.rotation + k) % n]!;
      const limit = this.slotsOf(r).limit.current;
      if (r.inFlight >= limit) continue;
      const load = r.inFlight / limit;
      if (load < bestLoad) {
        best = r;
        bestLoad = load;
      }
    }
    this.rotation = (this.rotation + 1) % Math.max(1, n);
    return best;
  }

  private lease(replica: Replica): Lease {
    const slots = this.slotsOf(replica);
    const inFlight = ++replica.inFlight;
    slots.inFlightGauge?.set(inFlight);
    return new ReplicaLease(this, replica, slots, inFlight, this.now());
  }

  /** A lease's report changed the replica's limit: publish it, and a grown limit serves waiters. */
  limitAdjusted(slots: Slots, before: number): void {
    const after = slots.limit.current;
    if (after === before) return;
    slots.limitGauge?.set(after);
    if (after > before) this.dispatch();
  }

  /** A lease ended: its slot goes to the next waiter that can use it. */
  released(replica: Replica, slots: Slots): void {
    replica.inFlight--;
    slots.inFlightGauge?.set(replica.inFlight);
    this.dispatch();
  }

  /** Milliseconds on the group's clock. */
  clock(): number {
    return this.now();
  }

  private dispatch(): void {
    for (let i = 0; i < this.waiters.length; ) {
      const w = this.waiters[i]!;
      const r = this.pickFree(w.exclude);
      if (!r) {
        i++;
        continue;
      }
      this.waiters.splice(i, 1);
      w.cleanup();
      w.resolve(this.lease(r));
    }
    this.publishQueued();
  }

  /** The queue gauge; skipped while it stays at zero (most releases find nobody waiting). */
  private publishQueued(): void {
    const n = this.waiters.length;
    if (n === 0 && this.lastQueued === 0) return;
    this.lastQueued = n;
    this.metrics?.queued.set({ model: this.name }, n);
  }

  /**
   * Gets a slot on some replica. Throws ModelUnavailableError when every replica is known to be
   * down, OverloadedError when the queue is full or the deadline passes, or the signal's reason.
   */
  acquire(signal: AbortSignal, queueMs: number, exclude?: ReadonlySet<Replica>): Promise<Lease> {
    signal.throwIfAborted();
    const usable = this.candidates(exclude);
    if (usable.length === 0) {
      // Name each replica's own failure: a replica this request already tried usually failed
      // just now, and that failure is the cause the caller needs to see.
      const detail = this.replicas
        .map(
          (r) =>
            `${redactUrl(r.config.url)}: ${r.lastError ?? (exclude?.has(r) ? 'failed for this request' : 'down')}`,
        )
        .join('; ');
      return Promise.reject(new ModelUnavailableError(this.name, detail));
    }
    const free = this.pickFree(exclude);
    if (free) return Promise.resolve(this.lease(free));
    const queueCap = usable.reduce((n, r) => n + r.config.maxQueue, 0);
    if (this.waiters.length >= queueCap) return Promise.reject(new OverloadedError(this.name, 'queue_full'));
    return new Promise<Lease>((resolve, reject) => {
      const onAbort = () => {
        remove();
        reject(signal.reason);
      };
      const timer = setTimeout(() => {
        remove();
        reject(new OverloadedError(this.name, 'queue_timeout'));
      }, queueMs);
      const waiter: Waiter = {
        exclude,
        resolve,
        reject,
        cleanup: () => {
          clearTimeout(timer);
          signal.removeEventListener('abort', onAbort);
        },
      };
      const remove = () => {
        waiter.cleanup();
        const i = this.waiters.indexOf(waiter);
        if (i !== -1) this.waiters.splice(i, 1);
        this.publishQueued();
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
      this.publishQueued();
    });
  }

  markHealthy(replica: Replica): void {
    if (replica.healthy === true) return;
    replica.healthy = true;
    replica.lastError = undefined;
    this.metrics?.replicaHealthy.set({ model: this.name, url: redactUrl(replica.config.url) }, 1);
    this.dispatch();
  }

  markDown(replica: Replica, reason: string): void {
    replica.healthy = false;
    replica.lastError = redactUrlsIn(reason);
    this.metrics?.replicaHealthy.set({ model: this.name, url: redactUrl(replica.config.url) }, 0);
    // Waiters that can only be served by down replicas would wait for nothing: fail them now.
    for (const w of [...this.waiters]) {
      if (this.candidates(w.exclude).length === 0) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.cleanup();
        w.reject(new ModelUnavailableError(this.name, replica.lastError));
      }
    }
  }

  async probe(replica: Replica, timeoutMs: number): Promise<void> {
    try {
      await replica.backend.probe(AbortSignal.timeout(timeoutMs));
      this.markHealthy(replica);
    } catch (err) {
      const reason =
        err instanceof UpstreamError
          ? err.message
          : (err as Error).name === 'TimeoutError'
            ? `no answer within ${timeoutMs} ms`
            : String((err as Error).message ?? err);
      this.markDown(replica, reason);
    }
  }
}

export type BackendFactory = (config: ModelConfig) => ModelBackend;

/** All configured models by name, with the health-check loop. */
export class ModelRegistry {
  readonly groups = new Map<string, ModelGroup>();
  private timer: NodeJS.Timeout | undefined;

  constructor(models: ModelConfig[], factory: BackendFactory, metrics?: ModelMetrics) {
    for (const config of models) {
      let group = this.groups.get(config.name);
      const replica: Replica = { config, backend: factory(config), inFlight: 0, healthy: undefined };
      if (!group) {
        group = new ModelGroup(config.name, [], metrics);
        this.groups.set(config.name, group);
      }
      group.replicas.push(replica);
    }
    // Every replica's limit is on /metrics from the start, not from its first request.
    for (const group of this.groups.values()) for (const r of group.replicas) group.limitOf(r);
  }

  get(name: string): ModelGroup | undefined {
    return this.groups.get(name);
  }

  /** Probes every replica now and then every `healthCheckIntervalMs` (the smallest configured). */
  startHealthChecks(probeTimeoutMs = 2000): Promise<void> {
    const all = [...this.groups.values()].flatMap((g) => g.replicas.map((r) => ({ g, r })));
    if (all.length === 0) return Promise.resolve();
    const interval = Math.min(...all.map(({ r }) => r.config.healthCheckIntervalMs));
    const probeAll = () =>
      Promise.all(all.map(({ g, r }) => g.probe(r, probeTimeoutMs))).then(() => undefined);
    this.timer = setInterval(() => void probeAll(), interval);
    this.timer.unref();
    return probeAll();
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await Promise.all([...this.groups.values()].flatMap((g) => g.replicas.map((r) => r.backend.close())));
  }
}
