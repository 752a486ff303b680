import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type FakeModel, startFakeModel } from './fake-model/server.js';
import { killAllCliProcesses, runCli } from './support/cli-process.js';
import { createScratchDatabase, postgresReachable, type ScratchDatabase } from './support/postgres.js';
import { extensionBody } from './support/shenma.js';
import { dataDirExposure, reachableTempDir } from './support/temp-dir.js';

/**
 * `shenma start` as a user runs it: a child process from the CLI entry, a config file, a data
 * directory; then the real extension's request through it.
 */

const dirs: string[] = [];
let scratch: ScratchDatabase | undefined;
let fake: FakeModel | undefined;

afterAll(async () => {
  killAllCliProcesses();
  await fake?.close();
  await scratch?.drop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const shenma = runCli;

/**
 * What an administrator does next to a running server: `shenma users add NAME --password-stdin`
 * and `shenma tokens create NAME` as their own processes on the same data directory (or database).
 * Returns the printed secret and what the commands wrote on stderr.
 */
async function createUserToken(
  user: string,
  args: string[],
  cwd: string,
  env: Record<string, string> = {},
): Promise<{ token: string; err: string }> {
  const add = shenma(['users', 'add', user, '--password-stdin', ...args], cwd, env, 'e2e password 1\n');
  const added = await add.exited;
  expect(added, add.output().err).toBe(0);
  expect(add.output().out).toMatch(new RegExp(`^Added user ${user} \\(usr_`));
  const create = shenma(['tokens', 'create', user, ...args], cwd, env);
  const created = await create.exited;
  expect(created, create.output().err).toBe(0);
  const { out, err } = create.output();
  expect(out).toContain('it will not be shown again');
  const token = /^(shm_[\w-]+)$/m.exec(out)?.[1];
  expect(token).toBeDefined();
  return { token: token!, err: add.output().err + err };
}

function tempDir(): string {
  const d = reachableTempDir('shenma-cli-');
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
        '  level: info',
        ...(db ? ['database:', `  url: ${db}`] : []),
      ].join('\n'),
    );
    const run = shenma(['start', '--config', 'shenma.yaml', '--port', '0', '--data-dir', 'state'], dir, {
      CODER_KEY: 'sk-test-secret',
    });
    const [, url] = await run.waitFor(/listening on (http:\/\/\S+)/);
    const request = (authorization?: string) =>
      fetch(`${url}/v2/completions`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(authorization ? { authorization } : {}),
          'user-agent': 'OpenAI/NodeJS/3.3.0',
        },
        body: JSON.stringify(extensionBody('def add(a, b):\n    return ', '\n')),
      });
    expect((await request()).status).toBe(401);
    expect((await request('Bearer shm_not-a-real-token')).status).toBe(401);

    // The commands read the same config, so its ${CODER_KEY} must resolve for them too.
    const { token, err: adminErr } = await createUserToken(
      'alice',
      ['--config', 'shenma.yaml', '--data-dir', 'state'],
      dir,
      { CODER_KEY: 'sk-test-secret' },
    );
    // On the embedded database the server holds it, so the commands must have gone through it.
    if (!db) expect(adminErr).toMatch(/\(via the running server, pid \d+\)/);
    if (!db) expect(statSync(path.join(dir, 'state', 'admin.sock')).mode & 0o777).toBe(0o600);

    fake.enqueue({ chunks: ['a', ' + b\n', 'junk'] });
    const res = await request(`Bearer ${token}`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { choices: { text: string }[] };
    expect(body.choices[0]!.text).toBe('a + b');
    const sent = fake.requests.find((r) => r.path === '/v1/completions')!;
    expect(sent.headers.authorization).toBe('Bearer sk-test-secret');
    expect((sent.body as { prompt: string }).prompt.startsWith('<|fim_prefix|>def add(a, b):')).toBe(true);
    expect(dataDirExposure(path.join(dir, 'state'))).toEqual([]);
    const { out, err } = run.output();
    expect(out + err).not.toContain('sk-test-secret');
    expect(out + err).not.toContain(token);
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
    // The token's use was recorded (written at the latest when the server stops).
    const list = shenma(['tokens', 'list', '--config', 'shenma.yaml', '--data-dir', 'state'], dir, {
      CODER_KEY: 'sk-test-secret',
    });
    expect(await list.exited, list.output().err).toBe(0);
    const row = list
      .output()
      .out.split('\n')
      .find((l) => l.includes(' alice '));
    expect(row).toMatch(/ alice +\S+ +\d{4}-\S+ +- +\d{4}-\d\d-\d\dT\S+Z +-$/);
  }, 240_000);

  it('writes a commented default config pointing at a local Ollama and reports it unreachable', async () => {
    const dir = tempDir();
    const run = shenma(['start', '--port', '0', '--data-dir', 'state'], dir, {
      ...(scratch ? { SHENMA_DATABASE_URL: scratch.url } : {}),
    });
    const [, url] = await run.waitFor(/listening on (http:\/\/\S+)/);
    const written = readFileSync(path.join(dir, 'shenma.yaml'), 'utf8');
    expect(written).toContain('url: http://127.0.0.1:11434');
    expect(written).toContain('# ');
    expect(run.output().out).toContain('wrote');
    const ready = await fetch(`${url}/readyz`);
    // Nothing listens on 11434 here: readiness must say so rather than claim to be ready.
    expect(ready.status).toBe(503);
    const complete = (headers: Record<string, string> = {}) =>
      fetch(`${url}/v2/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(extensionBody('x = ', '\n')),
      });
    // Credentials are checked before the model is: no token, 401; a token, the model's 503.
    expect((await complete()).status).toBe(401);
    const env: Record<string, string> = scratch ? { SHENMA_DATABASE_URL: scratch.url } : {};
    const { token } = await createUserToken('bob', ['--data-dir', 'state'], dir, env);
    expect((await complete({ authorization: `Bearer ${token}` })).status).toBe(503);
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
  }, 240_000);

  it('manages users through the running server on the embedded database, and directly once it stops', async () => {
    fake ??= await startFakeModel();
    const dir = tempDir();
    writeFileSync(
      path.join(dir, 'shenma.yaml'),
      [
        'models:',
        '  - name: coder',
        '    kind: openai',
        `    url: ${fake.url}/v1`,
        '    family: qwen2.5-coder',
        'log:',
        '  level: info',
      ].join('\n'),
    );
    const run = shenma(['start', '--port', '0', '--data-dir', 'state'], dir);
    // A fresh embedded database is created and migrated first: slow on a busy machine.
    const [, url] = await run.waitFor(/listening on (http:\/\/\S+)/);
    const { token, err } = await createUserToken('carol', ['--data-dir', 'state'], dir);
    expect(err).toMatch(/\(via the running server, pid \d+\)/);
    const complete = () =>
      fetch(`${url}/v1/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ prompt: 'x = ', max_tokens: 4 }),
      });
    fake.enqueue({ chunks: ['1\n'] });
    expect((await complete()).status).toBe(200);

    const disable = shenma(['users', 'disable', 'carol', '--data-dir', 'state'], dir);
    expect(await disable.exited).toBe(0);
    expect((await complete()).status).toBe(401);

    // `shenma db status` too goes through the server that holds the embedded database.
    const status = shenma(['db', 'status', '--data-dir', 'state'], dir);
    expect(await status.exited, status.output().err).toBe(0);
    expect(status.output().err).toMatch(/\(via the running server, pid \d+\)/);
    expect(status.output().out).toMatch(/\d+ applied, 0 pending\./);
    const migrate = shenma(['db', 'migrate', '--data-dir', 'state'], dir);
    expect(await migrate.exited, migrate.output().err).toBe(0);
    expect(migrate.output().out).toContain('Already up to date');

    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
    expect(existsSync(path.join(dir, 'state', 'admin.sock'))).toBe(false);
    const list = shenma(['users', 'list', '--data-dir', 'state'], dir);
    expect(await list.exited).toBe(0);
    expect(list.output().out).toMatch(/^carol +- +disabled +yes /m);
    expect(list.output().err).not.toContain('via the running server');
  }, 300_000);

  it('refuses a bad config with a message naming the key', async () => {
    const dir = tempDir();
    writeFileSync(
      path.join(dir, 'bad.yaml'),
      'models:\n  - name: coder\n    url: not-a-url\n    family: deepseek-coder\n',
    );
    const run = shenma(['start', '--config', 'bad.yaml', '--data-dir', 'state'], dir);
    expect(await run.exited).toBe(1);
    expect(run.output().err).toContain('models.0.url');
  }, 120_000);
});
