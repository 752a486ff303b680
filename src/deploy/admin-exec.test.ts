import { spawn } from 'node:child_process';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminRequestScript, parseRawResponse, schemaRequestScript } from './admin-exec.js';

/**
 * The scripts `docker compose exec apisix bash -c ...` runs (APISIX's image has no curl), run by
 * the real bash against a real HTTP server on loopback, as they run inside the container.
 */

interface Seen {
  method: string;
  url: string;
  key: string | undefined;
  body: string;
}
const seen: Seen[] = [];
const bigSchema = JSON.stringify({ plugins: { filler: 'x'.repeat(300_000) } });
let server: Server;
let port: number;

beforeAll(async () => {
  server = createServer(async (req: IncomingMessage, res) => {
    let body = '';
    for await (const c of req) body += c;
    seen.push({ method: req.method!, url: req.url!, key: req.headers['x-api-key'] as string, body });
    if (req.url === '/v1/schema') return void res.writeHead(200).end(bigSchema);
    const status = req.headers['x-api-key'] === 'the-key' ? 201 : 401;
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ got: body.length }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise((r) => server.close(r)));

/** Async: the server answering is in this process, so a blocking spawn would wait for itself. */
async function bash(script: string, args: string[], input: string, env: Record<string, string> = {}) {
  const child = spawn('bash', ['-c', script, ...args], { env: { PATH: process.env.PATH, ...env } });
  const out: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => out.push(c));
  child.stdin.end(input);
  const code = await new Promise<number | null>((r) => child.once('close', r));
  return { code, stdout: Buffer.concat(out).toString('utf8') };
}

describe('the Admin API over bash /dev/tcp', () => {
  it('sends method, path, the container’s key and the body byte for byte, and reads the answer', async () => {
    const body = JSON.stringify({ uri: '/v1/completions', desc: 'café ☕' });
    const r = await bash(
      adminRequestScript(port),
      ['PUT', '/apisix/admin/routes/shenma-x', String(Buffer.byteLength(body))],
      body,
      { APISIX_ADMIN_KEY: 'the-key' },
    );
    expect(r.code).toBe(0);
    expect(seen.at(-1)).toEqual({
      method: 'PUT',
      url: '/apisix/admin/routes/shenma-x',
      key: 'the-key',
      body,
    });
    const answer = parseRawResponse(r.stdout, 'test');
    expect(answer.status).toBe(201);
    expect(JSON.parse(answer.body)).toEqual({ got: body.length });
  });

  it('sends a GET without a body, and passes a refusal through', async () => {
    const r = await bash(adminRequestScript(port), ['GET', '/apisix/admin/routes', '0'], '', {
      APISIX_ADMIN_KEY: 'wrong',
    });
    expect(seen.at(-1)).toMatchObject({ method: 'GET', body: '' });
    expect(parseRawResponse(r.stdout, 'test').status).toBe(401);
  });

  it('reads the whole schema dump, larger than a pipe buffer', async () => {
    const r = await bash(schemaRequestScript(port), [], '');
    const answer = parseRawResponse(r.stdout, 'test');
    expect(answer.status).toBe(200);
    expect(answer.body).toBe(bigSchema);
  });

  it('says so when nothing answers like HTTP', () => {
    expect(() => parseRawResponse('bash: connect: Connection refused', 'APISIX Admin API GET /x')).toThrow(
      'APISIX Admin API GET /x: no HTTP response',
    );
  });
});
