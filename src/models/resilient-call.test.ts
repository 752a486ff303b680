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

  it('ends the answer when the upstream falls silent mid-answer for longer than idleMs', async () => {
    const models = registry([{ name: 'big', url: `${a.url}/v1` }]);
    a.enqueue({ chunks: ['first', ' late'], interChunkMs: 1_500 });
    const items: string[] = [];
    const started = performance.now();
    const failure = await (async () => {
      for await (const { item } of resilientCall({
        models: [models.get('big')!],
        signal: new AbortController().signal,
        policy: policy({ idleMs: 200 }),
        open: (replica, _g, signal) =>
          replica.backend.streamFim(
            { model: 'm', prompt: 'x = ', maxTokens: 16, temperature: 0, stop: [] },
            signal,
          ),
      }))
        items.push(item);
    })().catch((e: unknown) => e);
    expect(items).toEqual(['first']);
    expect(failure).toBeInstanceOf(UpstreamTimeout);
    expect((failure as UpstreamTimeout).deadline).toBe('idle');
    // The deadline, not the late chunk, ended it.
    expect(performance.now() - started).toBeLessThan(1_200);
    expect((await a.waitForStreamEnd(0, 2_000)).clientClosed).toBe(true);
    await models.close();
  });

  it('does not count a slow consumer as upstream silence', async () => {
    const models = registry([{ name: 'big', url: `${a.url}/v1` }]);
    // The upstream never pauses for as long as the deadline; the consumer does, mid-answer.
    const words = Array.from({ length: 12 }, (_, i) => ` w${i}`);
    a.enqueue({ chunks: words, interChunkMs: 60 });
    const items: string[] = [];
    for await (const { item } of resilientCall({
      models: [models.get('big')!],
      signal: new AbortController().signal,
      policy: policy({ idleMs: 150 }),
      open: (replica, _g, signal) =>
        replica.backend.streamFim(
          { model: 'm', prompt: 'x = ', maxTokens: 16, temperature: 0, stop: [] },
          signal,
        ),
    })) {
      items.push(item);
      // Far longer than the deadline, while the upstream is still streaming: only we were slow.
      if (items.length === 2) await new Promise((resolve) => setTimeout(resolve, 400));
    }
    expect(items.join('')).toBe(words.join(''));
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
