import { createServer } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type FakeModel, startFakeModel } from '../../test/fake-model/server.js';
import { modelSchema } from '../config/schema.js';
import { UpstreamError, UpstreamTimeout } from './errors.js';
import { createBackend } from './factory.js';
import { ModelRegistry } from './pool.js';
import { type CallPolicy, type ResilientCall, ResilientStream } from './resilient-call.js';

/**
 * The resilient upstream call against real HTTP backends (the scripted fake model): which failures
 * move to another replica or model, and that nothing is retried once the answer started.
 */

/** Each item with the model and replica that answered it, as the chat service reads them. */
async function* resilientCall<T>(call: ResilientCall<T>) {
  const stream = new ResilientStream(call);
  try {
    for await (const item of stream) yield { item, group: stream.group!, replica: stream.replica! };
  } finally {
    await stream.return();
  }
}

let a: FakeModel;
let b: FakeModel;
beforeAll(async () => {
  a = await startFakeModel();
  b = await startFakeModel();
});
afterEach(() => {
  a.reset();
  b.reset();
});
afterAll(async () => {
  await a.close();
  await b.close();
});

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function registry(models: { name: string; url: string }[]): ModelRegistry {
  return new ModelRegistry(
    models.map((m) => modelSchema.parse({ ...m, kind: 'openai', family: 'deepseek-coder' })),
    (c) => createBackend(c.kind, { url: c.url }),
  );
}

const policy = (over: Partial<CallPolicy<string>> = {}): CallPolicy<string> => ({
  triesPerModel: 3,
  retryReplica: (err) => (err as { retryable?: boolean }).retryable === true,
  nextModel: (err) => (err as { retryable?: boolean }).retryable === true,
  firstTokenMs: 2_000,
  ...over,
});

async function run(
  models: ModelRegistry,
  names: string[],
  p: CallPolicy<string>,
  retries: string[] = [],
  controller?: AbortController,
) {
  const items: { item: string; model: string }[] = [];
  const answer = resilientCall({
    models: names.map((n) => models.get(n)!),
    signal: (controller ?? new AbortController()).signal,
    ...(controller ? { controller } : {}),
    policy: p,
    open: (replica, _group, signal) =>
      replica.backend.streamFim(
        { model: 'm', prompt: 'x = ', maxTokens: 16, temperature: 0, stop: [] },
        signal,
      ),
    observe: {
      retrying: ({ to, nextModel }) => retries.push(`${nextModel ? 'model' : 'replica'}:${to.name}`),
    },
  });
  for await (const { item, group } of answer) items.push({ item, model: group.name });
  return items;
}

describe('resilientCall', () => {
  it('moves to another replica when one is unreachable, and marks it down', async () => {
    const down = `http://127.0.0.1:${await closedPort()}/v1`;
    const models = registry([
      { name: 'coder', url: down },
      { name: 'coder', url: `${a.url}/v1` },
    ]);
    a.enqueue({ chunks: ['1 + ', '2'] });
    // Equal load and health: the first replica configured (the down one) is tried first.
    const retries: string[] = [];
    const items = await run(models, ['coder'], policy(), retries);
    expect(items.map((i) => i.item).join('')).toBe('1 + 2');
    expect(retries).toEqual(['replica:coder']);
    const replicas = models.get('coder')!.replicas;
    expect(replicas.find((r) => r.config.url === down)!.healthy).toBe(false);
    expect(replicas.find((r) => r.config.url === `${a.url}/v1`)!.healthy).toBe(true);
    await models.close();
  });

  it('goes to the next model when the policy says so, and not when it does not', async () => {
    const models = registry([
      { name: 'big', url: `${a.url}/v1` },
      { name: 'small', url: `${b.url}/v1` },
    ]);
    a.enqueue({ chunks: [], fault: { kind: 'status', status: 503 } });
    b.enqueue({ chunks: ['from small'] });
    const retries: string[] = [];
    const items = await run(models, ['big', 'small'], policy({ retryReplica: () => false }), retries);
    expect(items).toEqual([{ item: 'from small', model: 'small' }]);
    expect(retries).toEqual(['model:small']);

    a.enqueue({ chunks: [], fault: { kind: 'status', status: 400 } });
    const refused = await run(models, ['big', 'small'], policy()).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(UpstreamError);
    expect((refused as UpstreamError).status).toBe(400);
    expect(b.requests.filter((r) => r.path === '/v1/completions')).toHaveLength(1);
    await models.close();
  });

  it('never retries once the answer started', async () => {
    const models = registry([
      { name: 'big', url: `${a.url}/v1` },
      { name: 'small', url: `${b.url}/v1` },
    ]);
    a.enqueue({ chunks: ['half', ' of it', ' more'], fault: { kind: 'reset', afterChunks: 1 } });
    const items: string[] = [];
    const failure = await (async () => {
      for await (const { item } of resilientCall({
        models: [models.get('big')!, models.get('small')!],
        signal: new AbortController().signal,
        policy: policy(),
        open: (replica, _g, signal) =>
          replica.backend.streamFim(
            { model: 'm', prompt: 'p', maxTokens: 8, temperature: 0, stop: [] },
            signal,
          ),
      }))
        items.push(item);
    })().catch((e: unknown) => e);
    expect(items).toEqual(['half']);
    expect(failure).toBeInstanceOf(UpstreamError);
    expect(b.requests).toHaveLength(0);
    await models.close();
  });

  it('holds back items that do not start the answer, so another model can replace them', async () => {
    const models = registry([
      { name: 'big', url: `${a.url}/v1` },
      { name: 'small', url: `${b.url}/v1` },
    ]);
    a.enqueue({ chunks: ['   ', 'never seen'], fault: { kind: 'reset', afterChunks: 1 } });
    b.enqueue({ chunks: ['  ', 'answer'] });
    const items = await run(
      models,
      ['big', 'small'],
      policy({ startsAnswer: (piece) => piece.trim() !== '' }),
    );
    expect(items).toEqual([
      { item: '  ', model: 'small' },
      { item: 'answer', model: 'small' },
    ]);
    await models.close();
  });

  /**
   * An upstream under the test's control: `items` are handed out as asked, then `next()` waits
   * until the try's signal aborts (a model gone quiet mid-answer). Like the real backends, a read
   * after the abort fails even when an item is waiting. Records the abort.
   */
  function scriptedUpstream(items: string[]) {
    const seen = { aborted: false };
    const open = (_replica: unknown, _group: unknown, signal: AbortSignal): AsyncIterable<string> => ({
      [Symbol.asyncIterator]: () => ({
        next: () => {
          if (signal.aborted) {
            seen.aborted = true;
            return Promise.reject(signal.reason);
          }
          const item = items.shift();
          if (item !== undefined) return Promise.resolve({ value: item, done: false as const });
          return new Promise<IteratorResult<string>>((_resolve, reject) => {
            const onAbort = () => {
              seen.aborted = true;
              reject(signal.reason);
            };
            if (signal.aborted) onAbort();
            else signal.addEventListener('abort', onAbort, { once: true });
          });
        },
        return: () => Promise.resolve({ value: undefined, done: true as const }),
      }),
    });
    return { open, seen };
  }

  it('ends the answer when the upstream falls silent mid-answer for longer than idleMs', async () => {
    const models = registry([{ name: 'big', url: `${a.url}/v1` }]);
    const upstream = scriptedUpstream(['first']);
    const items: string[] = [];
    // The second item never comes: only the idle deadline can end this loop.
    const failure = await (async () => {
      for await (const { item } of resilientCall({
        models: [models.get('big')!],
        signal: new AbortController().signal,
        policy: policy({ idleMs: 50 }),
        open: upstream.open,
      }))
        items.push(item);
    })().catch((e: unknown) => e);
    expect(items).toEqual(['first']);
    expect(failure).toBeInstanceOf(UpstreamTimeout);
    expect((failure as UpstreamTimeout).deadline).toBe('idle');
    expect(upstream.seen.aborted).toBe(true);
    await models.close();
  });

  it('does not count a slow consumer as upstream silence', async () => {
    const models = registry([{ name: 'big', url: `${a.url}/v1` }]);
    // Every item is there the moment it is asked for: the upstream never keeps us waiting.
    const upstream = scriptedUpstream(['one', ' two', ' three']);
    const items: string[] = [];
    const answer = resilientCall({
      models: [models.get('big')!],
      signal: new AbortController().signal,
      policy: policy({ idleMs: 50 }),
      open: upstream.open,
    });
    for await (const { item } of answer) {
      items.push(item);
      // Longer than the deadline (a slower machine only makes it longer): only we are slow.
      if (items.length === 2) await new Promise((resolve) => setTimeout(resolve, 200));
      if (items.length === 3) break;
    }
    expect(items.join('')).toBe('one two three');
    expect(upstream.seen.aborted).toBe(false);
    await models.close();
  });

  it('ends a silent replica at the first-token deadline', async () => {
    const models = registry([{ name: 'big', url: `${a.url}/v1` }]);
    a.enqueue({ chunks: ['late'], fault: { kind: 'stall' } });
    const failure = await run(models, ['big'], policy({ firstTokenMs: 150, queueMs: 1_000 })).catch(
      (e: unknown) => e,
    );
    expect(failure).toBeInstanceOf(UpstreamTimeout);
    expect((failure as UpstreamTimeout).deadline).toBe('first_token');
    expect((await a.waitForStreamEnd(0, 2_000)).clientClosed).toBe(true);
    await models.close();
  });

  it("with the caller's controller lent, a deadline no other try could follow ends the caller's request", async () => {
    const models = registry([{ name: 'big', url: `${a.url}/v1` }]);
    a.enqueue({ chunks: ['late'], fault: { kind: 'stall' } });
    const caller = new AbortController();
    const failure = await run(
      models,
      ['big'],
      policy({ firstTokenMs: 150, queueMs: 1_000 }),
      [],
      caller,
    ).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(UpstreamTimeout);
    expect((failure as UpstreamTimeout).deadline).toBe('first_token');
    expect(caller.signal.reason).toBe(failure);
    expect((await a.waitForStreamEnd(0, 2_000)).clientClosed).toBe(true);
    await models.close();
  });

  it("with the caller's controller lent, a deadline still moves on to the fallback and leaves the caller's request alone", async () => {
    const models = registry([
      { name: 'big', url: `${a.url}/v1` },
      { name: 'small', url: `${b.url}/v1` },
    ]);
    a.enqueue({ chunks: ['late'], fault: { kind: 'stall' } });
    b.enqueue({ chunks: ['from small'] });
    const caller = new AbortController();
    const retries: string[] = [];
    const items = await run(
      models,
      ['big', 'small'],
      policy({ firstTokenMs: 150, queueMs: 1_000 }),
      retries,
      caller,
    );
    expect(items).toEqual([{ item: 'from small', model: 'small' }]);
    // The policy retries a missing first token on another replica: there is none, so the next model.
    expect(retries).toEqual(['replica:big', 'model:small']);
    expect(caller.signal.aborted).toBe(false);
    expect((await a.waitForStreamEnd(0, 2_000)).clientClosed).toBe(true);
    await models.close();
  });

  it('frees the slot and closes the upstream when the consumer stops early', async () => {
    const models = registry([{ name: 'big', url: `${a.url}/v1` }]);
    a.enqueue({ chunks: ['one', 'two', 'three', 'four'], interChunkMs: 50 });
    const group = models.get('big')!;
    const stream = new ResilientStream<string>({
      models: [group],
      signal: new AbortController().signal,
      policy: policy(),
      open: (replica, _g, signal) =>
        replica.backend.streamFim(
          { model: 'm', prompt: 'p', maxTokens: 8, temperature: 0, stop: [] },
          signal,
        ),
    });
    const seen: string[] = [];
    for await (const item of stream) {
      seen.push(item);
      expect(stream.group).toBe(group);
      expect(group.replicas[0]!.inFlight).toBe(1);
      break;
    }
    expect(seen).toEqual(['one']);
    expect(group.replicas[0]!.inFlight).toBe(0);
    expect((await a.waitForStreamEnd(0, 2_000)).clientClosed).toBe(true);
    await models.close();
  });
});
