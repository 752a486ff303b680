import { Registry } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type ModelConfig, modelSchema } from '../config/schema.js';
import { type ModelBackend, UpstreamError } from './backend.js';
import { UpstreamTimeout } from './errors.js';
import { modelMetrics } from './metrics.js';
import {
  failureSignal,
  type Lease,
  ModelGroup,
  ModelRegistry,
  ModelUnavailableError,
  OverloadedError,
  type Replica,
} from './pool.js';

/** A backend that only answers probes the way the test says; the scheduler never streams. */
function stubBackend(probe: (signal: AbortSignal) => Promise<void> = async () => {}): ModelBackend {
  return {
    // biome-ignore lint/correctness/useYield: never called by the scheduler
    async *streamFim() {
      throw new Error('not used');
    },
    // biome-ignore lint/correctness/useYield: never called by the scheduler
    async *streamChat() {
      throw new Error('not used');
    },
    probe,
    close: async () => {},
  };
}

function config(url: string, maxConcurrency: number, maxQueue: number): ModelConfig {
  return modelSchema.parse({ name: 'm', url, family: 'deepseek-coder', maxConcurrency, maxQueue });
}

function replica(url: string, maxConcurrency = 1, maxQueue = 4, backend = stubBackend()): Replica {
  return { config: config(url, maxConcurrency, maxQueue), backend, inFlight: 0, healthy: undefined };
}

function group(...replicas: Replica[]): ModelGroup {
  return new ModelGroup('m', replicas);
}

const live = () => new AbortController().signal;

/** Tracks a promise's outcome without letting a rejection go unhandled. */
function track<T>(p: Promise<T>) {
  const state: { value?: T; error?: unknown; settled: boolean } = { settled: false };
  p.then(
    (v) => {
      state.value = v;
      state.settled = true;
    },
    (e) => {
      state.error = e;
      state.settled = true;
    },
  );
  return state;
}

const flush = () => new Promise<void>((r) => setImmediate(r));

afterEach(() => {
  vi.useRealTimers();
});

describe('ModelGroup.acquire: choosing a replica', () => {
  it('picks the replica with the lowest in-flight share of its maxConcurrency', async () => {
    const a = replica('http://a', 2);
    const b = replica('http://b', 4);
    const g = group(a, b);
    a.inFlight = 1; // 50 %
    b.inFlight = 1; // 25 %
    expect((await g.acquire(live(), 100)).replica).toBe(b);
    a.inFlight = 1; // 50 %
    b.inFlight = 3; // 75 %
    expect((await g.acquire(live(), 100)).replica).toBe(a);
  });

  it('fills replicas in proportion to their maxConcurrency before queueing', async () => {
    const a = replica('http://a', 1);
    const b = replica('http://b', 3);
    const g = group(a, b);
    const leases = await Promise.all([1, 2, 3, 4].map(() => g.acquire(live(), 100)));
    expect(leases.filter((l) => l.replica === a)).toHaveLength(1);
    expect(leases.filter((l) => l.replica === b)).toHaveLength(3);
    expect(g.inFlight).toBe(4);
    expect(g.queueLength).toBe(0);
    const fifth = track(g.acquire(live(), 1000));
    await flush();
    expect(fifth.settled).toBe(false);
    expect(g.queueLength).toBe(1);
    leases[0]!.release();
    await flush();
    expect(fifth.value?.replica).toBe(leases[0]!.replica);
  });

  it('honours the exclude set', async () => {
    const a = replica('http://a', 4);
    const b = replica('http://b', 4);
    const g = group(a, b);
    const exclude = new Set([a]);
    for (let i = 0; i < 3; i++) {
      const lease = await g.acquire(live(), 100, exclude);
      expect(lease.replica).toBe(b);
    }
    expect(a.inFlight).toBe(0);
    expect(b.inFlight).toBe(3);
  });

  it('does not hand a waiter a slot on an excluded replica', async () => {
    const a = replica('http://a', 1);
    const b = replica('http://b', 1);
    const g = group(a, b);
    const la = await g.acquire(live(), 100);
    const lb = await g.acquire(live(), 100);
    expect(new Set([la.replica, lb.replica])).toEqual(new Set([a, b]));
    const onA = la.replica === a ? la : lb;
    const onB = la.replica === a ? lb : la;
    const waiter = track(g.acquire(live(), 1000, new Set([a])));
    onA.release();
    await flush();
    expect(waiter.settled).toBe(false);
    expect(a.inFlight).toBe(0);
    onB.release();
    await flush();
    expect(waiter.value?.replica).toBe(b);
  });

  it('rejects at once with ModelUnavailableError when every candidate is excluded', async () => {
    const a = replica('http://a');
    const g = group(a);
    await expect(g.acquire(live(), 100, new Set([a]))).rejects.toThrow(
      new ModelUnavailableError('m', 'http://a: failed for this request'),
    );
  });

  it('names the cause when the only replica just died under this request', async () => {
    const a = replica('http://a');
    const g = group(a);
    const lease = await g.acquire(live(), 100);
    g.markDown(a, 'connect ECONNREFUSED 127.0.0.1:1');
    lease.release();
    const err = await g.acquire(live(), 100, new Set([a])).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelUnavailableError);
    expect((err as Error).message).toBe(
      'model "m" is unavailable: http://a: connect ECONNREFUSED 127.0.0.1:1',
    );
  });
});

describe('ModelGroup.acquire: the queue', () => {
  it('gives slots to waiters first in, first out as leases are released', async () => {
    const g = group(replica('http://a', 1, 5));
    const first = await g.acquire(live(), 100);
    const order: string[] = [];
    const second = g.acquire(live(), 1000).then((l) => {
      order.push('second');
      return l;
    });
    const third = g.acquire(live(), 1000).then((l) => {
      order.push('third');
      return l;
    });
    expect(g.queueLength).toBe(2);
    first.release();
    const l2 = await second;
    await flush();
    expect(order).toEqual(['second']);
    expect(g.queueLength).toBe(1);
    l2.release();
    await third;
    expect(order).toEqual(['second', 'third']);
    expect(g.queueLength).toBe(0);
    expect(g.inFlight).toBe(1);
  });

  it('refuses with queue_full once the queue holds the sum of maxQueue over usable replicas', async () => {
    const a = replica('http://a', 1, 1);
    const b = replica('http://b', 1, 1);
    const g = group(a, b);
    await g.acquire(live(), 100);
    await g.acquire(live(), 100);
    const waiting = [track(g.acquire(live(), 1000)), track(g.acquire(live(), 1000))];
    expect(g.queueLength).toBe(2);
    const refused = g.acquire(live(), 1000);
    await expect(refused).rejects.toBeInstanceOf(OverloadedError);
    await expect(refused).rejects.toMatchObject({ reason: 'queue_full', model: 'm', retryAfter: 1 });
    expect(g.queueLength).toBe(2);
    await flush();
    expect(waiting.every((w) => !w.settled)).toBe(true);
  });

  it('counts only usable replicas towards the queue capacity', async () => {
    const a = replica('http://a', 1, 1);
    const b = replica('http://b', 1, 5);
    const g = group(a, b);
    await g.acquire(live(), 100);
    await g.acquire(live(), 100);
    track(g.acquire(live(), 1000));
    g.markDown(b, 'connection refused');
    // capacity is now a's maxQueue (1), and one request already waits for a
    await expect(g.acquire(live(), 1000)).rejects.toMatchObject({ reason: 'queue_full' });
  });

  it('refuses at once when maxQueue is 0 and every slot is taken', async () => {
    const g = group(replica('http://a', 1, 0));
    await g.acquire(live(), 100);
    await expect(g.acquire(live(), 1000)).rejects.toMatchObject({ reason: 'queue_full' });
    expect(g.queueLength).toBe(0);
  });

  it('rejects with queue_timeout after queueMs and leaves the queue', async () => {
    vi.useFakeTimers();
    const g = group(replica('http://a', 1, 4));
    const held = await g.acquire(live(), 100);
    const waiter = track(g.acquire(live(), 250));
    await vi.advanceTimersByTimeAsync(249);
    expect(waiter.settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(waiter.error).toBeInstanceOf(OverloadedError);
    expect(waiter.error).toMatchObject({ reason: 'queue_timeout', model: 'm' });
    expect((waiter.error as Error).message).toBe('model "m" had no free slot within the queue deadline');
    expect(g.queueLength).toBe(0);
    // the timed-out waiter does not take the slot that frees later
    held.release();
    expect(g.inFlight).toBe(0);
  });

  it('does not time out a waiter that already got its slot', async () => {
    vi.useFakeTimers();
    const g = group(replica('http://a', 1, 4));
    const held = await g.acquire(live(), 100);
    const waiter = track(g.acquire(live(), 250));
    await vi.advanceTimersByTimeAsync(100);
    held.release();
    await vi.advanceTimersByTimeAsync(1000);
    expect(waiter.error).toBeUndefined();
    expect(waiter.value?.replica).toBe(held.replica);
    expect(g.inFlight).toBe(1);
  });

  it('rejects with the abort reason when the signal aborts while waiting, and removes the waiter', async () => {
    const g = group(replica('http://a', 1, 4));
    const held = await g.acquire(live(), 100);
    const controller = new AbortController();
    const waiter = track(g.acquire(controller.signal, 10_000));
    const behind = track(g.acquire(live(), 10_000));
    expect(g.queueLength).toBe(2);
    const reason = new Error('client went away');
    controller.abort(reason);
    await flush();
    expect(waiter.error).toBe(reason);
    expect(g.queueLength).toBe(1);
    held.release();
    await flush();
    // the slot goes to the request behind the aborted one
    expect(behind.settled).toBe(true);
    expect(behind.error).toBeUndefined();
    expect(g.inFlight).toBe(1);
  });

  it('rejects with the abort reason and takes no slot when the signal is already aborted', async () => {
    const g = group(replica('http://a', 1, 4));
    const controller = new AbortController();
    const reason = new Error('already gone');
    controller.abort(reason);
    await expect(Promise.resolve().then(() => g.acquire(controller.signal, 100))).rejects.toBe(reason);
    expect(g.inFlight).toBe(0);
    expect(g.queueLength).toBe(0);
  });
});

describe('ModelGroup health', () => {
  it('rejects at once when every replica is down, naming each one', async () => {
    const a = replica('http://a');
    const b = replica('http://b');
    const g = group(a, b);
    g.markDown(a, 'connection refused');
    g.markDown(b, 'no answer within 2000 ms');
    const p = g.acquire(live(), 10_000);
    await expect(p).rejects.toBeInstanceOf(ModelUnavailableError);
    await expect(p).rejects.toThrow(
      'model "m" is unavailable: http://a: connection refused; http://b: no answer within 2000 ms',
    );
    expect(g.queueLength).toBe(0);
  });

  it('markDown fails the waiters no remaining replica can serve and keeps the others', async () => {
    const a = replica('http://a', 1);
    const b = replica('http://b', 1);
    const g = group(a, b);
    await g.acquire(live(), 100);
    await g.acquire(live(), 100);
    const onlyB = track(g.acquire(live(), 10_000, new Set([a])));
    const any = track(g.acquire(live(), 10_000));
    g.markDown(b, 'connection refused');
    await flush();
    expect(onlyB.error).toBeInstanceOf(ModelUnavailableError);
    expect((onlyB.error as Error).message).toBe('model "m" is unavailable: connection refused');
    expect(any.settled).toBe(false);
    expect(g.queueLength).toBe(1);
    g.markDown(a, 'reset');
    await flush();
    expect(any.error).toBeInstanceOf(ModelUnavailableError);
    expect(g.queueLength).toBe(0);
  });

  it('probe() marks a replica healthy when the backend answers', async () => {
    const a = replica('http://a');
    const g = group(a);
    g.markDown(a, 'connection refused');
    await g.probe(a, 1000);
    expect(a.healthy).toBe(true);
    expect(a.lastError).toBeUndefined();
  });

  it('probe() marks a replica down with the upstream error', async () => {
    const a = replica(
      'http://a',
      1,
      4,
      stubBackend(async () => {
        throw new UpstreamError('unreachable', 'connect ECONNREFUSED 127.0.0.1:8000');
      }),
    );
    const g = group(a);
    await g.probe(a, 1000);
    expect(a.healthy).toBe(false);
    expect(a.lastError).toBe('connect ECONNREFUSED 127.0.0.1:8000');
    await expect(g.acquire(live(), 100)).rejects.toThrow('http://a: connect ECONNREFUSED 127.0.0.1:8000');
  });

  it('probe() marks a replica down when it does not answer within the timeout', async () => {
    const hanging = stubBackend(
      (signal) =>
        new Promise<void>((_resolve, reject) => {
          signal.addEventListener('abort', () => reject(signal.reason), { once: true });
        }),
    );
    const a = replica('http://a', 1, 4, hanging);
    const g = group(a);
    await g.probe(a, 20);
    expect(a.healthy).toBe(false);
    expect(a.lastError).toBe('no answer within 20 ms');
  });

  it('a replica coming back up serves the waiting requests', async () => {
    const a = replica('http://a', 1);
    const b = replica('http://b', 1);
    const g = group(a, b);
    g.markDown(a, 'connection refused');
    const held = await g.acquire(live(), 100);
    expect(held.replica).toBe(b);
    const waiter = track(g.acquire(live(), 10_000));
    await g.probe(a, 1000);
    await flush();
    expect(waiter.value?.replica).toBe(a);
  });
});

describe('Lease', () => {
  it('release() is idempotent', async () => {
    const g = group(replica('http://a', 2, 4));
    const l1 = await g.acquire(live(), 100);
    await g.acquire(live(), 100);
    const waiter = track(g.acquire(live(), 10_000));
    l1.release();
    l1.release();
    l1.release();
    await flush();
    expect(waiter.settled).toBe(true);
    // l2 and the waiter's lease: a second release must not free another slot
    expect(g.inFlight).toBe(2);
    (waiter.value as Lease).release();
    (waiter.value as Lease).release();
    expect(g.inFlight).toBe(1);
  });
});

describe('ModelRegistry', () => {
  it('groups entries sharing a name as replicas of one model', () => {
    const made: string[] = [];
    const registry = new ModelRegistry(
      [
        modelSchema.parse({ name: 'coder', url: 'http://a', family: 'starcoder' }),
        modelSchema.parse({ name: 'chat', url: 'http://c', roles: ['chat'] }),
        modelSchema.parse({ name: 'coder', url: 'http://b', family: 'starcoder' }),
      ],
      (cfg) => {
        made.push(cfg.url);
        return stubBackend();
      },
    );
    expect(made).toEqual(['http://a', 'http://c', 'http://b']);
    expect([...registry.groups.keys()]).toEqual(['coder', 'chat']);
    expect(registry.get('coder')!.replicas.map((r) => r.config.url)).toEqual(['http://a', 'http://b']);
    expect(registry.get('missing')).toBeUndefined();
  });
});

describe('concurrency limits per replica', () => {
  const parse = (m: Record<string, unknown>) =>
    modelSchema.parse({ name: 'm', url: 'http://a/v1', family: 'deepseek-coder', ...m });
  const slotsFor = (cfg: ModelConfig) => {
    const r: Replica = { config: cfg, backend: stubBackend(), inFlight: 0, healthy: undefined };
    return group(r).limitOf(r);
  };

  it('defaults maxConcurrency by kind and lets an explicit value win', () => {
    expect(slotsFor(parse({ kind: 'openai' })).current).toBe(256);
    expect(slotsFor(parse({ kind: 'ollama' })).current).toBe(4);
    expect(slotsFor(parse({ kind: 'llamacpp' })).current).toBe(4);
    expect(slotsFor(parse({ kind: 'openai', maxConcurrency: 8 })).current).toBe(8);
    expect(slotsFor(parse({})).adaptive).toBe(false);
    const adaptive = slotsFor(parse({ kind: 'ollama', maxConcurrency: 2, adaptiveConcurrency: true }));
    expect([adaptive.current, adaptive.adaptive]).toEqual([2, true]);
  });

  it('refuses a minConcurrency above the ceiling, naming the default it met', () => {
    const err = modelSchema.safeParse({
      name: 'm',
      kind: 'ollama',
      url: 'http://a',
      family: 'deepseek-coder',
      minConcurrency: 6,
    });
    expect(err.success).toBe(false);
    expect(err.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`)).toEqual([
      'minConcurrency: must not exceed maxConcurrency (4, the default for kind ollama)',
    ]);
  });

  it('serves 16 concurrent requests on one vLLM-class replica without queueing by default', async () => {
    const r: Replica = { config: parse({}), backend: stubBackend(), inFlight: 0, healthy: undefined };
    const g = group(r);
    const leases = await Promise.all(Array.from({ length: 16 }, () => g.acquire(live(), 100)));
    expect(leases).toHaveLength(16);
    expect(g.queueLength).toBe(0);
  });

  /** A group on one replica with a scripted clock and real metrics. */
  function scripted(m: Record<string, unknown>) {
    let clock = 0;
    const registry = new Registry();
    const r: Replica = { config: parse(m), backend: stubBackend(), inFlight: 0, healthy: undefined };
    const g = new ModelGroup('m', [r], modelMetrics(registry), () => clock);
    const gauge = async (name: string) =>
      (await registry.getSingleMetric(name)!.get()).values.find((v) => v.labels.url === 'http://a/v1')?.value;
    return {
      g,
      r,
      gauge,
      advance: (ms: number) => {
        clock += ms;
      },
    };
  }

  /** `n` requests leased together, answering their first token `ms` later. */
  async function round(s: ReturnType<typeof scripted>, n: number, ms: number) {
    const leases = await Promise.all(Array.from({ length: n }, () => s.g.acquire(live(), 1000)));
    s.advance(ms);
    for (const l of leases) l.started();
    for (const l of leases) l.release();
  }

  it('shrinks a replica slowed down and grows it back, on the gauges too', async () => {
    const s = scripted({ maxConcurrency: 16, adaptiveConcurrency: true });
    expect(await s.gauge('shenma_model_replica_concurrency_limit')).toBe(16);
    await round(s, 16, 40);
    await round(s, 16, 1000);
    const shrunk = s.g.limitOf(s.r).current;
    expect(shrunk).toBeLessThan(16);
    expect(await s.gauge('shenma_model_replica_concurrency_limit')).toBe(shrunk);
    for (let i = 0; i < 10; i++) await round(s, Math.max(8, s.g.limitOf(s.r).current), 40);
    expect(s.g.limitOf(s.r).current).toBe(16);
    expect(await s.gauge('shenma_model_replica_concurrency_limit')).toBe(16);
  });

  it('reports in-flight requests per replica', async () => {
    const s = scripted({ maxConcurrency: 4 });
    expect(await s.gauge('shenma_model_replica_in_flight')).toBe(0);
    const a = await s.g.acquire(live(), 100);
    const b = await s.g.acquire(live(), 100);
    expect(await s.gauge('shenma_model_replica_in_flight')).toBe(2);
    a.release();
    b.release();
    expect(await s.gauge('shenma_model_replica_in_flight')).toBe(0);
  });

  it('halves on an overload answer before the first token, not on other failures or after it', async () => {
    const s = scripted({ maxConcurrency: 8, adaptiveConcurrency: true });
    const held = await Promise.all(Array.from({ length: 8 }, () => s.g.acquire(live(), 100)));
    held[0]!.failed(new UpstreamError('status', 'upstream answered 400', 400));
    held[1]!.started();
    held[1]!.failed(new UpstreamError('status', 'upstream answered 503', 503));
    expect(s.g.limitOf(s.r).current).toBe(8);
    held[2]!.failed(new UpstreamError('status', 'upstream answered 429', 429));
    expect(s.g.limitOf(s.r).current).toBe(4);
    expect(await s.gauge('shenma_model_replica_concurrency_limit')).toBe(4);
    for (const l of held) l.release();
  });

  it('counts a first-token deadline as a first token at least as late as the lease lasted', async () => {
    const s = scripted({ maxConcurrency: 8, adaptiveConcurrency: true });
    await round(s, 8, 40);
    // Deadlines spent in Shenma's queue: the leases were short, so this is no slow-down.
    let leases = await Promise.all(Array.from({ length: 8 }, () => s.g.acquire(live(), 100)));
    s.advance(30);
    for (const l of leases) l.failed(new UpstreamTimeout('first_token', 'no first token within 2000 ms'));
    for (const l of leases) l.release();
    expect(s.g.limitOf(s.r).current).toBe(8);
    // The replica itself kept them waiting: a window of 2 s first tokens.
    leases = await Promise.all(Array.from({ length: 8 }, () => s.g.acquire(live(), 100)));
    s.advance(2000);
    for (const l of leases) l.failed(new UpstreamTimeout('first_token', 'no first token within 2000 ms'));
    for (const l of leases) l.release();
    expect(s.g.limitOf(s.r).current).toBe(4);
  });

  it('admits waiting requests as soon as a limit grows', async () => {
    const s = scripted({ maxConcurrency: 8, adaptiveConcurrency: true });
    await round(s, 8, 40);
    // A full replica: all eight answer 429, one cut to 4.
    const full = await Promise.all(Array.from({ length: 8 }, () => s.g.acquire(live(), 100)));
    for (const l of full) l.failed(new UpstreamError('status', 'upstream answered 429', 429));
    for (const l of full) l.release();
    expect(s.g.limitOf(s.r).current).toBe(4);
    await round(s, 4, 40);
    const held = await Promise.all(Array.from({ length: 4 }, () => s.g.acquire(live(), 1000)));
    const waiting = track(s.g.acquire(live(), 1000));
    await flush();
    expect(waiting.settled).toBe(false);
    // The eighth first token of a window that held, using the whole limit: 4 + √4 = 6.
    s.advance(40);
    for (const l of held) l.started();
    expect(s.g.limitOf(s.r).current).toBe(6);
    await flush();
    expect(waiting.settled).toBe(true);
    expect(s.r.inFlight).toBe(5);
  });
});

describe('failureSignal', () => {
  it('reads 429, 503 and 504 as overload, a passed deadline as slow, the rest as nothing', () => {
    for (const status of [429, 503, 504]) {
      expect(failureSignal(new UpstreamError('status', `upstream answered ${status}`, status))).toBe(
        'overload',
      );
    }
    expect(failureSignal(new UpstreamTimeout('first_token', 'no first token within 10 ms'))).toBe('slow');
    expect(failureSignal(new UpstreamError('status', 'upstream answered 500', 500))).toBeUndefined();
    expect(failureSignal(new UpstreamError('status', 'upstream answered 400', 400))).toBeUndefined();
    expect(failureSignal(new UpstreamError('unreachable', 'connection refused'))).toBeUndefined();
    expect(failureSignal(new DOMException('aborted', 'AbortError'))).toBeUndefined();
  });
});
