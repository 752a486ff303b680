import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { ElasticsearchSink, type ElasticsearchSinkOptions } from './elasticsearch.js';

/**
 * Elasticsearch itself cannot run on the project's machines, so the sink is checked against the
 * Bulk API's published contract instead: POST {url}/_bulk, `content-type: application/x-ndjson`,
 * one action line `{"index":{"_index":…}}` followed by the document line per event, the body
 * ending in a newline; the reply `{"errors": bool, "items": [{"index": {"status": …}}]}`.
 * A local HTTP server stands in for the cluster, records what it is sent, and can be made slow
 * or failing.
 */

interface Received {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
  at: number;
}

interface FakeBulkServer {
  url: string;
  received: Received[];
  /** Next replies: a status for the whole request, or per-item statuses in a 200 reply. */
  script: ({ status: number } | { items: number[] })[];
  /** While set, requests are held until `release()`. */
  stall(): void;
  release(): void;
  close(): Promise<void>;
}

async function startFakeBulkServer(): Promise<FakeBulkServer> {
  const received: Received[] = [];
  const script: FakeBulkServer['script'] = [];
  let stalled: (() => void)[] | undefined;
  const answer = (res: ServerResponse, body: string) => {
    const next = script.shift();
    if (next && 'status' in next) {
      res.writeHead(next.status, { 'content-type': 'application/json' }).end('{"error":"scripted"}');
      return;
    }
    const lines = body.split('\n').filter(Boolean);
    const statuses = next?.items ?? Array.from({ length: lines.length / 2 }, () => 201);
    const reply = {
      took: 1,
      errors: statuses.some((s) => s >= 300),
      items: statuses.map((status) => ({ index: { _index: 'x', status } })),
    };
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(reply));
  };
  const server: Server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
    });
    req.on('end', () => {
      received.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body,
        at: Date.now(),
      });
      if (stalled) stalled.push(() => answer(res, body));
      else answer(res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    script,
    stall: () => {
      stalled ??= [];
    },
    release: () => {
      const held = stalled ?? [];
      stalled = undefined;
      for (const go of held) go();
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Documents in a recorded bulk body, checking the action/document line pairing on the way. */
function documentsOf(body: string): { action: unknown; doc: Record<string, unknown> }[] {
  expect(body.endsWith('\n')).toBe(true);
  const lines = body.slice(0, -1).split('\n');
  expect(lines.length % 2).toBe(0);
  const out: { action: unknown; doc: Record<string, unknown> }[] = [];
  for (let i = 0; i < lines.length; i += 2) {
    out.push({ action: JSON.parse(lines[i]!), doc: JSON.parse(lines[i + 1]!) });
  }
  return out;
}

async function counterValue(registry: Registry, name: string, labels: Record<string, string> = {}) {
  const metric = await registry.getSingleMetric(name)?.get();
  const match = metric?.values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val));
  return match?.value ?? 0;
}

const until = async (check: () => boolean, timeoutMs = 3000) => {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe('ElasticsearchSink: checks the _bulk request shape Elasticsearch documents; Elasticsearch itself cannot run here', () => {
  let server: FakeBulkServer;
  let sink: ElasticsearchSink | undefined;
  let registry: Registry;
  const open = async (opts: Partial<ElasticsearchSinkOptions> = {}) => {
    server = await startFakeBulkServer();
    registry = new Registry();
    sink = new ElasticsearchSink({
      url: `${server.url}/`,
      index: 'shenma-usage',
      batchSize: 10,
      flushMs: 60_000,
      maxBuffer: 100,
      registry,
      retryDelayMs: 10,
      ...opts,
    });
    return sink;
  };
  afterEach(async () => {
    server.release();
    await sink?.close();
    sink = undefined;
    await server.close();
  });

  it('sends credentials in the URL (the deployed stack: elastic user) as Basic auth, not in the URL', async () => {
    const s = await open();
    await s.close();
    const withUser = server.url.replace('http://', 'http://elastic:p%40ss-w0rd@');
    sink = new ElasticsearchSink({
      url: withUser,
      index: 'shenma-usage',
      batchSize: 10,
      flushMs: 60_000,
      maxBuffer: 100,
      registry: new Registry(),
      retryDelayMs: 10,
    });
    sink.enqueue({ user: 'alice' });
    await sink.flush();
    const [req] = server.received;
    expect(req!.url).toBe('/_bulk');
    expect(req!.headers.authorization).toBe(`Basic ${Buffer.from('elastic:p@ss-w0rd').toString('base64')}`);
  });

  it('posts NDJSON to /_bulk: an index action line and a document line per event, newline-terminated', async () => {
    const s = await open({ apiKey: 'k3y' });
    s.enqueue({ user: 'alice', tokens: 12, text: 'line one\nline "two"' });
    s.enqueue({ user: 'bob' }, { id: 'req-2', index: 'evaluate' });
    await s.flush();
    expect(server.received).toHaveLength(1);
    const [req] = server.received;
    expect(req!.method).toBe('POST');
    expect(req!.url).toBe('/_bulk'); // no refresh=true
    expect(req!.headers['content-type']).toBe('application/x-ndjson');
    expect(req!.headers.authorization).toBe('ApiKey k3y');
    expect(documentsOf(req!.body)).toEqual([
      {
        action: { index: { _index: 'shenma-usage' } },
        doc: { user: 'alice', tokens: 12, text: 'line one\nline "two"' },
      },
      { action: { index: { _index: 'evaluate', _id: 'req-2' } }, doc: { user: 'bob' } },
    ]);
    expect(await counterValue(registry, 'shenma_es_events_sent_total')).toBe(2);
  });

  it('sends a batch as soon as it is full, and in batchSize pieces', async () => {
    const s = await open({ batchSize: 10 });
    for (let i = 0; i < 25; i++) s.enqueue({ i });
    await until(() => server.received.length >= 2);
    await new Promise((r) => setTimeout(r, 50));
    // Two full batches went without waiting for flushMs (a minute); the 5 left wait for it.
    expect(server.received.map((r) => documentsOf(r.body).length)).toEqual([10, 10]);
    expect(s.buffered).toBe(5);
    await s.flush();
    expect(server.received.map((r) => documentsOf(r.body).length)).toEqual([10, 10, 5]);
    const order = server.received.flatMap((r) => documentsOf(r.body).map((d) => d.doc.i));
    expect(order).toEqual(Array.from({ length: 25 }, (_, i) => i));
  });

  it('sends a partial batch once its oldest event has waited flushMs', async () => {
    const s = await open({ batchSize: 100, flushMs: 80 });
    const start = Date.now();
    s.enqueue({ n: 1 });
    s.enqueue({ n: 2 });
    await new Promise((r) => setTimeout(r, 30));
    expect(server.received).toHaveLength(0);
    await until(() => server.received.length === 1);
    expect(server.received[0]!.at - start).toBeGreaterThanOrEqual(70);
    expect(documentsOf(server.received[0]!.body)).toHaveLength(2);
  });

  it('retries a failed batch once, then drops it and counts the events', async () => {
    const s = await open();
    server.script.push({ status: 503 });
    s.enqueue({ n: 1 });
    await s.flush();
    expect(server.received).toHaveLength(2);
    expect(server.received[1]!.body).toBe(server.received[0]!.body);
    expect(await counterValue(registry, 'shenma_es_events_sent_total')).toBe(1);

    server.script.push({ status: 500 }, { status: 500 });
    s.enqueue({ n: 2 });
    s.enqueue({ n: 3 });
    await s.flush();
    expect(server.received).toHaveLength(4);
    expect(await counterValue(registry, 'shenma_es_events_dropped_total', { reason: 'send_failed' })).toBe(2);
    expect(await counterValue(registry, 'shenma_es_bulk_requests_total', { result: 'error' })).toBe(3);
  });

  it('retries only the throttled items of a partly failed bulk reply, and drops refused documents', async () => {
    const s = await open();
    server.script.push({ items: [201, 429, 400] });
    s.enqueue({ n: 1 });
    s.enqueue({ n: 2 });
    s.enqueue({ n: 3 });
    await s.flush();
    expect(server.received).toHaveLength(2);
    expect(documentsOf(server.received[1]!.body).map((d) => d.doc)).toEqual([{ n: 2 }]);
    expect(await counterValue(registry, 'shenma_es_events_sent_total')).toBe(2);
    expect(await counterValue(registry, 'shenma_es_events_dropped_total', { reason: 'rejected' })).toBe(1);
  });

  it('retries once when Elasticsearch is unreachable, then counts the loss', async () => {
    const s = await open();
    await server.close();
    s.enqueue({ n: 1 });
    await s.flush();
    expect(await counterValue(registry, 'shenma_es_events_dropped_total', { reason: 'send_failed' })).toBe(1);
    server = await startFakeBulkServer(); // for afterEach
  });

  it('keeps at most maxBuffer events while Elasticsearch stalls, dropping the rest fast and counted', async () => {
    const s = await open({ batchSize: 10, maxBuffer: 50 });
    server.stall();
    for (let i = 0; i < 10; i++) s.enqueue({ i }); // the batch in flight, held by the server
    await until(() => server.received.length === 1);
    // Enqueue is synchronous and never waits on the stalled request: all of these return at once,
    // and everything beyond the buffer is dropped and counted while the request is still held.
    for (let i = 0; i < 100_000; i++) expect(s.enqueue({ i, text: 'x'.repeat(100) })).toBeUndefined();
    expect(server.received).toHaveLength(1);
    expect(s.buffered).toBe(50);
    expect(await counterValue(registry, 'shenma_es_events_dropped_total', { reason: 'buffer_full' })).toBe(
      99_950,
    );
    server.release();
    await s.flush();
    expect(server.received.map((r) => documentsOf(r.body).length)).toEqual([10, 10, 10, 10, 10, 10]);
  });

  it('never throws from enqueue, even for a document JSON cannot encode', async () => {
    const s = await open();
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    expect(() => s.enqueue(circular)).not.toThrow();
    s.enqueue({ fine: true });
    await s.flush();
    expect(documentsOf(server.received[0]!.body).map((d) => d.doc)).toEqual([{ fine: true }]);
    expect(await counterValue(registry, 'shenma_es_events_dropped_total', { reason: 'unserializable' })).toBe(
      1,
    );
  });

  it('sends what is buffered on close and drops what comes after', async () => {
    const s = await open();
    s.enqueue({ n: 1 });
    await s.close();
    expect(server.received).toHaveLength(1);
    s.enqueue({ n: 2 });
    expect(await counterValue(registry, 'shenma_es_events_dropped_total', { reason: 'closed' })).toBe(1);
    sink = undefined;
  });

  it('shares its counters when two sinks use one registry', async () => {
    await open();
    expect(
      () =>
        new ElasticsearchSink({
          url: server.url,
          index: 'i',
          batchSize: 1,
          flushMs: 10,
          maxBuffer: 1,
          registry,
        }),
    ).not.toThrow();
  });
});
