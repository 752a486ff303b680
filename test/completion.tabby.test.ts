import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { LogEventRequest, ServerHealthState } from 'tabby-agent';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type FakeModel, startFakeModel } from './fake-model/server.js';
import { startTestShenma, type TestShenma } from './support/shenma.js';

/**
 * Tabby's IDE side against Shenma: the published `tabby-agent` (the engine of Tabby's editor
 * plugins) run as a language server over stdio, configured the way a user does
 * (~/.tabby-client/agent/config.toml with the server endpoint and token), completing in a
 * document; plus Tabby's own request shapes on the shared /v1/completions path and the
 * /tabby prefix, its health check and its completion events.
 */

let fake: FakeModel;
let shenma: TestShenma;

beforeAll(async () => {
  fake = await startFakeModel();
  shenma = await startTestShenma({
    models: [{ name: 'coder', kind: 'openai', url: `${fake.url}/v1`, family: 'deepseek-coder' }],
    completion: { model: 'coder' },
  });
});
afterAll(async () => {
  await shenma?.close();
  await fake?.close();
});
afterEach(() => fake.reset());

const completionPrompts = () =>
  fake.requests.filter((r) => r.path === '/v1/completions').map((r) => (r.body as { prompt: string }).prompt);

/** A minimal LSP client: Content-Length framed JSON-RPC over the child's stdio. */
class LspClient {
  private buffer = Buffer.alloc(0);
  private nextId = 1;
  private readonly pending = new Map<number, (message: { result?: unknown; error?: unknown }) => void>();
  readonly notifications: { method: string; params: unknown }[] = [];

  constructor(private readonly child: ChildProcess) {
    child.stdout!.on('data', (data: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, data]);
      this.drain();
    });
  }

  private drain() {
    for (;;) {
      const headerEnd = this.buffer.indexOf('\r\n\r\n');
      if (headerEnd === -1) return;
      const length = Number(
        /Content-Length: (\d+)/i.exec(this.buffer.subarray(0, headerEnd).toString())?.[1],
      );
      if (this.buffer.length < headerEnd + 4 + length) return;
      const body = this.buffer.subarray(headerEnd + 4, headerEnd + 4 + length).toString('utf8');
      this.buffer = this.buffer.subarray(headerEnd + 4 + length);
      const message = JSON.parse(body) as {
        id?: number;
        method?: string;
        params?: unknown;
        result?: unknown;
      };
      if (message.method && message.id !== undefined) {
        // A request from the server (e.g. workspace/configuration): answer it empty.
        this.send({ jsonrpc: '2.0', id: message.id, result: null });
      } else if (message.method) {
        this.notifications.push({ method: message.method, params: message.params });
      } else if (message.id !== undefined) {
        this.pending.get(message.id)?.(message);
        this.pending.delete(message.id);
      }
    }
  }

  private send(message: unknown) {
    const body = Buffer.from(JSON.stringify(message), 'utf8');
    this.child.stdin!.write(`Content-Length: ${body.length}\r\n\r\n`);
    this.child.stdin!.write(body);
  }

  request(method: string, params: unknown): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, (m) => (m.error ? reject(new Error(JSON.stringify(m.error))) : resolve(m.result)));
      this.send({ jsonrpc: '2.0', id, method, params });
    });
  }

  notify(method: string, params: unknown) {
    this.send({ jsonrpc: '2.0', method, params });
  }
}

describe('tabby-agent over its LSP stdio interface', () => {
  let home: string;
  let child: ChildProcess | undefined;

  afterAll(() => {
    child?.kill();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  it('completes in a document with Shenma as its server', async () => {
    home = mkdtempSync(path.join(tmpdir(), 'tabby-home-'));
    mkdirSync(path.join(home, '.tabby-client', 'agent'), { recursive: true });
    writeFileSync(
      path.join(home, '.tabby-client', 'agent', 'config.toml'),
      [
        '[server]',
        `endpoint = "${shenma.url}"`,
        `token = "${shenma.token}"`,
        '[completion.debounce]',
        'mode = "fixed"',
        'interval = 0',
        '[logs]',
        'level = "silent"',
        '[anonymousUsageTracking]',
        'disable = true',
        '',
      ].join('\n'),
    );
    const cli = createRequire(import.meta.url).resolve('tabby-agent/dist/cli.js');
    child = spawn(process.execPath, [cli, '--lsp', '--stdio'], {
      env: { ...process.env, HOME: home },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const lsp = new LspClient(child);
    const init = (await lsp.request('initialize', {
      processId: process.pid,
      clientInfo: { name: 'shenma-test', version: '1.0' },
      rootUri: null,
      capabilities: {},
    })) as { capabilities: { completionProvider?: unknown } };
    expect(init.capabilities.completionProvider).toBeDefined();
    lsp.notify('initialized', {});
    fake.enqueue({ text: 'a + b\n' });
    const uri = 'file:///work/project/add.py';
    const text = 'def add(a, b):\n    return \n';
    lsp.notify('textDocument/didOpen', { textDocument: { uri, languageId: 'python', version: 1, text } });
    let items: { textEdit?: { newText: string } }[] = [];
    // The agent may still be connecting on the first request; it answers an empty list then.
    for (let attempt = 0; attempt < 20 && items.length === 0; attempt++) {
      if (attempt > 0) {
        fake.enqueue({ text: 'a + b\n' });
        await new Promise((r) => setTimeout(r, 200));
      }
      const list = (await lsp.request('textDocument/completion', {
        textDocument: { uri },
        position: { line: 1, character: 11 },
      })) as { items: { textEdit?: { newText: string } }[] };
      items = list.items;
    }
    expect(items.length).toBeGreaterThan(0);
    expect(items[0]!.textEdit!.newText).toContain('a + b');
    expect(completionPrompts().at(-1)).toContain('def add(a, b):\n    return ');
    const paths = fake.requests.map((r) => r.path);
    expect(paths).toContain('/v1/completions');
    expect(lsp.notifications.filter((n) => JSON.stringify(n.params).includes('unauthorized'))).toEqual([]);
  }, 30_000);
});

describe("Tabby's HTTP API by its published types", () => {
  const tabbyBody = {
    language: 'python',
    segments: {
      prefix: 'import os\n\ndef home():\n    return ',
      suffix: '\n',
      filepath: 'app/paths.py',
      declarations: [{ filepath: 'app/env.py', body: 'def env_home() -> str: ...' }],
      clipboard: 'os.environ["HOME"]',
    },
    user: 'tester',
  };

  it('tells Tabby’s body apart on /v1/completions and answers in Tabby’s shape', async () => {
    fake.enqueue({ text: 'os.path.expanduser("~")\n' });
    const res = await shenma.post('/v1/completions', tabbyBody);
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toEqual({
      id: expect.stringMatching(/^cmpl-/),
      choices: [{ index: 0, text: 'os.path.expanduser("~")' }],
    });
    const prompt = completionPrompts()[0]!;
    expect(prompt).toContain('def env_home() -> str: ...');
    expect(prompt).toContain('os.environ["HOME"]');
    expect(prompt).toContain('def home():\n    return ');
    // The OpenAI body on the same path is still OpenAI's.
    fake.enqueue({ text: 'x' });
    const openai = await (await shenma.post('/v1/completions', { prompt: 'a = ', max_tokens: 5 })).json();
    expect(openai.object).toBe('text_completion');
    // Counted under its own API label on the completion dashboard.
    const metrics = await (await fetch(`${shenma.url}/metrics`)).text();
    expect(metrics).toMatch(
      /shenma_completion_requests_total\{api="tabby",status="200",reason="model"\} [1-9]/,
    );
    expect(metrics).toMatch(/shenma_completion_requests_total\{api="openai",status="200"/);
  });

  it('serves the same API under the /tabby prefix, with auth', async () => {
    fake.enqueue({ text: 'None\n' });
    // Another file and cursor: the answer above is not reused from the completion cache.
    const elsewhere = {
      ...tabbyBody,
      segments: { prefix: 'def nothing():\n    return ', filepath: 'app/none.py' },
    };
    const res = await shenma.post('/tabby/v1/completions', elsewhere);
    expect((await res.json()).choices[0].text).toBe('None');
    const denied = await shenma.post('/tabby/v1/completions', tabbyBody, { authorization: 'Bearer nope' });
    expect(denied.status).toBe(401);
    const bad = await shenma.post('/tabby/v1/completions', { language: 'python', segments: { suffix: '' } });
    expect(bad.status).toBe(400);
    expect((await bad.json()).error.message).toContain('segments.prefix');
  });

  it('answers /v1/health in HealthState shape', async () => {
    const health: ServerHealthState = await (await shenma.get('/v1/health')).json();
    expect(health).toMatchObject({ model: 'coder', device: expect.any(String), cuda_devices: [] });
    expect(health.version.git_describe).toContain('shenma');
    expect((await shenma.get('/v1/health', { authorization: 'Bearer nope' })).status).toBe(401);
  });

  it('stores view/select events as completion feedback', async () => {
    fake.enqueue({ text: '42\n' });
    const answer = {
      ...tabbyBody,
      segments: { prefix: 'def answer():\n    return ', filepath: 'app/answer.py' },
    };
    const { id } = await (await shenma.post('/v1/completions', answer)).json();
    const view: LogEventRequest = { type: 'view', completion_id: id, choice_index: 0, view_id: 'v1' };
    const select: LogEventRequest = {
      type: 'select',
      completion_id: id,
      choice_index: 0,
      elapsed: 900,
      select_kind: 'line',
    };
    expect((await shenma.post('/v1/events', view)).status).toBe(200);
    expect((await shenma.post('/v1/events?select_kind=line', select)).status).toBe(200);
    const rows = await shenma.server.db.db
      .selectFrom('completion_feedback')
      .selectAll()
      .where('id', '=', id)
      .execute();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ acception: 'accepted', user_name: 'tester' });
  });
});
