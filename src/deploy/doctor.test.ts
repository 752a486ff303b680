import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../../test/support/cli.js';

/**
 * `shenma doctor` with a FAKE `docker` on PATH (no engine here) and a stand-in HTTP server
 * playing the public side of the gateway; the findings are what an operator reads.
 */

const FAKE_DOCKER_DIR = path.resolve('test/support/fake-docker');
const DOCTOR_TOKEN = `sk-doctor-${process.pid}`;
const dir = mkdtempSync(path.join(tmpdir(), 'shenma-doctor-'));
let server: Server;
let port: number;
let issuer = '';
afterAll(async () => {
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === '/healthz') return void res.writeHead(200).end('ok');
    // The public side of /v1/models: the token the fake docker's `tokens create` printed opens it.
    if (req.url === '/v1/models')
      return void res.writeHead(req.headers.authorization === `Bearer ${DOCTOR_TOKEN}` ? 200 : 401).end('{}');
    if (req.url === '/realms/gw/.well-known/openid-configuration')
      return void res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ issuer, authorization_endpoint: `${issuer}/protocol/openid-connect/auth` }));
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
  writeFileSync(
    path.join(dir, 'shenma.yaml'),
    [
      `publicUrl: http://127.0.0.1:${port}`,
      'models:',
      '  - { name: coder, kind: openai, url: "http://10.0.0.5:8000/v1", family: qwen2.5-coder }',
      'deploy:',
      '  publishAddress: 127.0.0.1',
    ].join('\n'),
  );
  expect((await cli(['init', '--non-interactive', '--config', path.join(dir, 'shenma.yaml')])).code).toBe(0);
  expect((await cli(['render', '--config', path.join(dir, 'shenma.yaml')])).code).toBe(0);
});

async function runDoctor(scenario: Record<string, unknown>) {
  writeFileSync(path.join(dir, 'calls.jsonl'), '');
  writeFileSync(path.join(dir, 'scenario.json'), JSON.stringify({ shenmaToken: DOCTOR_TOKEN, ...scenario }));
  return cli(['doctor', '--config', path.join(dir, 'shenma.yaml')], {
    PATH: `${FAKE_DOCKER_DIR}:${process.env.PATH}`,
    FAKE_DOCKER_LOG: path.join(dir, 'calls.jsonl'),
    FAKE_DOCKER_SCENARIO: path.join(dir, 'scenario.json'),
  });
}

describe('shenma doctor', () => {
  it('reuses its user on later runs: enabled again, not a new user per run', async () => {
    issuer = `http://127.0.0.1:${port}/realms/gw`;
    const r = await runDoctor({ shenmaUserExists: true });
    expect(r.out).toMatch(/^OK {3}token round trip:/m);
    const calls = readFileSync(path.join(dir, 'calls.jsonl'), 'utf8');
    expect(calls).toMatch(/"users","add","shenma-doctor","--no-password"/);
    expect(calls).toMatch(/"users","enable","shenma-doctor"/);
    expect(calls).toMatch(/"users","disable","shenma-doctor"/);
    expect(calls).not.toMatch(/"users","add","(?!shenma-doctor")/);
  });

  it('all good but the public extension secret: exit 0 with a warning', async () => {
    issuer = `http://127.0.0.1:${port}/realms/gw`;
    const r = await runDoctor({});
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^OK {3}issuer: tokens are issued by http:\/\/127\.0\.0\.1:\d+\/realms\/gw$/m);
    expect(r.out).toMatch(/^OK {3}completion readiness: models and database answer$/m);
    expect(r.out).toMatch(
      /^OK {3}token round trip: a fresh API token opens http:\/\/127\.0\.0\.1:\d+\/v1\/models \(200\); none is refused \(401\)$/m,
    );
    // The doctor's user and token are made inside the stack and cleaned up again.
    const calls = readFileSync(path.join(dir, 'calls.jsonl'), 'utf8');
    expect(calls).toMatch(/"users","add","shenma-doctor","--no-password"/);
    expect(calls).toMatch(/"tokens","revoke","tok_fake"/);
    expect(calls).toMatch(/"users","disable","shenma-doctor"/);
    expect(r.out).toMatch(
      /^WARN extension client secret: the IDE client uses the secret built into the public extension/m,
    );
  });

  it('an internal issuer (the original deployment broke logins this way) and a model down fail, named', async () => {
    issuer = 'http://keycloak:8080/realms/gw';
    const r = await runDoctor({ readyz: { chat: '503 {"model chat":"unreachable"}' } });
    expect(r.code).toBe(1);
    expect(r.out).toMatch(
      /^FAIL issuer: the provider says http:\/\/keycloak:8080\/realms\/gw, browsers use http:\/\/127\.0\.0\.1:\d+\/realms\/gw$/m,
    );
    expect(r.out).toMatch(
      /^FAIL redirect URLs: authorization_endpoint is http:\/\/keycloak:8080\/.*browsers cannot follow it$/m,
    );
    expect(r.out).toMatch(/^FAIL chat readiness: \/readyz: \{"model chat":"unreachable"\}$/m);
  });

  it('a token the public URL does not accept fails the round trip; the in-stack CLI failing is named', async () => {
    issuer = `http://127.0.0.1:${port}/realms/gw`;
    const wrong = await runDoctor({ shenmaToken: 'sk-not-what-the-gateway-accepts' });
    expect(wrong.code).toBe(1);
    expect(wrong.out).toMatch(
      /^FAIL token round trip: http:\/\/127\.0\.0\.1:\d+\/v1\/models answered 401 with a fresh API token \(want 200\) and 401 without one \(want 401\)$/m,
    );
    const broken = await runDoctor({ shenmaCliFails: 'tokens create' });
    expect(broken.out).toMatch(
      /^FAIL token round trip: shenma tokens create in the stack failed: fake shenma: tokens create failed/m,
    );
    expect(readFileSync(path.join(dir, 'calls.jsonl'), 'utf8')).toMatch(/"users","disable","shenma-doctor"/);
  });
});
