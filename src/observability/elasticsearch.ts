import { Counter, type Registry } from 'prom-client';
import { Agent, request } from 'undici';

/**
 * Usage events to Elasticsearch through the Bulk API, off the request path: `enqueue` only
 * appends to a bounded buffer (never waits, never throws), and one sender posts batches of up to
 * `batchSize` events when the batch is full or when the oldest event has waited `flushMs`. While
 * Elasticsearch is slow or down the buffer fills to `maxBuffer` and further events are dropped
 * and counted; chat never waits on it. No `refresh=true`: indexing is eventually visible, which
 * is all analytics needs, and forcing a refresh per write is what made the original slow.
 */

export interface ElasticsearchSinkOptions {
  /** Base URL of the cluster, e.g. https://es.example.com:9200 (`/_bulk` is appended). */
  url: string;
  /** Index for events enqueued without one. */
  index: string;
  /** Sent as `Authorization: ApiKey <key>`. */
  apiKey?: string | undefined;
  batchSize: number;
  /** Longest time an event waits in the buffer before its batch is sent. */
  flushMs: number;
  /** Events kept while Elasticsearch is slow; more are dropped and counted. */
  maxBuffer: number;
  registry: Registry;
  /** Per bulk request, for headers and for the body each (default 30 s). */
  requestTimeoutMs?: number;
  /** Wait before the one retry of a failed batch (default 1 s). */
  retryDelayMs?: number;
}

export interface EnqueueOptions {
  /** Document id; with one, a re-sent event overwrites instead of duplicating. */
  id?: string;
  /** Overrides the sink's index for this event. */
  index?: string;
}

type DropReason = 'buffer_full' | 'send_failed' | 'rejected' | 'unserializable' | 'closed';

interface Entry {
  doc: Record<string, unknown>;
  id: string | undefined;
  index: string;
}

/** Bulk item statuses worth one more try: throttled or a node in trouble. */
const isRetryable = (status: number) => status === 429 || status >= 500;

export class ElasticsearchSink {
  readonly #opts: Required<Omit<ElasticsearchSinkOptions, 'apiKey'>> & { apiKey?: string | undefined };
  readonly #bulkUrl: string;
  #basicAuth: string | undefined;
  readonly #agent: Agent;
  readonly #sent: Counter;
  readonly #dropped: Counter<'reason'>;
  readonly #requests: Counter<'result'>;
  #buffer: Entry[] = [];
  #timer: NodeJS.Timeout | undefined;
  /** Set when the buffered events must go out even if fewer than a batch (timer, flush, close). */
  #flushRequested = false;
  #sender: Promise<void> | undefined;
  #closed = false;

  constructor(opts: ElasticsearchSinkOptions) {
    this.#opts = { requestTimeoutMs: 30_000, retryDelayMs: 1000, ...opts };
    // Credentials in the URL (http://elastic:pw@host) become Basic auth: fetch refuses them in URLs.
    const url = new URL(opts.url);
    if (url.username) {
      this.#basicAuth = Buffer.from(
        `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`,
      ).toString('base64');
      url.username = '';
      url.password = '';
    }
    this.#bulkUrl = `${url.toString().replace(/\/+$/, '')}/_bulk`;
    const timeout = this.#opts.requestTimeoutMs;
    this.#agent = new Agent({ connections: 2, headersTimeout: timeout, bodyTimeout: timeout });
    this.#sent = counter(opts.registry, 'shenma_es_events_sent_total', 'Events Elasticsearch indexed', []);
    this.#dropped = counter(
      opts.registry,
      'shenma_es_events_dropped_total',
      'Events not indexed: buffer_full (Elasticsearch too slow), send_failed (bulk failed twice), ' +
        'rejected (Elasticsearch refused the document), unserializable, closed',
      ['reason'],
    );
    this.#requests = counter(
      opts.registry,
      'shenma_es_bulk_requests_total',
      'Bulk requests to Elasticsearch by result (ok, error)',
      ['result'],
    );
  }

  /** Buffers one event; returns at once. Never throws: a full buffer drops the event and counts it. */
  enqueue(doc: Record<string, unknown>, opts: EnqueueOptions = {}): void {
    try {
      if (this.#closed || this.#buffer.length >= this.#opts.maxBuffer) {
        this.#drop(this.#closed ? 'closed' : 'buffer_full', 1);
        return;
      }
      this.#buffer.push({ doc, id: opts.id, index: opts.index ?? this.#opts.index });
      if (this.#buffer.length >= this.#opts.batchSize) this.#startSender();
      else this.#timer ??= setTimeout(() => this.#onTimer(), this.#opts.flushMs).unref();
    } catch {
      // A metrics or timer failure must not reach the chat that reported the event.
    }
  }

  /** Sends everything buffered now (in batches); resolves when it was sent or given up on. */
  async flush(): Promise<void> {
    this.#flushRequested = true;
    while (this.#buffer.length > 0 || this.#sender) {
      this.#startSender();
      await this.#sender;
    }
  }

  /** Sends what is buffered, then stops; later events are dropped (reason `closed`). */
  async close(): Promise<void> {
    this.#closed = true;
    await this.flush();
    this.#clearTimer();
    await this.#agent.close();
  }

  /** Events waiting to be sent (not counting a batch in flight). */
  get buffered(): number {
    return this.#buffer.length;
  }

  #onTimer(): void {
    this.#timer = undefined;
    this.#flushRequested = true;
    this.#startSender();
  }

  #startSender(): void {
    this.#sender ??= this.#sendWhileDue().finally(() => {
      this.#sender = undefined;
      // Events that arrived while the last batch was in flight wait at most flushMs more.
      if (this.#buffer.length > 0 && !this.#closed) {
        if (this.#buffer.length >= this.#opts.batchSize || this.#flushRequested) this.#startSender();
        else this.#timer ??= setTimeout(() => this.#onTimer(), this.#opts.flushMs).unref();
      }
    });
  }

  async #sendWhileDue(): Promise<void> {
    while (this.#buffer.length >= this.#opts.batchSize || (this.#flushRequested && this.#buffer.length > 0)) {
      const batch = this.#buffer.splice(0, this.#opts.batchSize);
      if (this.#buffer.length === 0) {
        this.#flushRequested = false;
        this.#clearTimer();
      }
      await this.#sendBatch(batch);
    }
    if (this.#buffer.length === 0) this.#flushRequested = false;
  }

  /** One bulk request, and one retry of what failed in a retryable way; the rest is counted lost. */
  async #sendBatch(batch: Entry[]): Promise<void> {
    let pending = batch;
    for (let attempt = 0; attempt < 2 && pending.length > 0; attempt++) {
      if (attempt > 0) await sleep(this.#opts.retryDelayMs);
      const { lines, entries } = this.#ndjson(pending);
      if (entries.length === 0) return;
      pending = await this.#post(lines, entries);
    }
    if (pending.length > 0) this.#drop('send_failed', pending.length);
  }

  /** Posts one bulk body; returns the entries worth retrying. */
  async #post(body: string, entries: Entry[]): Promise<Entry[]> {
    let status: number;
    let text: string;
    try {
      const headers: Record<string, string> = { 'content-type': 'application/x-ndjson' };
      if (this.#opts.apiKey) headers['authorization'] = `ApiKey ${this.#opts.apiKey}`;
      else if (this.#basicAuth) headers['authorization'] = `Basic ${this.#basicAuth}`;
      const res = await request(this.#bulkUrl, { method: 'POST', headers, body, dispatcher: this.#agent });
      status = res.statusCode;
      text = await res.body.text();
    } catch {
      this.#requests.inc({ result: 'error' });
      return entries;
    }
    if (status < 200 || status >= 300) {
      this.#requests.inc({ result: 'error' });
      return entries;
    }
    this.#requests.inc({ result: 'ok' });
    return this.#itemsToRetry(text, entries);
  }

  /**
   * A 200 bulk reply can still report per-document failures (`errors: true`, each item with its
   * status). Throttled or failed-on-the-node items are retried; refused documents (mapping
   * errors) would be refused again and are counted as rejected.
   */
  #itemsToRetry(text: string, entries: Entry[]): Entry[] {
    let reply: { errors?: boolean; items?: Record<string, { status?: number }>[] };
    try {
      reply = JSON.parse(text) as typeof reply;
    } catch {
      reply = {};
    }
    if (!reply.errors || !Array.isArray(reply.items)) {
      this.#sent.inc(entries.length);
      return [];
    }
    const retry: Entry[] = [];
    let rejected = 0;
    entries.forEach((entry, i) => {
      const result = reply.items?.[i];
      const status = result ? Object.values(result)[0]?.status : undefined;
      if (status === undefined || (status >= 200 && status < 300)) this.#sent.inc();
      else if (isRetryable(status)) retry.push(entry);
      else rejected++;
    });
    if (rejected > 0) this.#drop('rejected', rejected);
    return retry;
  }

  /** The Bulk API body: an action line and a document line per event, ending in a newline. */
  #ndjson(batch: Entry[]): { lines: string; entries: Entry[] } {
    const entries: Entry[] = [];
    let lines = '';
    for (const entry of batch) {
      let doc: string;
      try {
        doc = JSON.stringify(entry.doc);
      } catch {
        this.#drop('unserializable', 1);
        continue;
      }
      const action =
        entry.id === undefined ? { _index: entry.index } : { _index: entry.index, _id: entry.id };
      lines += `${JSON.stringify({ index: action })}\n${doc}\n`;
      entries.push(entry);
    }
    return { lines, entries };
  }

  #drop(reason: DropReason, count: number): void {
    this.#dropped.inc({ reason }, count);
  }

  #clearTimer(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

/** Reuses a counter already in the registry, so two sinks on one registry do not collide. */
function counter<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: L[],
): Counter<L> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Counter<L>;
  return new Counter({ name, help, labelNames, registers: [registry] });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
