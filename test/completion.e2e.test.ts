import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type FakeModel, startFakeModel } from './fake-model/server.js';
import { extensionBody, startTestShenma, type TestShenma } from './support/shenma.js';

/**
 * The completion service end to end through HTTP, as the IDE sees it, against the scripted fake
 * model: prompts sent upstream, answers, early stop, aborts, deadlines, overload, fallback, cache.
 */

const DEEPSEEK_BEGIN = '<｜fim▁begin｜>';
const DEEPSEEK_HOLE = '<｜fim▁hole｜>';
const DEEPSEEK_END = '<｜fim▁end｜>';

let fake: FakeModel;
let backup: FakeModel;
let shenma: TestShenma;

beforeAll(async () => {
  fake = await startFakeModel();
  backup = await startFakeModel();
  shenma = await startTestShenma({
    models: [
      {
        name: 'coder',
        kind: 'openai',
        url: `${fake.url}/v1`,
        family: 'deepseek-coder',
        maxConcurrency: 2,
        maxQueue: 1,
      },
      { name: 'small', kind: 'openai', url: `${backup.url}/v1`, family: 'deepseek-coder' },
    ],
    completion: {
      model: 'coder',
      fallbackModel: 'small',
      timeouts: { queueMs: 200, firstTokenMs: 400, totalMs: 1500 },
    },
  });
});

afterAll(async () => {
  await shenma?.close();
  await fake?.close();
  await backup?.close();
});

afterEach(() => {
  fake.reset();
  backup.reset();
});

const sum = 'def add(a, b):\n    return ';

describe('POST /v2/completions (the extension 1.2.x)', () => {
  it('builds the FIM prompt for the model family and answers in the extension shape', async () => {
    fake.enqueue({ chunks: ['a', ' +', ' b', '\n', 'print(add(1, 2))\n'] });
    const res = await shenma.post('/v2/completions', extensionBody(sum, '\n\nprint(add(1, 2))\n'));
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.object).toBe('text_completion');
    expect(body.choices).toHaveLength(1);
    // The rest of the cursor line is blank, so several lines were asked for; the cursor-line
    // policy keeps the one line, as `return a + b` is a statement of its own.
    expect(body.choices[0].text).toBe('a + b');
    expect(res.headers.get('x-complete-id')).toBe(body.id);
    const sent = fake.requests.find((r) => r.path === '/v1/completions')!.body as Record<string, unknown>;
    expect(sent.prompt).toBe(`${DEEPSEEK_BEGIN}${sum}${DEEPSEEK_HOLE}\n\nprint(add(1, 2))\n${DEEPSEEK_END}`);
    expect(sent.stream).toBe(true);
    expect(sent.suffix).toBeUndefined();
    expect(sent.stop).toEqual(expect.arrayContaining(['<｜end▁of▁sentence｜>']));
    expect(sent.stop).not.toContain('\n');
  });

  it('stops reading as soon as a single-line answer is decided and closes the upstream stream', async () => {
    fake.enqueue({
      chunks: ['x', ')', '\n', ...Array.from({ length: 200 }, () => 'junk ')],
      interChunkMs: 5,
    });
    // `x)` closes foo; the suffix's `))` then re-types it: only `x` is new.
    const res = await shenma.post('/v2/completions', extensionBody('print(foo(', '))\n'));
    const body = await res.json();
    expect(body.choices[0]?.text).toBe('x');
    const record = await fake.waitForStreamEnd(0, 2000);
    expect(record.clientClosed).toBe(true);
    expect(record.chunksRemainingAtClose).toBeGreaterThan(150);
    expect(record.chunksWrittenAfterClientClose).toBe(0);
  });

  it('refuses an answer that is only a new top-level function inside a body, and names the rule that cut it', async () => {
    fake.enqueue({ chunks: ['\n\ndef _helper(values):\n', '    return values\n'] });
    const res = await shenma.post(
      '/v2/completions',
      extensionBody('def mean(xs):\n    total = sum(xs)\n', '\n    return total / len(xs)\n'),
    );
    const body = await res.json();
    expect(body.choices).toEqual([]);
    expect(body.reason).toBe('empty');
    expect(body.server_extra_kwargs.hit_processors).toContain('scopeLimit');
  });

  it('answers 200 with empty choices and the rule name when it should not complete, without calling the model', async () => {
    const res = await shenma.post('/v2/completions', extensionBody('    value = compute', 'Result()\n'));
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.choices).toEqual([]);
    expect(body.reason).toBe('rejected:insideWord');
    expect(body.server_extra_kwargs.rejected_code).toBe('insideWord');
    expect(fake.requests.filter((r) => r.path === '/v1/completions')).toHaveLength(0);
  });

  it('rejects bad input with a 400 naming the field', async () => {
    const bad = extensionBody(sum, '');
    (bad.prompt_options as Record<string, unknown>).prefix = 42;
    const res = await shenma.post('/v2/completions', bad);
    expect(res.status).toBe(400);
    const body = await res.json();
    expect(body.error.param).toBe('prompt_options.prefix');
    expect(body.error.message).toContain('prompt_options.prefix');

    const notJson = await shenma.post('/v2/completions', '{"prompt_options": ');
    expect(notJson.status).toBe(400);
    expect((await notJson.json()).error.type).toBe('invalid_request_error');

    const noPrompt = await shenma.post('/v2/completions', { language_id: 'python' });
    expect(noPrompt.status).toBe(400);
    expect((await noPrompt.json()).error.param).toBe('prompt_options');
  });

  it('accepts the duplicated slash the extension sends when baseUrl ends with /', async () => {
    fake.enqueue({ chunks: ['a + b'] });
    const res = await shenma.post('//v2/completions', extensionBody(sum, '\n'));
    expect(res.status).toBe(200);
    expect((await res.json()).choices[0].text).toBe('a + b');
  });

  it('a newer request from the same completion stream supersedes the older one and closes its upstream call', async () => {
    fake.enqueue({ chunks: ['slow', ' answer'], ttftMs: 250 }, { chunks: ['b'] });
    const prefix = 'def sub(a, b):\n    return ';
    const first = shenma.post(
      '/v2/completions',
      extensionBody(prefix, '\n', { completion_id: '1-aaaabbbbccccdddd' }),
    );
    await fake.waitForRequests(1, 2000);
    const second = await shenma.post(
      '/v2/completions',
      extensionBody(`${prefix}a - `, '\n', { completion_id: '2-aaaabbbbccccdddd' }),
    );
    expect((await second.json()).choices[0].text).toBe('b');
    const firstBody = await (await first).json();
    expect(firstBody.choices).toEqual([]);
    expect(firstBody.reason).toBe('superseded');
    const record = await fake.waitForStreamEnd(0, 2000);
    expect(record.clientClosed).toBe(true);
    expect(record.chunksWritten).toBe(0);
  });

  it('a client that hangs up aborts the upstream request', async () => {
    fake.enqueue({ chunks: Array.from({ length: 100 }, () => 'x'), ttftMs: 50, interChunkMs: 20 });
    const controller = new AbortController();
    const pending = fetch(`${shenma.url}/v2/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${shenma.token}` },
      body: JSON.stringify(extensionBody('def f():\n', '', { stop: [] })),
      signal: controller.signal,
    }).catch((e: Error) => e);
    await fake.waitForRequests(1, 2000);
    await new Promise((r) => setTimeout(r, 120));
    controller.abort();
    await pending;
    const record = await fake.waitForStreamEnd(0, 2000);
    expect(record.clientClosed).toBe(true);
    expect(record.chunksRemainingAtClose).toBeGreaterThan(50);
    expect(record.chunksWrittenAfterClientClose).toBe(0);
  });
});

describe('deadlines, overload and fallback', () => {
  it('falls back to the fallback model when the first token does not come in time', async () => {
    fake.enqueue({ chunks: ['late'], fault: { kind: 'stall' } });
    backup.enqueue({ chunks: ['a - b'] });
    const res = await shenma.post('/v2/completions', extensionBody('def diff(a, b):\n    return ', '\n'));
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.choices[0].text).toBe('a - b');
    expect(body.model).toBe('small');
    const metrics = await (await shenma.get('/metrics')).text();
    expect(metrics).toMatch(
      /shenma_completion_fallbacks_total\{from="coder",to="small",cause="first_token_timeout"\} 1/,
    );
  });

  it('answers 504 when neither model produces a first token in time', async () => {
    fake.enqueue({ chunks: ['late'], fault: { kind: 'stall' } });
    backup.enqueue({ chunks: ['late'], fault: { kind: 'stall' } });
    const res = await shenma.post('/v2/completions', extensionBody('def late(a, b):\n    return ', '\n'));
    expect(res.status).toBe(504);
    expect((await res.json()).error.type).toBe('timeout_error');
    // Shenma gave up on both (they never answer): it closed the upstream requests itself.
    expect((await fake.waitForStreamEnd(fake.streams.length - 1, 5000)).clientClosed).toBe(true);
    expect((await backup.waitForStreamEnd(backup.streams.length - 1, 5000)).clientClosed).toBe(true);
  });

  it('maps upstream failures: 500 → 502, 429 → 429 with Retry-After', async () => {
    fake.enqueue({
      chunks: [],
      fault: { kind: 'status', status: 500, body: '{"error":{"message":"boom"}}' },
    });
    const r500 = await shenma.post('/v1/completions', { model: 'coder', prompt: 'x = ', max_tokens: 8 });
    expect(r500.status).toBe(502);
    // Status and model name reach the client; the backend's own text ("boom") only the log.
    const message500 = (await r500.json()).error.message;
    expect(message500).toContain('model "coder" failed: backend answered 500');
    expect(message500).not.toContain('boom');

    fake.enqueue({ chunks: [], fault: { kind: 'status', status: 429, retryAfter: 7 } });
    backup.enqueue({ chunks: [], fault: { kind: 'status', status: 429, retryAfter: 7 } });
    const r429 = await shenma.post('/v2/completions', extensionBody('def busy(a, b):\n    return ', '\n'));
    expect(r429.status).toBe(429);
    expect(r429.headers.get('retry-after')).toBe('7');
  });
});

describe('POST /v1/completions (OpenAI-compatible)', () => {
  it('answers JSON and SSE, and names unknown models', async () => {
    fake.enqueue({ chunks: ['a + b'] });
    const res = await shenma.post('/v1/completions', {
      model: 'coder',
      prompt: sum,
      suffix: '\n',
      max_tokens: 16,
    });
    expect(res.status).toBe(200);
    const body = await res.json();
    // The rest of the cursor line is blank, so several lines were asked for; the cursor-line
    // policy keeps the one line, as `return a + b` is a statement of its own.
    expect(body.choices[0].text).toBe('a + b');
    expect(body.usage.total_tokens).toBeGreaterThan(0);
    const sent = fake.requests.find((r) => r.path === '/v1/completions')!.body as Record<string, unknown>;
    expect(sent.max_tokens).toBe(16);

    fake.enqueue({ chunks: ['a * b'] });
    const streamed = await shenma.post('/v1/completions', {
      model: 'coder',
      prompt: `${sum} `,
      suffix: '\n',
      stream: true,
    });
    expect(streamed.headers.get('content-type')).toContain('text/event-stream');
    const text = await streamed.text();
    expect(text).toContain('"text":"a * b"');
    expect(text.trim().endsWith('data: [DONE]')).toBe(true);

    const unknown = await shenma.post('/v1/completions', { model: 'gpt-9', prompt: 'x' });
    expect(unknown.status).toBe(404);
    expect((await unknown.json()).error.message).toContain('coder');

    const n2 = await shenma.post('/v1/completions', { model: 'coder', prompt: 'x', n: 2 });
    expect(n2.status).toBe(400);
    expect((await n2.json()).error.param).toBe('n');
  });
});

describe('POST /code-completion/api/v1/completions (later client)', () => {
  it('uses import_content as context within the budget', async () => {
    fake.enqueue({ chunks: ['np.zeros(3)'] });
    const res = await shenma.post('/code-completion/api/v1/completions', {
      ...extensionBody('arr = ', '\n'),
      client_id: 'machine-1',
      trigger_mode: 'manual',
      import_content: 'import numpy as np',
      file_project_path: 'src/a.py',
    });
    expect(res.status).toBe(200);
    expect((await res.json()).choices[0].text).toBe('np.zeros(3)');
    const sent = fake.requests.find((r) => r.path === '/v1/completions')!.body as { prompt: string };
    expect(sent.prompt).toContain('import numpy as np');
    expect(sent.prompt.indexOf('import numpy as np')).toBeLessThan(sent.prompt.indexOf('arr = '));
  });
});

describe('cache', () => {
  it('answers a repeated request and a typed-through request without calling the model', async () => {
    const prefix = 'def mul(a, b):\n    return ';
    fake.enqueue({ chunks: ['a * b'] });
    const first = await (await shenma.post('/v2/completions', extensionBody(prefix, '\n\n'))).json();
    expect(first.choices[0].text).toBe('a * b');
    const again = await (await shenma.post('/v2/completions', extensionBody(prefix, '\n\n'))).json();
    expect(again.choices[0].text).toBe('a * b');
    expect(again.server_extra_kwargs.is_cache).toBe(true);
    const typed = await (await shenma.post('/v2/completions', extensionBody(`${prefix}a *`, '\n\n'))).json();
    expect(typed.choices[0].text).toBe(' b');
    expect(typed.reason).toBe('typed_through');
    expect(fake.requests.filter((r) => r.path === '/v1/completions')).toHaveLength(1);
  });
});

describe('telemetry the extension sends', () => {
  it('records accept/reject points once per id, error counters, and serves the language map', async () => {
    const point = {
      id: '3-abcdefabcdefabcd',
      language: 'python',
      acception: 'none',
      correction: 'none',
      create_time: 1741234567000,
      start_time: 1741234567300,
      end_time: 1741234567480,
      handle_time: 1741234568000,
      expend_time: 480,
    };
    for (let i = 0; i < 3; i++) {
      const r = await shenma.post('/api/feedbacks/completions', { count: 1, data: [point] });
      expect(r.status).toBe(200);
      expect((await r.json()).success).toBe(true);
    }
    await shenma.post('/api/feedbacks/completions', {
      count: 1,
      data: [{ ...point, acception: 'accepted', correction: 'unchanged' }],
    });
    const rows = await shenma.server.db.db.selectFrom('completion_feedback').selectAll().execute();
    expect(rows).toHaveLength(1);
    expect(rows[0]!.acception).toBe('accepted');

    const bad = await shenma.post('/api/feedbacks/completions', { data: [{ language: 'python' }] });
    expect(bad.status).toBe(400);
    expect((await bad.json()).error.param).toBe('data.0.id');

    const err = await shenma.post('/api/feedbacks/error', {
      openapi_total: 3,
      openapi_cancel: 1,
      openapi_error: 0,
      status: {},
    });
    expect(err.status).toBe(200);
    const reports = await shenma.server.db.db.selectFrom('client_error_report').selectAll().execute();
    expect(reports).toHaveLength(1);

    const map = await shenma.get('/api/configuration?belong_type=language&attribute_key=language_map');
    expect(await map.json()).toMatchObject({ data: [], success: true });
  });

  it('answers the webview CORS preflight', async () => {
    const res = await fetch(`${shenma.url}/api/feedbacks/completions`, {
      method: 'OPTIONS',
      headers: {
        origin: 'vscode-webview://abc',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'api-key,content-type',
      },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-allow-headers')).toContain('api-key');
  });
});

describe('operations', () => {
  it('reports readiness and metrics', async () => {
    const ready = await shenma.get('/readyz');
    // Completion is ready; chat has no model here, and readiness says so instead of hiding it.
    expect(ready.status).toBe(503);
    const checks = (await ready.json()).checks;
    expect(checks.completion_models.ok).toBe(true);
    expect(checks.chat_models).toEqual({ ok: false, detail: 'no chat model configured' });
    expect((await shenma.get('/healthz')).status).toBe(200);
    const metrics = await (await shenma.get('/metrics')).text();
    expect(metrics).toContain('shenma_completion_phase_seconds_bucket');
    expect(metrics).toMatch(
      /shenma_completion_requests_total\{api="v2",status="200",reason="rejected:insideWord"\} 1/,
    );
    expect(metrics).toMatch(/shenma_completion_cache_total\{result="typed_through"\} 1/);
    expect(metrics).toMatch(/shenma_completion_upstream_aborts_total\{cause="superseded"\} 1/);
  });
});

describe('usage', () => {
  it('counts completion tokens from the answer text, not streamed pieces, and meters the request in the usage ledger', async () => {
    // Ten pieces of one character: ten pieces, but about three tokens of text.
    fake.enqueue({ chunks: ['a', ' ', '+', ' ', 'b', ' ', '+', ' ', 'c', '1'] });
    const res = await shenma.post(
      '/v1/completions',
      { model: 'coder', prompt: 'total = ', max_tokens: 32 },
      { 'x-request-id': 'usage-metered-1' },
    );
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.choices[0].text).toBe('a + b + c1');
    // 10 characters at the default 3 characters per token.
    expect(body.usage.completion_tokens).toBe(4);
    expect(body.usage.prompt_tokens).toBeGreaterThan(0);

    // The editor does not wait for the ledger: rows are written in batches about a second apart.
    const ledgerRow = () =>
      shenma.server.db.db
        .selectFrom('usage_ledger')
        .selectAll()
        .where('request_id', '=', 'usage-metered-1')
        .executeTakeFirst();
    let row = await ledgerRow();
    for (let i = 0; i < 500 && !row; i++) {
      await new Promise((r) => setTimeout(r, 20));
      row = await ledgerRow();
    }
    expect(row).toMatchObject({
      user_name: 'tester',
      model: 'coder',
      route: 'completion',
      prompt_tokens: body.usage.prompt_tokens,
      completion_tokens: 4,
      estimated: true,
      status: 'ok',
    });
  });
});
