import { StringDecoder } from 'node:string_decoder';
import { createParser } from 'eventsource-parser';
import { Pool } from 'undici';
import { redactUrlsIn } from '../observability/redact.js';
import { type BackendOptions, UpstreamError } from './backend.js';
import { UpstreamResponse } from './upstream-response.js';

export { UpstreamError };

/**
 * What the three backend kinds share: one keep-alive pool per backend, error mapping onto
 * UpstreamError, and streaming decoders (SSE, NDJSON) that never cut a character in two.
 */

export type ResponseBody = UpstreamResponse;

/** How long an upstream error message may be once it reaches logs and clients. */
const MAX_ERROR_MESSAGE = 200;
/** Error bodies are read only this far: enough for any JSON error, bounded for a hostile one. */
const MAX_ERROR_BODY_BYTES = 16 * 1024;
/** A single SSE event or NDJSON line larger than this is not a completion chunk. */
const MAX_LINE_CHARS = 1024 * 1024;
/**
 * Backstop only: the caller's signal enforces the real deadlines. This just keeps a forgotten
 * request from pinning a socket forever.
 */
const BACKSTOP_TIMEOUT_MS = 5 * 60_000;

function errorCode(err: unknown): string | undefined {
  const seen = new Set<unknown>();
  let cur: unknown = err;
  // undici wraps socket errors; the useful code is sometimes on the cause.
  while (cur && typeof cur === 'object' && !seen.has(cur)) {
    seen.add(cur);
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

function describe(err: unknown): string {
  const code = errorCode(err);
  const message = err instanceof Error ? err.message : String(err);
  return code && !message.includes(code) ? `${code}: ${message}` : message;
}

export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (raw === undefined) return undefined;
  const trimmed = raw.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.ceil(Number(trimmed));
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, Math.ceil((date - now) / 1000));
}

/** Pulls the human message out of the error shapes OpenAI, vLLM, Ollama and llama.cpp use. */
export function upstreamMessage(body: string): string {
  let message = body.trim();
  try {
    const parsed: unknown = JSON.parse(body);
    if (parsed && typeof parsed === 'object') {
      const p = parsed as Record<string, unknown>;
      const error = p['error'];
      if (typeof error === 'string') message = error;
      else if (
        error &&
        typeof error === 'object' &&
        typeof (error as { message?: unknown }).message === 'string'
      ) {
        message = (error as { message: string }).message;
      } else if (typeof p['message'] === 'string') message = p['message'];
      else if (typeof p['detail'] === 'string') message = p['detail'];
    }
  } catch {
    // Not JSON: the raw text is the message.
  }
  return message.replace(/\s+/g, ' ');
}

const QUOTE_WINDOW = 24;

/**
 * Upstream messages may echo the request (validation errors often do). Prompts are user code, so
 * a message that quotes one is withheld rather than logged or returned.
 */
export function withholdQuotes(message: string, secrets: readonly string[]): string {
  const truncated =
    message.length > MAX_ERROR_MESSAGE ? `${message.slice(0, MAX_ERROR_MESSAGE - 1)}…` : message;
  for (const secret of secrets) {
    if (secret.length === 0) continue;
    if (secret.length < QUOTE_WINDOW) {
      if (secret.length >= 8 && truncated.includes(secret))
        return '(message withheld: it quotes the request)';
      continue;
    }
    for (let i = 0; i + QUOTE_WINDOW <= truncated.length; i++) {
      if (secret.includes(truncated.slice(i, i + QUOTE_WINDOW))) {
        return '(message withheld: it quotes the request)';
      }
    }
  }
  return truncated;
}

function joinPath(base: URL, path: string): string {
  return base.pathname.replace(/\/+$/, '') + path + base.search;
}

function jsonText(body: unknown): string | Uint8Array | null {
  if (body === undefined) return null;
  return body instanceof Uint8Array ? body : JSON.stringify(body);
}

export class UpstreamClient {
  private readonly base: URL;
  private readonly pool: Pool;
  private readonly headers: Record<string, string>;

  constructor(opts: BackendOptions) {
    this.base = new URL(opts.url);
    this.pool = new Pool(this.base.origin, {
      headersTimeout: BACKSTOP_TIMEOUT_MS,
      bodyTimeout: BACKSTOP_TIMEOUT_MS,
      keepAliveTimeout: 30_000,
      connect: { timeout: 10_000 },
    });
    this.headers = { accept: '*/*' };
    if (opts.apiKey) this.headers['authorization'] = `Bearer ${opts.apiKey}`;
    else if (this.base.username || this.base.password) {
      // Credentials in the URL (http://user:pass@host) are sent as Basic auth; the pool's origin drops them.
      const user = decodeURIComponent(this.base.username);
      const pass = decodeURIComponent(this.base.password);
      this.headers['authorization'] = `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
    }
  }

  /** Sends the request and returns the body of a 2xx answer; maps everything else to UpstreamError. */
  async open(
    method: 'GET' | 'POST',
    /**
     * `body`: a value sent as JSON, or bytes that already are JSON. `secrets`: request text (the
     * prompt) that upstream error messages must not repeat.
     */
    call: { path: string; body?: unknown; secrets?: readonly string[] },
    signal: AbortSignal,
  ): Promise<ResponseBody> {
    signal.throwIfAborted();
    let response: UpstreamResponse;
    try {
      response = await UpstreamResponse.send(
        this.pool,
        {
          method,
          path: joinPath(this.base, call.path),
          headers:
            call.body === undefined ? this.headers : { ...this.headers, 'content-type': 'application/json' },
          body: jsonText(call.body),
        },
        signal,
      );
    } catch (err) {
      signal.throwIfAborted();
      if (errorCode(err)?.startsWith('HPE_')) {
        throw new UpstreamError('protocol', `invalid HTTP from backend: ${describe(err)}`);
      }
      // Refused, DNS, TLS, or dropped before any answer: either way this replica cannot serve now.
      throw new UpstreamError('unreachable', `backend unreachable: ${describe(err)}`);
    }
    const { statusCode, headers } = response;
    if (statusCode >= 200 && statusCode < 300) return response;
    let text = '';
    try {
      text = await response.text(MAX_ERROR_BODY_BYTES);
    } catch {
      signal.throwIfAborted();
    }
    const message = withholdQuotes(upstreamMessage(text), call.secrets ?? []);
    throw new UpstreamError(
      'status',
      `backend answered ${statusCode}`,
      statusCode,
      parseRetryAfter(headers['retry-after']),
      message ? redactUrlsIn(message) : undefined,
    );
  }

  async probe(path: string, signal: AbortSignal): Promise<void> {
    let body: ResponseBody;
    try {
      body = await this.open('GET', { path }, signal);
    } catch (err) {
      // A server that answers 404 to its own health path is usually a URL without its API base.
      if (err instanceof UpstreamError && err.status === 404) {
        throw new UpstreamError(
          'status',
          `GET ${joinPath(this.base, path)} answered 404: is the url the server's API base? (kind openai: usually ending in /v1; ollama and llamacpp: without it)`,
          404,
        );
      }
      throw err;
    }
    try {
      await body.text(MAX_ERROR_BODY_BYTES);
    } catch {
      signal.throwIfAborted();
    }
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

/** What a protocol parser says about one event or line. */
export type Parsed = { text?: string; done?: boolean };

/**
 * Turns body bytes into protocol payloads (SSE `data`, NDJSON lines), UTF-8 decoded across
 * chunk boundaries so no payload ends inside a character. Pure, so it can be property-tested.
 */
export interface PayloadDecoder {
  push(bytes: Uint8Array): string[];
  /** The body ended: whatever is left, e.g. a last event without its blank line. */
  end(): string[];
}

/** What one payload means: a value to yield, and/or the backend saying it is done. */
export type Step<T> = { value?: T; done?: boolean } | undefined;

/**
 * The next chunk of an upstream body if one has arrived: `null` at its end, `undefined` when
 * nothing has arrived yet (wait with `body.readable()`). A broken stream is a `reset`; an abort is
 * thrown as the signal's own reason.
 */
export function takeChunk(body: ResponseBody, signal: AbortSignal): Buffer | null | undefined {
  try {
    return body.take();
  } catch (err) {
    signal.throwIfAborted();
    throw new UpstreamError('reset', `backend stream broke: ${describe(err)}`);
  }
}

/** The body ended without the backend saying it was done (and the caller cannot tell it was whole). */
export function endedEarly(): UpstreamError {
  return new UpstreamError('reset', 'backend stream ended before it said it was done');
}

/** SSE `data` payloads: CRLF, comments, multi-line data and unknown fields per the SSE spec. */
export function sseDecoder(maxEventChars = MAX_LINE_CHARS): PayloadDecoder {
  // StringDecoder rather than TextDecoder: the same handling of a character split across reads,
  // at a fraction of the cost per read (this runs for every network read of every answer).
  const text = new StringDecoder('utf8');
  let out: string[] = [];
  let oversized = false;
  const parser = createParser({
    maxBufferSize: maxEventChars,
    onEvent: (event) => out.push(event.data),
    onError: (error) => {
      if (error.type === 'max-buffer-size-exceeded') oversized = true;
    },
  });
  const take = () => {
    if (oversized) throw new UpstreamError('protocol', 'backend sent an oversized event');
    const events = out;
    out = [];
    return events;
  };
  return {
    push(bytes) {
      const decoded = text.write(bytes);
      if (decoded) parser.feed(decoded);
      return take();
    },
    end() {
      const rest = text.end();
      if (rest) parser.feed(rest);
      // A last event without its blank line still counts (the SSE spec would drop it; a backend
      // that closes right after its final event should not lose it). Blank lines after a
      // complete event dispatch nothing, so this is harmless when the stream ended cleanly.
      parser.feed('\n\n');
      parser.reset();
      return take();
    },
  };
}

export function ndjsonDecoder(): PayloadDecoder {
  const text = new StringDecoder('utf8');
  let partial = '';
  const lines = (decoded: string) => {
    partial += decoded;
    const out: string[] = [];
    let newline = partial.indexOf('\n');
    while (newline >= 0) {
      const line = partial.slice(0, newline).trim();
      if (line) out.push(line);
      partial = partial.slice(newline + 1);
      newline = partial.indexOf('\n');
    }
    if (partial.length > MAX_LINE_CHARS)
      throw new UpstreamError('protocol', 'backend sent an oversized line');
    return out;
  };
  return {
    push: (bytes) => lines(text.write(bytes)),
    end() {
      const out = lines(text.end());
      const line = partial.trim();
      partial = '';
      if (line) out.push(line);
      return out;
    },
  };
}

export function parseJson(payload: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(payload);
  } catch {
    throw new UpstreamError('protocol', `backend sent unparseable ${what}`);
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    throw new UpstreamError('protocol', `backend sent a ${what} that is not a JSON object`);
  }
  return value as Record<string, unknown>;
}

/** An `error` inside an already-started stream: the generation broke after it began. */
export function streamedError(
  event: Record<string, unknown>,
  secrets: readonly string[],
): UpstreamError | undefined {
  if (event['error'] === undefined) return undefined;
  const message = withholdQuotes(upstreamMessage(JSON.stringify(event)), secrets);
  return new UpstreamError(
    'reset',
    'backend reported an error mid-stream',
    undefined,
    undefined,
    redactUrlsIn(message),
  );
}
