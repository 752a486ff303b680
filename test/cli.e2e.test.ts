import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { type FakeModel, startFakeModel } from './fake-model/server.js';
import { createScratchDatabase, postgresReachable, type ScratchDatabase } from './support/postgres.js';
import { extensionBody } from './support/shenma.js';

/**
 * `shenma start` as a user runs it: a child process from the CLI entry, a config file, a data
 * directory; then the real extension's request through it.
 */

const ROOT = path.resolve(import.meta.dirname, '..');
// Absolute, because the CLI runs in a scratch directory where `tsx` would not resolve.
const TSX_LOADER = pathToFileURL(path.join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
const children: ChildProcess[] = [];
const dirs: string[] = [];
let scratch: ScratchDatabase | undefined;
let fake: FakeModel | undefined;

afterAll(async () => {
  for (const c of children) c.kill('SIGTERM');
  await fake?.close();
  await scratch?.drop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function shenma(args: string[], cwd: string, env: Record<string, string> = {}) {
  const child = spawn(
    process.execPath,
    ['--import', TSX_LOADER, path.join(ROOT, 'src/cli/run.ts'), ...args],
    {
      cwd,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  children.push(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => {
    out += d;
  });
  child.stderr!.on('data', (d) => {
    err += d;
  });
  const exited = new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? -1)));
  const waitFor = async (re: RegExp, ms = 20_000): Promise<RegExpMatchArray> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = out.match(re);
      if (m) return m;
      if (child.exitCode !== null || Date.now() > deadline) {
        throw new Error(`did not see ${re} (exit ${child.exitCode}); stdout:\n${out}\nstderr:\n${err}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  return { child, exited, waitFor, output: () => ({ out, err }) };
}

function tempDir(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'shenma-cli-'));
  dirs.push(d);
  return d;
}

describe('shenma start', () => {
  it('serves the extension request through the configured model', async () => {
    fake = await startFakeModel();
    const dir = tempDir();
    if (await postgresReachable()) scratch = await createScratchDatabase('cli');
    const db = scratch?.url;
    writeFileSync(
      path.join(dir, 'shenma.yaml'),
      [
        'models:',
        '  - name: coder',
        '    kind: openai',
        `    url: ${fake.url}/v1`,
        '    apiKey: ${CODER_KEY}',
        '    family: qwen2.5-coder',
        'completion:',
        '  model: coder',
        'log:',
        '  level: warn',
        ...(db ? ['database:', `  url: ${db}`] : []),
      ].join('\n'),
    );
    const run = shenma(['start', '--config', 'shenma.yaml', '--port', '0', '--data-dir', 'state'], dir, {
      CODER_KEY: 'sk-test-secret',
    });
    const [, url] = await run.waitFor(/listening on (http:\/\/\S+)/);
    fake.enqueue({ chunks: ['a', ' + b\n', 'junk'] });
    const res = await fetch(`${url}/v2/completions`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: 'Bearer x',
        'user-agent': 'OpenAI/NodeJS/3.3.0',
      },
      body: JSON.stringify(extensionBody('def add(a, b):\n    return ', '\n')),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { choices: { text: string }[] };
    expect(body.choices[0]!.text).toBe('a + b');
    const sent = fake.requests.find((r) => r.path === '/v1/completions')!;
    expect(sent.headers.authorization).toBe('Bearer sk-test-secret');
    expect((sent.body as { prompt: string }).prompt.startsWith('<|fim_prefix|>def add(a, b):')).toBe(true);
    expect(statSync(path.join(dir, 'state')).mode & 0o777).toBe(0o700);
    const { out, err } = run.output();
    expect(out + err).not.toContain('sk-test-secret');
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
  });

  it('writes a commented default config pointing at a local Ollama and reports it unreachable', async () => {
    const dir = tempDir();
    const run = shenma(['start', '--port', '0', '--data-dir', 'state'], dir, {
      ...(scratch ? { SHENMA_DATABASE_URL: scratch.url } : {}),
    });
    const [, url] = await run.waitFor(/listening on (http:\/\/\S+)/, 30_000);
    const written = readFileSync(path.join(dir, 'shenma.yaml'), 'utf8');
    expect(written).toContain('url: http://127.0.0.1:11434');
    expect(written).toContain('# ');
    expect(run.output().out).toContain('wrote');
    const ready = await fetch(`${url}/readyz`);
    // Nothing listens on 11434 here: readiness must say so rather than claim to be ready.
    expect(ready.status).toBe(503);
    const res = await fetch(`${url}/v2/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(extensionBody('x = ', '\n')),
    });
    expect(res.status).toBe(503);
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
  });

  it('refuses a bad config with a message naming the key', async () => {
    const dir = tempDir();
    writeFileSync(
      path.join(dir, 'bad.yaml'),
      'models:\n  - name: coder\n    url: not-a-url\n    family: deepseek-coder\n',
    );
    const run = shenma(['start', '--config', 'bad.yaml', '--data-dir', 'state'], dir);
    expect(await run.exited).toBe(1);
    expect(run.output().err).toContain('models.0.url');
  });
});
