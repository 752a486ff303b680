import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

/**
 * A scripted stand-in for vLLM / Ollama / llama.cpp, loopback only. Tests and benchmarks queue
 * scripts (text, timing, faults) and read back what was asked and how much was streamed, including
 * what happened after the client hung up.
 */

export type Fault =
  | { kind: 'status'; status: number; retryAfter?: number; body?: string }
  | { kind: 'stall' }
  | { kind: 'reset'; afterChunks: number }
  | { kind: 'malformed'; afterChunks: number }
  | { kind: 'hang' };

interface ScriptTiming {
  ttftMs?: number;
  interChunkMs?: number;
  finishReason?: string;
  fault?: Fault;
  /** Writes the bytes of the first multi-byte character across two network writes. */
  splitUtf8?: boolean;
  /**
   * Chat only: function calls the answer makes after its text, each streamed as an opening delta
   * (id, name) and its arguments in two pieces; the finish reason defaults to `tool_calls`.
   */
  toolCalls?: { name: string; arguments: string; id?: string }[];
  /** Chat only: the usage chunk's counts (default: prompt characters / 4, one token per chunk). */
  usage?: { prompt_tokens: number; completion_tokens: number };
}

export type Script =
  | (ScriptTiming & { chunks: string[]; text?: undefined; chunkChars?: undefined })
  | (ScriptTiming & { text: string; chunkChars?: number; chunks?: undefined });

/**
 * `chat` is the OpenAI chat-completions API, which vLLM, Ollama and llama.cpp all serve;
 * `responses` the OpenAI Responses API (typed SSE events), which newer servers speak.
 */
export type Protocol = 'openai' | 'ollama' | 'llamacpp' | 'chat' | 'responses';

export interface RecordedRequest {
  path: string;
  method: string;
  headers: IncomingHttpHeaders;
  /** Parsed JSON when the body was JSON, the raw text otherwise, undefined when empty. */
  body: unknown;
  /** The body's text as it arrived (escapes and all). */
  rawBody: string;
  /** Epoch milliseconds (sub-millisecond precision), same clock as {@link epochMs}. */
  receivedAt: number;
  /** Client port: equal ports on consecutive requests mean the connection was kept alive. */
  remotePort: number | undefined;
}

export interface StreamRecord {
  path: string;
  protocol: Protocol;
  stream: boolean;
  chunksPlanned: number;
  chunksWritten: number;
  /** Writes made after the server saw the close; the writer checks before every write, so >0 is a bug. */
  chunksWrittenAfterClientClose: number;
  /** Chunks the script still had when the client closed: generation the client did not wait for. */
  chunksRemainingAtClose: number;
  clientClosed: boolean;
  /** The response ended normally (or with its scripted error status). */
  finished: boolean;
  startedAt: number;
  /** Epoch ms of each content chunk write, so a caller can count writes after its own abort time. */
  chunkWrittenAt: number[];
  clientClosedAt?: number;
  finishedAt?: number;
}

export interface FakeModelOptions {
  port?: number;
  /** Behave like vLLM: 400 with an OpenAI-style error when `/v1/completions` gets a `suffix`. */
  rejectSuffix?: boolean;
  defaultScript?: Script;
}

export interface FakeModel {
  /** http://127.0.0.1:PORT */
  url: string;
  /** FIFO; each generation request takes one, then falls back to the default script. */
  enqueue(...scripts: Script[]): void;
  requests: RecordedRequest[];
  streams: StreamRecord[];
  /** Status answered by the cheap metadata endpoints (/v1/models, /api/tags, /health). */
  healthStatus: number;
  waitForRequests(n: number, timeoutMs: number): Promise<void>;
  /** Resolves once `streams[index]` exists: the generation request has reached the model. */
  waitForStreamStart(index: number, timeoutMs: number): Promise<StreamRecord>;
  /** Resolves once `streams[index]` has finished or seen its client close. */
  waitForStreamEnd(index: number, timeoutMs: number): Promise<StreamRecord>;
  reset(): void;
  close(): Promise<void>;
}

export const epochMs = (): number => performance.timeOrigin + performance.now();

export const DEFAULT_SCRIPT: Script = { chunks: ['fake', ' completion'] };

/** `text` in `count` roughly equal pieces, never splitting a character (`--chunks` of main.ts). */
export function splitInto(text: string, count: number): string[] {
  const points = Array.from(text);
  const size = Math.max(1, Math.ceil(points.length / count));
  const pieces: string[] = [];
  for (let i = 0; i < points.length; i += size) pieces.push(points.slice(i, i + size).join(''));
  return pieces;
}

/** Counts content chunks written after `since` (epoch ms), e.g. after the caller aborted. */
export function chunksWrittenSince(record: StreamRecord, since: number): number {
  return record.chunkWrittenAt.filter((t) => t > since).length;
}

export function scriptChunks(script: Script): string[] {
  if (script.chunks) return script.chunks;
  const size = script.chunkChars ?? 4;
  // Split by code points so only `splitUtf8` ever cuts a character.
  const points = Array.from(script.text);
  const pieces: string[] = [];
  for (let i = 0; i < points.length; i += size) pieces.push(points.slice(i, i + size).join(''));
  return pieces;
}

interface Frames {
  contentType: string;
  /** Written once generation starts, before the first content chunk (the chat role chunk). */
  opening?: Buffer;
  chunks: Buffer[];
  terminator: Buffer;
  malformed: Buffer;
  whole: Buffer;
  errorBody(status: number): string;
}

const sse = (payload: string) => Buffer.from(`data: ${payload}\n\n`);

function buildFrames(
  protocol: Exclude<Protocol, 'chat' | 'responses'>,
  chunks: string[],
  finishReason: string,
): Frames {
  const whole = chunks.join('');
  switch (protocol) {
    case 'openai':
      return {
        contentType: 'text/event-stream',
        chunks: chunks.map((text) =>
          sse(JSON.stringify({ choices: [{ text, index: 0, finish_reason: null }] })),
        ),
        terminator: Buffer.concat([
          sse(JSON.stringify({ choices: [{ text: '', index: 0, finish_reason: finishReason }] })),
          sse('[DONE]'),
        ]),
        malformed: sse('{"choices":[{"text":'),
        whole: Buffer.from(
          JSON.stringify({
            id: 'cmpl-fake',
            object: 'text_completion',
            model: 'fake-model',
            choices: [{ text: whole, index: 0, finish_reason: finishReason }],
          }),
        ),
        errorBody: (status) =>
          JSON.stringify({
            error: { message: `fake error ${status}`, type: 'fake_error', param: null, code: status },
          }),
      };
    case 'ollama':
      return {
        contentType: 'application/x-ndjson',
        chunks: chunks.map((response) =>
          Buffer.from(JSON.stringify({ model: 'fake-model', response, done: false }) + '\n'),
        ),
        terminator: Buffer.from(
          JSON.stringify({ model: 'fake-model', response: '', done: true, done_reason: finishReason }) + '\n',
        ),
        malformed: Buffer.from('{"response":"x","done":\n'),
        whole: Buffer.from(
          JSON.stringify({ model: 'fake-model', response: whole, done: true, done_reason: finishReason }),
        ),
        errorBody: (status) => JSON.stringify({ error: `fake error ${status}` }),
      };
    case 'llamacpp': {
      const stopType = finishReason === 'length' ? 'limit' : 'eos';
      return {
        contentType: 'text/event-stream',
        chunks: chunks.map((content) => sse(JSON.stringify({ content, stop: false }))),
        terminator: sse(JSON.stringify({ content: '', stop: true, stop_type: stopType })),
        malformed: sse('{"content":'),
        whole: Buffer.from(JSON.stringify({ content: whole, stop: true, stop_type: stopType })),
        errorBody: (status) =>
          JSON.stringify({ error: { code: status, message: `fake error ${status}`, type: 'fake_error' } }),
      };
    }
  }
}

function promptChars(body: Record<string, unknown>): number {
  const messages = body['messages'];
  if (!Array.isArray(messages)) return 0;
  return messages.reduce<number>((n, m) => {
    const content: unknown = (m as { content?: unknown } | null)?.content;
    return n + (typeof content === 'string' ? content.length : 0);
  }, 0);
}

/**
 * Chat frames depend on the request (model echoed, usage only when asked), so they are built per
 * request: a role chunk, one content delta per script chunk, a finish chunk, the usage chunk when
 * `stream_options.include_usage`, then `[DONE]`.
 */
function chatFrames(script: Script, body: Record<string, unknown>): Frames {
  const chunks = scriptChunks(script);
  const toolCalls = script.toolCalls ?? [];
  const finishReason = script.finishReason ?? (toolCalls.length > 0 ? 'tool_calls' : 'stop');
  const model = typeof body['model'] === 'string' ? body['model'] : 'fake-model';
  const base = { id: 'chatcmpl-fake', object: 'chat.completion.chunk', created: 1700000000, model };
  const usage = script.usage ?? {
    prompt_tokens: Math.ceil(promptChars(body) / 4),
    completion_tokens: chunks.length,
  };
  const fullUsage = { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens };
  const options = body['stream_options'] as { include_usage?: unknown } | undefined;
  const delta = (d: Record<string, unknown>, finish: string | null) =>
    sse(
      JSON.stringify({ ...base, choices: [{ index: 0, delta: d, logprobs: null, finish_reason: finish }] }),
    );
  return {
    contentType: 'text/event-stream',
    opening: delta({ role: 'assistant', content: '' }, null),
    chunks: [
      ...chunks.map((content) => delta({ content }, null)),
      ...toolCalls.flatMap((call, index) => {
        const id = call.id ?? `call_fake_${index}`;
        const half = Math.ceil(call.arguments.length / 2);
        return [
          delta(
            { tool_calls: [{ index, id, type: 'function', function: { name: call.name, arguments: '' } }] },
            null,
          ),
          delta({ tool_calls: [{ index, function: { arguments: call.arguments.slice(0, half) } }] }, null),
          delta({ tool_calls: [{ index, function: { arguments: call.arguments.slice(half) } }] }, null),
        ];
      }),
    ],
    terminator: Buffer.concat([
      delta({}, finishReason),
      ...(options?.include_usage === true
        ? [sse(JSON.stringify({ ...base, choices: [], usage: fullUsage }))]
        : []),
      sse('[DONE]'),
    ]),
    malformed: sse('{"choices":[{"delta":'),
    whole: Buffer.from(
      JSON.stringify({
        id: 'chatcmpl-fake',
        object: 'chat.completion',
        created: 1700000000,
        model,
        choices: [
          {
            index: 0,
            message: {
              role: 'assistant',
              content: chunks.join(''),
              ...(toolCalls.length > 0
                ? {
                    tool_calls: toolCalls.map((call, index) => ({
                      id: call.id ?? `call_fake_${index}`,
                      type: 'function',
                      function: { name: call.name, arguments: call.arguments },
                    })),
                  }
                : {}),
            },
            finish_reason: finishReason,
          },
        ],
        usage: fullUsage,
      }),
    ),
    errorBody: (status) =>
      JSON.stringify({
        error: { message: `fake error ${status}`, type: 'fake_error', param: null, code: status },
      }),
  };
}

/** Characters of a Responses request's input text, for the default usage. */
function inputChars(body: Record<string, unknown>): number {
  const input = body['input'];
  if (typeof input === 'string') return input.length;
  if (!Array.isArray(input)) return 0;
  return JSON.stringify(input).length;
}

/**
 * Responses frames, built per request: response.created, then a message item whose text arrives
 * as output_text.delta events, then function_call items with their arguments in two deltas, then
 * response.completed (or response.incomplete for finishReason `length`) with usage.
 */
function responsesFrames(script: Script, body: Record<string, unknown>): Frames {
  const chunks = scriptChunks(script);
  const toolCalls = script.toolCalls ?? [];
  const model = typeof body['model'] === 'string' ? body['model'] : 'fake-model';
  let sequence = 0;
  const event = (type: string, fields: Record<string, unknown>) =>
    Buffer.from(
      `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: sequence++, ...fields })}\n\n`,
    );
  const usage = script.usage ?? {
    prompt_tokens: Math.ceil(inputChars(body) / 4),
    completion_tokens: chunks.length,
  };
  const response = (status: string, output: unknown[]) => ({
    id: 'resp_fake',
    object: 'response',
    created_at: 1700000000,
    status,
    model,
    output,
    ...(status === 'incomplete' ? { incomplete_details: { reason: 'max_output_tokens' } } : {}),
    usage: {
      input_tokens: usage.prompt_tokens,
      output_tokens: usage.completion_tokens,
      total_tokens: usage.prompt_tokens + usage.completion_tokens,
    },
  });
  const text = chunks.join('');
  const message = {
    type: 'message',
    id: 'msg_fake',
    role: 'assistant',
    status: 'completed',
    content: [{ type: 'output_text', text, annotations: [] }],
  };
  const calls = toolCalls.map((call, i) => ({
    type: 'function_call',
    id: `fc_fake_${i}`,
    call_id: call.id ?? `call_fake_${i}`,
    name: call.name,
    arguments: call.arguments,
    status: 'completed',
  }));
  const textIndex = chunks.length > 0 ? 0 : -1;
  const output = [...(textIndex === 0 ? [message] : []), ...calls];
  const opening = [event('response.created', { response: response('in_progress', []) })];
  if (textIndex === 0) {
    opening.push(
      event('response.output_item.added', {
        output_index: 0,
        item: { ...message, status: 'in_progress', content: [] },
      }),
    );
  }
  const callFrames = calls.flatMap((call, i) => {
    const outputIndex = i + (textIndex === 0 ? 1 : 0);
    const half = Math.ceil(call.arguments.length / 2);
    return [
      event('response.output_item.added', {
        output_index: outputIndex,
        item: { ...call, arguments: '', status: 'in_progress' },
      }),
      event('response.function_call_arguments.delta', {
        item_id: call.id,
        output_index: outputIndex,
        delta: call.arguments.slice(0, half),
      }),
      event('response.function_call_arguments.delta', {
        item_id: call.id,
        output_index: outputIndex,
        delta: call.arguments.slice(half),
      }),
      event('response.output_item.done', { output_index: outputIndex, item: call }),
    ];
  });
  const incomplete = script.finishReason === 'length';
  return {
    contentType: 'text/event-stream',
    opening: Buffer.concat(opening),
    chunks: [
      ...chunks.map((delta) =>
        event('response.output_text.delta', {
          item_id: 'msg_fake',
          output_index: 0,
          content_index: 0,
          delta,
        }),
      ),
      ...callFrames,
    ],
    terminator: Buffer.concat([
      ...(textIndex === 0 ? [event('response.output_item.done', { output_index: 0, item: message })] : []),
      event(incomplete ? 'response.incomplete' : 'response.completed', {
        response: response(incomplete ? 'incomplete' : 'completed', output),
      }),
    ]),
    malformed: Buffer.from('event: response.output_text.delta\ndata: {"type":\n\n'),
    whole: Buffer.from(JSON.stringify(response(incomplete ? 'incomplete' : 'completed', output))),
    errorBody: (status) =>
      JSON.stringify({
        error: { message: `fake error ${status}`, type: 'fake_error', param: null, code: status },
      }),
  };
}

// Scripts are reused (the default one on every request in benchmarks), so serialise once per protocol.
const frameCache = new WeakMap<Script, Map<Protocol, Frames>>();

function framesFor(script: Script, protocol: Protocol, body: Record<string, unknown>): Frames {
  if (protocol === 'chat') return chatFrames(script, body);
  if (protocol === 'responses') return responsesFrames(script, body);
  let byProtocol = frameCache.get(script);
  if (!byProtocol) {
    byProtocol = new Map();
    frameCache.set(script, byProtocol);
  }
  let frames = byProtocol.get(protocol);
  if (!frames) {
    frames = buildFrames(protocol, scriptChunks(script), script.finishReason ?? 'stop');
    byProtocol.set(protocol, frames);
  }
  return frames;
}

/** Byte offset inside the first multi-byte character of `buf`, or -1. */
function splitPointInsideCharacter(buf: Buffer): number {
  for (let i = 0; i < buf.length; i++) {
    if ((buf[i]! & 0xc0) === 0xc0) return i + 1;
  }
  return -1;
}

const GENERATION_ROUTES: Record<string, Protocol> = {
  '/v1/completions': 'openai',
  '/api/generate': 'ollama',
  '/infill': 'llamacpp',
  '/completion': 'llamacpp',
  '/v1/chat/completions': 'chat',
  '/v1/responses': 'responses',
};

const METADATA_ROUTES: Record<string, string> = {
  '/v1/models': JSON.stringify({
    object: 'list',
    data: [{ id: 'fake-model', object: 'model', owned_by: 'fake' }],
  }),
  '/api/tags': JSON.stringify({
    models: [{ name: 'fake-model:latest', model: 'fake-model:latest', size: 1 }],
  }),
  '/health': JSON.stringify({ status: 'ok' }),
};

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (b: Buffer) => parts.push(b));
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('error', reject);
  });
}

function sendJson(res: ServerResponse, status: number, body: string, extra: Record<string, string> = {}) {
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    ...extra,
  });
  res.end(body);
}

export async function startFakeModel(opts: FakeModelOptions = {}): Promise<FakeModel> {
  const queue: Script[] = [];
  const requests: RecordedRequest[] = [];
  const streams: StreamRecord[] = [];
  const requestWaiters = new Set<() => void>();
  const streamWaiters = new Set<() => void>();
  const activeTimers = new Set<NodeJS.Timeout>();
  let defaultScript = opts.defaultScript ?? DEFAULT_SCRIPT;

  const notify = (waiters: Set<() => void>) => {
    for (const w of [...waiters]) w();
  };

  const later = (ms: number, fn: () => void) => {
    const t = setTimeout(() => {
      activeTimers.delete(t);
      fn();
    }, ms);
    activeTimers.add(t);
    return t;
  };

  function generate(
    req: IncomingMessage,
    res: ServerResponse,
    protocol: Protocol,
    body: Record<string, unknown>,
  ) {
    const script = queue.shift() ?? defaultScript;
    const frames = framesFor(script, protocol, body);
    const stream = protocol === 'ollama' ? body['stream'] !== false : body['stream'] === true;
    const record: StreamRecord = {
      path: req.url ?? '',
      protocol,
      stream,
      chunksPlanned: frames.chunks.length,
      chunksWritten: 0,
      chunksWrittenAfterClientClose: 0,
      chunksRemainingAtClose: 0,
      clientClosed: false,
      finished: false,
      startedAt: epochMs(),
      chunkWrittenAt: [],
    };
    streams.push(record);
    notify(streamWaiters);
    const fault = script.fault;
    const interChunkMs = script.interChunkMs ?? 0;
    let pending: NodeJS.Timeout | undefined;
    const socket = req.socket as Socket;

    const schedule = (ms: number, fn: () => void) => {
      pending = later(ms, fn);
    };
    const finish = () => {
      record.finished = true;
      record.finishedAt = epochMs();
      notify(streamWaiters);
    };
    res.on('close', () => {
      if (record.finished) return;
      record.clientClosed = true;
      record.clientClosedAt = epochMs();
      record.chunksRemainingAtClose = record.chunksPlanned - record.chunksWritten;
      if (pending) {
        clearTimeout(pending);
        activeTimers.delete(pending);
      }
      notify(streamWaiters);
    });
    const gone = () => record.clientClosed || res.destroyed || socket.destroyed;
    const writeContent = (buf: Buffer) => {
      if (record.clientClosed) record.chunksWrittenAfterClientClose++;
      res.write(buf);
      record.chunksWritten++;
      record.chunkWrittenAt.push(epochMs());
    };

    if (fault?.kind === 'hang') return;

    const start = () => {
      if (gone()) return;
      if (fault?.kind === 'status') {
        const extra: Record<string, string> = {};
        if (fault.retryAfter !== undefined) extra['retry-after'] = String(fault.retryAfter);
        sendJson(res, fault.status, fault.body ?? frames.errorBody(fault.status), extra);
        finish();
        return;
      }
      if (!stream) {
        respondWhole();
        return;
      }
      res.writeHead(200, { 'content-type': frames.contentType, 'cache-control': 'no-cache' });
      if (fault?.kind === 'stall') {
        res.flushHeaders();
        return;
      }
      if (frames.opening) res.write(frames.opening);
      writeChunk(0);
    };

    const splitAt = script.splitUtf8 ? frames.chunks.findIndex((c) => splitPointInsideCharacter(c) >= 0) : -1;

    const writeChunk = (i: number) => {
      if (gone()) return;
      if (fault?.kind === 'reset' && i === fault.afterChunks) {
        socket.destroy();
        return;
      }
      if (fault?.kind === 'malformed' && i === fault.afterChunks) res.write(frames.malformed);
      if (i >= frames.chunks.length) {
        res.end(frames.terminator);
        finish();
        return;
      }
      const chunk = frames.chunks[i]!;
      if (i === splitAt) {
        const cut = splitPointInsideCharacter(chunk);
        res.write(chunk.subarray(0, cut));
        // A timer between the halves keeps them in separate TCP segments on loopback.
        schedule(Math.max(2, interChunkMs), () => {
          if (gone()) return;
          if (record.clientClosed) record.chunksWrittenAfterClientClose++;
          res.write(chunk.subarray(cut));
          record.chunksWritten++;
          record.chunkWrittenAt.push(epochMs());
          schedule(interChunkMs, () => writeChunk(i + 1));
        });
        return;
      }
      writeContent(chunk);
      schedule(interChunkMs, () => writeChunk(i + 1));
    };

    const respondWhole = () => {
      const n = frames.chunks.length;
      schedule(interChunkMs * Math.max(0, n - 1), () => {
        if (gone()) return;
        if (fault?.kind === 'stall') {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.flushHeaders();
          return;
        }
        const half = frames.whole.subarray(0, Math.floor(frames.whole.length / 2));
        if (fault?.kind === 'reset') {
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': frames.whole.length });
          res.write(half);
          schedule(1, () => socket.destroy());
          return;
        }
        const body = fault?.kind === 'malformed' ? half : frames.whole;
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
        res.write(body);
        record.chunksWritten = n;
        res.end();
        finish();
      });
    };

    schedule(script.ttftMs ?? 0, start);
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const method = req.method ?? 'GET';
    const raw = await readBody(req);
    let body: unknown;
    let bodyIsJson = false;
    if (raw.length > 0) {
      try {
        body = JSON.parse(raw);
        bodyIsJson = true;
      } catch {
        body = raw;
      }
    }
    if (path.startsWith('/__fake/')) {
      control(path, method, body, res);
      return;
    }
    requests.push({
      path,
      method,
      headers: req.headers,
      body,
      rawBody: raw,
      receivedAt: epochMs(),
      remotePort: req.socket.remotePort,
    });
    notify(requestWaiters);

    const protocol = GENERATION_ROUTES[path];
    if (protocol && method === 'POST') {
      if (!bodyIsJson || typeof body !== 'object' || body === null) {
        sendJson(res, 400, JSON.stringify({ error: { message: 'body must be a JSON object', code: 400 } }));
        return;
      }
      const fields = body as Record<string, unknown>;
      if (opts.rejectSuffix && protocol === 'openai' && fields['suffix'] !== undefined) {
        sendJson(
          res,
          400,
          JSON.stringify({
            error: {
              message: 'suffix is not currently supported',
              type: 'BadRequestError',
              param: null,
              code: 400,
            },
          }),
        );
        return;
      }
      generate(req, res, protocol, fields);
      return;
    }
    const meta = METADATA_ROUTES[path];
    if (meta !== undefined && method === 'GET') {
      if (model.healthStatus >= 400) {
        sendJson(
          res,
          model.healthStatus,
          JSON.stringify({ error: { message: 'unhealthy', code: model.healthStatus } }),
        );
      } else {
        sendJson(res, model.healthStatus, meta);
      }
      return;
    }
    sendJson(res, 404, JSON.stringify({ error: { message: `no route ${method} ${path}`, code: 404 } }));
  }

  /** Lets a benchmark in another process script the server and read its records. */
  function control(path: string, method: string, body: unknown, res: ServerResponse) {
    if (path === '/__fake/streams' && method === 'GET') {
      sendJson(res, 200, JSON.stringify(streams));
    } else if (path === '/__fake/reset' && method === 'POST') {
      model.reset();
      sendJson(res, 200, '{}');
    } else if (path === '/__fake/enqueue' && method === 'POST' && Array.isArray(body)) {
      model.enqueue(...(body as Script[]));
      sendJson(res, 200, '{}');
    } else if (path === '/__fake/default-script' && method === 'POST' && typeof body === 'object' && body) {
      defaultScript = body as Script;
      sendJson(res, 200, '{}');
    } else {
      sendJson(res, 404, '{}');
    }
  }

  const server = createServer({ keepAlive: true }, (req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendJson(res, 500, JSON.stringify({ error: { message: String(err) } }));
      else res.destroy();
    });
  });
  // Keep-alive connections idle between test requests; the client decides when to drop them.
  server.keepAliveTimeout = 60_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  const waitFor = (waiters: Set<() => void>, ready: () => boolean, timeoutMs: number, what: () => string) =>
    new Promise<void>((resolve, reject) => {
      if (ready()) {
        resolve();
        return;
      }
      const check = () => {
        if (!ready()) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`fake model: timed out after ${timeoutMs} ms waiting for ${what()}`));
      }, timeoutMs);
      waiters.add(check);
    });

  const model: FakeModel = {
    url: `http://127.0.0.1:${port}`,
    requests,
    streams,
    healthStatus: 200,
    enqueue(...scripts) {
      queue.push(...scripts);
    },
    waitForRequests(n, timeoutMs) {
      return waitFor(
        requestWaiters,
        () => requests.length >= n,
        timeoutMs,
        () => `${n} requests (got ${requests.length})`,
      );
    },
    async waitForStreamStart(index, timeoutMs) {
      await waitFor(
        streamWaiters,
        () => streams[index] !== undefined,
        timeoutMs,
        () => `stream ${index} to start`,
      );
      return streams[index]!;
    },
    async waitForStreamEnd(index, timeoutMs) {
      const ended = () => {
        const s = streams[index];
        return s !== undefined && (s.finished || s.clientClosed);
      };
      await waitFor(streamWaiters, ended, timeoutMs, () => `stream ${index} to end`);
      // Stream records are only ever appended, so the index is stable until reset().
      return streams[index]!;
    },
    reset() {
      queue.length = 0;
      requests.length = 0;
      streams.length = 0;
      model.healthStatus = 200;
      defaultScript = opts.defaultScript ?? DEFAULT_SCRIPT;
    },
    async close() {
      for (const t of activeTimers) clearTimeout(t);
      activeTimers.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };

  return model;
}
