import { rmSync, writeFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import { startEmbedded } from '../src/server/embedded.js';
import { type CliProcess, createUserToken, runCli } from './support/cli-process.js';
import { extensionBody } from './support/shenma.js';
import { reachableTempDir } from './support/temp-dir.js';

/**
 * Issue #7 item 7: a password in a model URL showed on the unauthenticated /metrics, in 503
 * messages and in the log. `shenma start` as a process, a model URL with a password (nothing
 * listens there, so every path that reports the model's failure runs), and the password must
 * appear nowhere a client or the log can see.
 */

const SECRET = 'Sup3r-S3cret-Pw';
const dirs: string[] = [];
const children: CliProcess[] = [];
afterAll(() => {
  for (const c of children) c.child.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const tempDir = () => {
  const d = reachableTempDir('shenma-secrets-');
  dirs.push(d);
  return d;
};

describe('credentials in model URLs', () => {
  it('never show in /metrics, /readyz, 503 answers or the log', async () => {
    const dir = tempDir();
    writeFileSync(
      path.join(dir, 'shenma.yaml'),
      [
        'database: {}',
        'models:',
        '  - name: coder',
        `    url: http://shenma:${SECRET}@127.0.0.1:1/v1`,
        '    family: deepseek-coder',
        '    roles: [completion, chat]',
        '',
      ].join('\n'),
    );
    const run = runCli(['start', '--config', 'shenma.yaml', '--port', '0', '--data-dir', 'state'], dir);
    children.push(run);
    const [, url] = await run.waitFor(/listening on (http:\/\/\S+)/);
    const token = await createUserToken('alice', 'state', dir);
    const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };

    const seen: Record<string, string> = {};
    const metrics = await fetch(`${url}/metrics`);
    seen.metrics = await metrics.text();
    expect(seen.metrics).toContain('shenma_model_replica_healthy');
    expect(seen.metrics).toContain('shenma:***@127.0.0.1:1');
    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(503);
    seen.readyz = await ready.text();
    const completion = await fetch(`${url}/v2/completions`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify(extensionBody('x = ', '\n')),
    });
    expect(completion.status).toBe(503);
    seen.completion = await completion.text();
    const chat = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ model: 'coder', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(chat.status).toBe(503);
    seen.chat = await chat.text();
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
    const { out, err } = run.output();
    seen.log = out + err;
    expect(seen.log).toContain('shenma:***@127.0.0.1:1');
    for (const [where, text] of Object.entries(seen)) expect(text, where).not.toContain(SECRET);
  }, 90_000);
});

/** An address of this machine that is not loopback, to call a server as a remote client would. */
function externalAddress(): string | undefined {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return undefined;
}

describe('/metrics and /readyz details beyond loopback', () => {
  const external = externalAddress();
  const models = [{ name: 'coder', url: 'http://127.0.0.1:1/v1', family: 'deepseek-coder' as const }];

  it.skipIf(!external)(
    'answer loopback callers, and others only with server.metricsToken',
    async () => {
      const dataDir = tempDir();
      const metricsToken = 'metrics-token-0123456789';
      const server = await startEmbedded({
        config: parseConfig({ models, server: { metricsToken }, database: {} }, 'test config'),
        dataDir,
        host: '0.0.0.0',
        port: 0,
        logLevel: 'silent',
      });
      try {
        const port = new URL(server.url).port;
        const remote = `http://${external}:${port}`;
        const local = `http://127.0.0.1:${port}`;
        expect((await fetch(`${local}/metrics`)).status).toBe(200);
        const refused = await fetch(`${remote}/metrics`);
        expect(refused.status).toBe(401);
        expect(((await refused.json()) as { error: { message: string } }).error.message).toContain(
          'server.metricsToken',
        );
        expect(
          (await fetch(`${remote}/metrics`, { headers: { authorization: 'Bearer wrong-token-000000000' } }))
            .status,
        ).toBe(401);
        const allowed = await fetch(`${remote}/metrics`, {
          headers: { authorization: `Bearer ${metricsToken}` },
        });
        expect(allowed.status).toBe(200);
        expect(await allowed.text()).toContain('shenma_model_replica_healthy');
        // Probes still get the status; the details (model addresses, errors) need the token.
        const bare = await fetch(`${remote}/readyz`);
        expect(bare.status).toBe(503);
        expect(await bare.json()).toEqual({ status: 'not_ready' });
        const detailed = await fetch(`${remote}/readyz`, {
          headers: { authorization: `Bearer ${metricsToken}` },
        });
        expect(((await detailed.json()) as { checks?: unknown }).checks).toBeDefined();
      } finally {
        await server.close();
      }
    },
    90_000,
  );
});
