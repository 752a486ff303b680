import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenStore, UserStore } from '../src/identity/users.js';
import { firstExternalAddress } from '../src/server/public-url.js';
import { openDatabase } from '../src/storage/database.js';
import { type FakeModel, startFakeModel } from './fake-model/server.js';
import { killAllCliProcesses, runCli } from './support/cli-process.js';
import { createScratchDatabase, postgresReachable, type ScratchDatabase } from './support/postgres.js';
import { reachableTempDir } from './support/temp-dir.js';

/**
 * `shenma start` as its own process, for what only a real process shows: the first start of the
 * embedded database, the listen address an operator picks, and Ctrl-C with answers in flight.
 */

const dirs: string[] = [];
const scratches: ScratchDatabase[] = [];
let fake: FakeModel;

beforeAll(async () => {
  fake = await startFakeModel();
});

afterAll(async () => {
  killAllCliProcesses();
  await fake?.close();
  for (const s of scratches) await s.drop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = reachableTempDir('shenma-start-');
  dirs.push(dir);
  return dir;
}

/** A config with one completion and one chat model on the fake server, on real PostgreSQL when there is one. */
async function writeConfig(dir: string, extra: string[] = []): Promise<string | undefined> {
  let url: string | undefined;
  if (await postgresReachable()) {
    const scratch = await createScratchDatabase('start');
    scratches.push(scratch);
    url = scratch.url;
  }
  writeFileSync(
    path.join(dir, 'shenma.yaml'),
    [
      'models:',
      '  - name: coder',
      `    url: ${fake.url}/v1`,
      '    family: qwen2.5-coder',
      '  - name: assistant',
      `    url: ${fake.url}/v1`,
      '    roles: [chat]',
      ...(url ? ['database:', `  url: ${url}`] : []),
      ...extra,
    ].join('\n'),
  );
  return url;
}

/** A user and an API token made straight in the database the server uses. */
async function tokenFor(databaseUrl: string | undefined, dataDir: string): Promise<string> {
  const database = await openDatabase(databaseUrl ? { url: databaseUrl, dataDir } : { dataDir });
  try {
    await new UserStore(database.db).add('ops', 'ops-password-1');
    return (await new TokenStore(database.db).create('ops', { name: 'test' })).secret;
  } finally {
    await database.close();
  }
}

describe('shenma start --host 0.0.0.0', () => {
  it('listens on every address and prints the IDE base URL teammates use', async () => {
    const dir = tempDir();
    await writeConfig(dir);
    const run = runCli(['start', '--host', '0.0.0.0', '--port', '0', '--data-dir', 'state'], dir);
    const [, port] = await run.waitFor(/listening on http:\/\/0\.0\.0\.0:(\d+)/);
    const external = firstExternalAddress();
    const lines = run.logLines();
    // stdout is JSON lines only.
    expect(lines.filter((l) => 'text' in l)).toEqual([]);
    const start = lines.find((l) => String(l.msg).includes('IDE base URL'));
    // Which file and which models took effect, in words an operator reads after an edit.
    expect(lines.some((l) => l.msg === `configuration from ${path.join(dir, 'shenma.yaml')}`)).toBe(true);
    expect(lines.find((l) => String(l.msg).startsWith('models: '))?.msg).toBe(
      `models: coder (completion) at ${fake.url}/v1; assistant (chat) at ${fake.url}/v1`,
    );
    if (external) {
      expect(start?.publicUrl).toBe(`http://${external.includes(':') ? `[${external}]` : external}:${port}`);
      expect((await fetch(`${start?.publicUrl}/healthz`)).status).toBe(200);
    } else {
      expect(lines.some((l) => l.level === 40 && String(l.msg).includes('set publicUrl'))).toBe(true);
    }
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
  }, 240_000);
});

describe('the first start on the embedded database', () => {
  it('says it is creating the database and answers /healthz meanwhile', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'shenma.yaml'), 'models: []\n');
    const port = 20_000 + Math.floor(Math.random() * 10_000);
    const run = runCli(['start', '--port', String(port), '--data-dir', 'state'], dir);
    await run.waitFor(/creating the embedded database/);
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'starting' });
    const other = await fetch(`http://127.0.0.1:${port}/v1/models`);
    expect(other.status).toBe(503);
    expect(other.headers.get('retry-after')).toBe('2');
    // "shenma listening on" is the HTTP server's line; the admin socket logs its own "listening on" before it.
    await run.waitFor(/shenma listening on/, 240_000);
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    // Both roles lack a model here, and the operator is told so.
    await run.waitFor(/no chat model is configured/);
    const warnings = run
      .logLines()
      .filter((l) => l.level === 40)
      .map((l) => String(l.msg));
    expect(warnings.some((m) => m.startsWith('no completion model is configured'))).toBe(true);
    expect(warnings.some((m) => m.startsWith('no chat model is configured'))).toBe(true);
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
  }, 300_000);
});

describe('Ctrl-C with chats in flight', () => {
  it('lets an answer finish within the drain time and ends the rest with an error event', async () => {
    const dir = tempDir();
    const databaseUrl = await writeConfig(dir, ['server:', '  drainMs: 10000', 'log:', '  level: info']);
    const run = runCli(['start', '--port', '0', '--data-dir', 'state'], dir);
    const [, url] = await run.waitFor(/listening on (http:\/\/[\d.]+:\d+)/);
    const token = await tokenFor(databaseUrl, path.join(dir, 'state'));
    const ask = (content: string) =>
      fetch(`${url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'assistant', stream: true, messages: [{ role: 'user', content }] }),
      }).then((r) => r.text());
    fake.reset();
    // The first answer finishes a moment after Ctrl-C; the second would take a minute.
    fake.enqueue({ chunks: ['quick ', 'answer'], interChunkMs: 400 });
    fake.enqueue({ chunks: ['slow ', 'answer'], interChunkMs: 60_000 });
    const quick = ask('quick one');
    await fake.waitForRequests(1, 10_000);
    const slow = ask('slow one');
    await fake.waitForRequests(2, 10_000);
    run.child.kill('SIGINT');
    // While it drains it is alive but not ready: a load balancer sends it nothing new.
    await run.waitFor(/shutting down/, 10_000);
    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(503);
    expect(
      ((await ready.json()) as { checks: Record<string, { detail?: string }> }).checks.server!.detail,
    ).toContain('shutting down');
    expect((await fetch(`${url}/healthz`)).status).toBe(200);

    const quickText = await quick;
    expect(quickText).toContain('"content":"answer"');
    expect(quickText.trim().endsWith('data: [DONE]')).toBe(true);
    expect(quickText).not.toContain('"error"');
    const slowText = await slow;
    expect(slowText).toContain('"content":"slow "');
    expect(slowText).toContain('shutting down');
    expect(slowText.trim().endsWith('data: [DONE]')).toBe(true);
    expect(await run.exited).toBe(0);

    const chats = run.logLines().filter((l) => l.msg === 'chat');
    expect(chats.map((l) => l.status).sort()).toEqual(['ok', 'shutdown']);
    expect(run.output().out).not.toContain('client_cancelled');
    expect(run.logLines().some((l) => String(l.msg).startsWith('shutting down'))).toBe(true);
  }, 240_000);
});
