import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo, createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  type AdminDouble,
  APISIX_SCHEMA_FIXTURE,
  startAdminDouble,
} from '../../test/support/apisix-admin-double.js';
import { cli } from '../../test/support/cli.js';
import { type HubDouble, startHubDouble } from '../../test/support/hub-double.js';
import type { ComposeFile } from './compose.js';
import { parseDotenv } from './secrets.js';

/**
 * `shenma up` against a FAKE `docker` executable on PATH (no Docker engine here) that records
 * every call and plays scripted states; the gateway step talks to the APISIX Admin API test
 * double through it, and a stand-in HTTP server plays the running gateway for the smoke test.
 */

const FAKE_DOCKER_DIR = path.resolve('test/support/fake-docker');
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface Call {
  argv: string[];
  stdin: string;
}

/** A port nobody listens on right now (the consoles are published there). */
async function freePort(): Promise<number> {
  const s = createNetServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

const COMPLETION_MODEL = 'Qwen/Qwen2.5-Coder-1.5B';
const CHAT_MODEL = 'Qwen/Qwen2.5-Coder-7B-Instruct';

const SMOKE_TOKEN = `sk-smoke-${process.pid}-${Date.now()}`;

interface StandIn {
  server: Server;
  port: number;
  /** Authorization headers of the model calls, by path. */
  seen: Map<string, string[]>;
  /** Make the completion route fail the way an unreachable model upstream does. */
  failCompletion: boolean;
}

/**
 * A DOUBLE for the running gateway's public side (APISIX in front of Shenma; neither runs here):
 * health, discovery, anonymous refusal, and the two model routes, which accept only the API
 * token the fake docker's `shenma tokens create` printed.
 */
async function startGatewayStandIn(issuerBase: () => string): Promise<StandIn> {
  const standIn: StandIn = { seen: new Map(), failCompletion: false } as unknown as StandIn;
  const json = (res: ServerResponse, status: number, body: unknown) =>
    void res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  const server = createServer(async (req, res) => {
    if (req.url === '/healthz') return void res.writeHead(200).end('ok');
    if (req.url === '/realms/gw/.well-known/openid-configuration')
      return json(res, 200, { issuer: `${issuerBase()}/realms/gw` });
    if (req.url === '/v1/models') return void res.writeHead(401).end();
    if (req.method === 'POST' && (req.url === '/v1/completions' || req.url === '/v1/chat/completions')) {
      let raw = '';
      for await (const c of req) raw += c;
      const body = JSON.parse(raw) as { model?: string };
      standIn.seen.set(req.url, [...(standIn.seen.get(req.url) ?? []), req.headers.authorization ?? '']);
      if (req.headers.authorization !== `Bearer ${SMOKE_TOKEN}`)
        return json(res, 401, { error: { message: 'invalid token' } });
      if (body.model !== 'coder') return json(res, 404, { error: { message: 'no such model' } });
      if (req.url === '/v1/completions') {
        if (standIn.failCompletion)
          return json(res, 502, { error: { message: 'model upstream coder is unreachable' } });
        return json(res, 200, { choices: [{ text: ' a + b' }] });
      }
      return json(res, 200, { choices: [{ message: { role: 'assistant', content: 'hello' } }] });
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  standIn.server = server;
  standIn.port = (server.address() as AddressInfo).port;
  return standIn;
}

describe('shenma up (fake docker)', () => {
  let dir: string;
  let gateway: StandIn;
  let double: AdminDouble;
  let logFile: string;
  let scenarioFile: string;

  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'shenma-up-'));
    dirs.push(dir);
    gateway = await startGatewayStandIn(() => `http://127.0.0.1:${gateway.port}`);
    const config = path.join(dir, 'shenma.yaml');
    const init = await cli([
      'init',
      '--non-interactive',
      '--config',
      config,
      '--public-url',
      `http://127.0.0.1:${gateway.port}`,
      '--completion-model-url',
      'http://10.0.0.5:8000/v1',
    ]).catch((e) => e);
    // Loopback public URL: publish on loopback too (init refuses the mix, so set it first).
    expect(init.err).toMatch(/loopback address/);
    writeFileSync(
      config,
      [
        `publicUrl: http://127.0.0.1:${gateway.port}`,
        'models:',
        '  - { name: coder, kind: openai, url: "http://10.0.0.5:8000/v1", family: qwen2.5-coder, roles: [completion, chat] }',
        'deploy:',
        '  publishAddress: 127.0.0.1',
        `  ports: { http: ${gateway.port}, grafana: ${await freePort()}, kibana: ${await freePort()}, keycloak: ${await freePort()} }`,
      ].join('\n'),
    );
    expect((await cli(['init', '--non-interactive', '--config', config])).code).toBe(0);
    const secrets = parseDotenv(readFileSync(path.join(dir, 'shenma.secrets.env'), 'utf8'), 's');
    double = await startAdminDouble(secrets.get('APISIX_ADMIN_KEY'));
    logFile = path.join(dir, 'docker-calls.jsonl');
    scenarioFile = path.join(dir, 'scenario.json');
  });
  afterEach(async () => {
    await new Promise((r) => gateway.server.close(r));
    await double.close();
  });

  const runUp = async (
    scenario: Record<string, unknown>,
    extra: string[] = [],
    env: Record<string, string> = {},
  ) => {
    writeFileSync(
      scenarioFile,
      JSON.stringify({
        adminUrl: double.url,
        adminKey: double.key,
        apisixSchema: APISIX_SCHEMA_FIXTURE,
        shenmaToken: SMOKE_TOKEN,
        ...scenario,
      }),
    );
    writeFileSync(logFile, '');
    const r = await cli(['up', '--config', path.join(dir, 'shenma.yaml'), ...extra], {
      PATH: `${FAKE_DOCKER_DIR}:${process.env.PATH}`,
      FAKE_DOCKER_LOG: logFile,
      FAKE_DOCKER_SCENARIO: scenarioFile,
      ...env,
    });
    const calls = readFileSync(logFile, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Call);
    // Compose's own flags are the same on every call; keep what differs.
    const steps = calls.map((c) => {
      const a = c.argv.filter(
        (x, i, all) =>
          !['--project-directory', '-f'].includes(x) && !['--project-directory', '-f'].includes(all[i - 1]!),
      );
      return a.join(' ');
    });
    return { ...r, calls, steps };
  };

  it('healthy stack: drives the docker calls in order, reconciles the gateway, prints the IDE setting', async () => {
    const r = await runUp({ publishedPorts: [gateway.port] });
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const order = [
      'info --format {{json .}}',
      'compose version --short',
      'compose ps --format json',
      // Elasticsearch first: Kibana is healthy only once kibana_system has its password.
      'compose --profile prometheus --profile grafana --profile elasticsearch --profile kibana up -d --wait elasticsearch',
      'compose exec -T elasticsearch sh -c',
      'compose exec -T elasticsearch sh -c',
      'compose --profile prometheus --profile grafana --profile elasticsearch --profile kibana up -d --build --remove-orphans --wait',
      'compose images --format json',
      'image inspect --format {{json .RepoDigests}} apache/apisix:3.9.1-debian',
      'image inspect --format {{json .RepoDigests}} shenma:0.1.0',
      'compose exec -T postgres sh /docker-entrypoint-initdb.d/10-shenma-bootstrap.sh',
      'compose run --rm --no-deps -T completion db migrate --config /etc/shenma/shenma.yaml --data-dir /var/lib/shenma',
    ];
    // Each step starts as listed (the Elasticsearch calls go on with their curl script).
    expect(
      r.steps.slice(0, order.length).map((step, i) => (step.startsWith(order[i]!) ? order[i] : step)),
    ).toEqual(order);
    const gatewayCalls = r.steps.filter((s) => s.startsWith('compose exec -T apisix'));
    expect(gatewayCalls.length).toBeGreaterThan(20);
    // The Admin API key never appears on a host command line: the container's own variable is used.
    const key = double.key;
    expect(r.calls.some((c) => c.argv.join(' ').includes(key))).toBe(false);
    expect(double.store.routes.size).toBeGreaterThan(20);
    // Keycloak's realm is reconciled inside the stack; its admin password travels in the environment.
    expect(r.steps).toContain(
      'compose run --rm --no-deps -T -e KEYCLOAK_ADMIN_PASSWORD -e OIDC_GATEWAY_CLIENT_SECRET completion keycloak sync --config /etc/shenma/shenma.yaml',
    );
    const secrets = parseDotenv(readFileSync(path.join(dir, 'shenma.secrets.env'), 'utf8'), 's');
    for (const v of secrets.values()) expect(r.calls.some((c) => c.argv.join(' ').includes(v))).toBe(false);
    const es = r.steps.filter((s) => s.startsWith('compose exec -T elasticsearch'));
    expect(es).toHaveLength(3);
    expect(r.out).toContain(`set the server base URL to http://127.0.0.1:${gateway.port}`);
    expect(r.out).toMatch(/Grafana: http:\/\/127\.0\.0\.1:\d+/);
    expect(r.out).toMatch(
      /Users: create them in Keycloak's admin console, http:\/\/127\.0\.0\.1:\d+\/admin\//,
    );
    expect(r.out).toMatch(/discovery document: issuer matches/);
    // The fake's bootstrap prints nothing: every role and database already existed (the real SQL is run twice on
    // PostgreSQL in render.test.ts, which checks what it prints when it creates them).
    expect(r.out).toContain('database: every role and database was already there');
    // The smoke test: its user (added on this first run) and a token made inside the stack, one
    // completion and one chat answer through the public URL with that token, then both cleaned up.
    const smoke = r.steps.filter((s) => s.includes('/app/bin/shenma.js'));
    expect(smoke.map((s) => s.replace(/shenma-smoke/, 'USER'))).toEqual([
      'compose exec -T completion node /app/bin/shenma.js users add USER --no-password --config /etc/shenma/shenma.yaml --data-dir /var/lib/shenma',
      'compose exec -T completion node /app/bin/shenma.js tokens create USER --name shenma up smoke test --expires 1h --config /etc/shenma/shenma.yaml --data-dir /var/lib/shenma',
      'compose exec -T completion node /app/bin/shenma.js tokens revoke tok_fake --config /etc/shenma/shenma.yaml --data-dir /var/lib/shenma',
      'compose exec -T completion node /app/bin/shenma.js users disable USER --config /etc/shenma/shenma.yaml --data-dir /var/lib/shenma',
    ]);
    expect(gateway.seen.get('/v1/completions')).toEqual([`Bearer ${SMOKE_TOKEN}`]);
    expect(gateway.seen.get('/v1/chat/completions')).toEqual([`Bearer ${SMOKE_TOKEN}`]);
    expect(r.out).toContain('completion: coder answered " a + b"');
    expect(r.out).toContain('chat: coder answered "hello"');
    expect(r.out).toMatch(/clean-up: revoked token tok_fake/);
    expect(r.out).toMatch(/clean-up: disabled shenma-smoke/);
    // The token's secret is never printed.
    expect(r.out + r.err).not.toContain(SMOKE_TOKEN);
    const deploy = path.join(dir, 'deploy');
    expect(readFileSync(path.join(deploy, '.shenma-version'), 'utf8').trim()).toMatch(/^\d+\.\d+\.\d+/);
    // Pulled images are locked to their registry digest; Shenma's own, built here, to its image id.
    expect(JSON.parse(readFileSync(path.join(deploy, 'images.lock'), 'utf8'))).toEqual({
      'apache/apisix:3.9.1-debian': `apache/apisix@sha256:${'ab'.repeat(32)}`,
      'shenma:0.1.0': 'sha256:5eed',
    });

    // Re-running is idempotent: the gateway step changes nothing. Here it is also an upgrade from
    // an older Shenma, so the running stack is backed up before it is touched.
    writeFileSync(path.join(deploy, '.shenma-version'), '0.0.1\n');
    const again = await runUp({ publishedPorts: [gateway.port] });
    expect(again.err).toBe('');
    expect(again.code).toBe(0);
    expect(again.out).toMatch(
      /upgrade: 0\.0\.1 -> \d+\.\d+\.\d+; backing up first into \S+pre-upgrade-0\.0\.1-/,
    );
    const firstDump = again.steps.findIndex((s) => s.includes('pg_dump'));
    const start = again.steps.findIndex((s) => s.includes(' up -d '));
    expect(firstDump).toBeGreaterThan(0);
    expect(firstDump).toBeLessThan(start);
    expect(again.out).toMatch(/ 0 change\(s\)/);
    expect(
      again.calls.filter((c) => c.argv.includes('apisix') && /-X (PUT|DELETE)/.test(c.argv.join(' '))),
    ).toHaveLength(0);
  }, 180_000); // ~80 fake-docker processes; no speed is asserted

  it('one service never healthy: stops with its name, its health and its last log lines', async () => {
    const r = await runUp({
      publishedPorts: [gateway.port],
      unhealthy: 'keycloak',
      logs: 'keycloak-1  | starting\nkeycloak-1  | FATAL: password authentication failed for user "keycloak"\n',
    });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(
      /service keycloak did not become healthy \(state running, health unhealthy\); its last log lines:/,
    );
    expect(r.err).toContain('FATAL: password authentication failed for user "keycloak"');
    expect(r.steps).toContain('compose logs --no-color --tail 20 keycloak');
    // Nothing runs after a failed start.
    expect(r.steps.some((s) => s.includes('bootstrap') || s.includes('migrate'))).toBe(false);
  });

  it('smoke test: a failing completion names the step, status and body, and still cleans up', async () => {
    gateway.failCompletion = true;
    const r = await runUp({ publishedPorts: [gateway.port] });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(
      /smoke test, completion: answered 502 \(expected 200\): .*model upstream coder is unreachable/,
    );
    expect(r.steps.some((s) => s.includes('tokens revoke tok_fake'))).toBe(true);
    expect(r.steps.some((s) => /users disable shenma-smoke/.test(s))).toBe(true);
    expect(gateway.seen.has('/v1/chat/completions')).toBe(false);
    expect(existsSync(path.join(dir, 'deploy', '.shenma-version'))).toBe(false);
  }, 180_000);

  it('smoke test: the in-stack CLI failing names the step; --skip-smoke skips it all', async () => {
    const r = await runUp({ publishedPorts: [gateway.port], shenmaCliFails: 'tokens create' });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/smoke test, API token failed \(exit 1\): fake shenma: tokens create failed/);
    expect(r.steps.some((s) => /users disable shenma-smoke/.test(s))).toBe(true);
    const skipped = await runUp({ publishedPorts: [gateway.port] }, ['--skip-smoke']);
    expect(skipped.code).toBe(0);
    expect(skipped.out).toContain('smoke test: skipped (--skip-smoke)');
    expect(skipped.steps.some((s) => s.includes('/app/bin/shenma.js'))).toBe(false);
    expect(gateway.seen.size).toBe(0);
  }, 180_000);

  describe('local models', () => {
    let hub: HubDouble;
    let volume: string;
    const COMMIT = '0123456789abcdef0123456789abcdef01234567';
    const weights = (arch: string) => ({
      'config.json': Buffer.from(`{"architectures":["${arch}"]}\n`),
      'model.safetensors': randomBytes(256 * 1024),
      'tokenizer.json': Buffer.from('{"version":"1.0"}\n'),
    });
    beforeEach(async () => {
      hub = await startHubDouble();
      hub.repos.set(COMPLETION_MODEL, {
        commit: COMMIT,
        files: weights('Qwen2ForCausalLM'),
        lfs: ['model.safetensors'],
      });
      hub.repos.set(CHAT_MODEL, {
        commit: COMMIT,
        files: weights('Qwen2ForCausalLM'),
        lfs: ['model.safetensors'],
        gatedToken: 'hf_gated_token_for_test',
      });
      volume = mkdtempSync(path.join(tmpdir(), 'shenma-models-volume-'));
      dirs.push(volume);
    });
    afterEach(() => hub.close());
    const enable = (pull: string) => {
      const config = path.join(dir, 'shenma.yaml');
      writeFileSync(
        config,
        `${readFileSync(config, 'utf8')}\n  localModels: { enabled: true, pull: ${pull} }\n`,
      );
    };
    const nvidia = { Runtimes: { runc: {}, nvidia: {} } };

    it('missing weights are pulled from the hub into the volume before the start; a re-run pulls nothing', async () => {
      enable(`{ endpoint: "${hub.url}", token: "\${HF_TOKEN}" }`);
      const r = await runUp({ publishedPorts: [gateway.port], info: nvidia, modelsVolume: volume }, [], {
        HF_TOKEN: 'hf_gated_token_for_test',
      });
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
      expect(r.out).toContain(
        `completion: /models/${COMPLETION_MODEL} is missing; pulling ${COMPLETION_MODEL} from the hub at ${hub.url} (revision main)`,
      );
      expect(r.out).toContain(`    model.safetensors: ${256 * 1024} bytes, sha256 ok`);
      expect(r.out).toContain(`completion: pulled ${COMPLETION_MODEL} into /models/${COMPLETION_MODEL}`);
      expect(r.out).toContain(`chat: pulled ${CHAT_MODEL} into /models/${CHAT_MODEL}`);
      for (const m of [COMPLETION_MODEL, CHAT_MODEL])
        expect(readFileSync(path.join(volume, m, 'config.json'), 'utf8')).toContain('Qwen2ForCausalLM');
      const pulls = r.steps.filter((s) => s.includes(' models-pull models pull '));
      expect(pulls).toEqual(
        [COMPLETION_MODEL, CHAT_MODEL].map(
          (m) =>
            `compose --profile models-pull run --rm --no-deps -T -e HF_TOKEN models-pull models pull --model ${m} --endpoint ${hub.url} --revision main --into /models/${m}`,
        ),
      );
      // Weights first, then the stack: vLLM starts with its model in place.
      const started = r.steps.findIndex((s) => s.includes(' up -d '));
      expect(r.steps.findLastIndex((s) => s.includes(' models-pull '))).toBeLessThan(started);
      // The gated model was read with the token, which never reached a command line.
      expect(hub.requests.some((q) => q.authorization === 'Bearer hf_gated_token_for_test')).toBe(true);
      expect(r.calls.some((c) => c.argv.join(' ').includes('hf_gated_token_for_test'))).toBe(false);

      hub.requests = [];
      const again = await runUp({ publishedPorts: [gateway.port], info: nvidia, modelsVolume: volume }, [], {
        HF_TOKEN: 'hf_gated_token_for_test',
      });
      expect(again.code).toBe(0);
      expect(again.out).toContain(`completion: /models/${COMPLETION_MODEL} is there`);
      expect(again.out).toContain(`chat: /models/${CHAT_MODEL} is there`);
      expect(again.steps.some((s) => s.includes(' models-pull '))).toBe(false);
      expect(hub.requests).toEqual([]);
    }, 300_000); // two full runs of up through ~80 fake-docker processes; no speed is asserted

    it('a damaged download or an unknown model stops up before the start with the reason', async () => {
      enable(`{ endpoint: "${hub.url}", token: "\${HF_TOKEN:-}" }`);
      const damaged = Buffer.from(hub.repos.get(COMPLETION_MODEL)!.files['model.safetensors']!);
      damaged[7] = damaged[7]! ^ 1;
      hub.corrupt.set('model.safetensors', damaged);
      const r = await runUp({ publishedPorts: [gateway.port], info: nvidia, modelsVolume: volume });
      expect(r.code).toBe(1);
      expect(r.err).toMatch(
        new RegExp(
          `pulling ${COMPLETION_MODEL} into the models volume failed \\(exit 1\\): .*model\\.safetensors: sha256 [0-9a-f]{64} does not match the hub's [0-9a-f]{64}; refused and deleted`,
        ),
      );
      expect(r.err).toContain('then run shenma up again');
      expect(r.steps.some((s) => s.includes(' up -d '))).toBe(false);

      hub.corrupt.clear();
      hub.repos.delete(CHAT_MODEL);
      const unknown = await runUp({ publishedPorts: [gateway.port], info: nvidia, modelsVolume: volume });
      expect(unknown.code).toBe(1);
      expect(unknown.err).toContain(`the hub at ${hub.url} has no model "${CHAT_MODEL}"`);
    });

    it('--models-from a directory on the host (air-gapped): bind-mounted read-only and copied in', async () => {
      enable('{}');
      const offline = mkdtempSync(path.join(tmpdir(), 'shenma-offline-'));
      dirs.push(offline);
      for (const m of [COMPLETION_MODEL, CHAT_MODEL]) {
        mkdirSync(path.join(offline, m), { recursive: true });
        for (const [name, body] of Object.entries(hub.repos.get(m)!.files))
          writeFileSync(path.join(offline, m, name), body);
      }
      const r = await runUp({ publishedPorts: [gateway.port], info: nvidia, modelsVolume: volume }, [
        '--models-from',
        offline,
        '--skip-smoke',
      ]);
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
      expect(r.steps).toContain(
        `compose --profile models-pull run --rm --no-deps -T -v ${offline}:/source:ro models-pull models pull --from /source/${CHAT_MODEL} --into /models/${CHAT_MODEL}`,
      );
      expect(readFileSync(path.join(volume, CHAT_MODEL, 'tokenizer.json'), 'utf8')).toBe(
        '{"version":"1.0"}\n',
      );
      expect(hub.requests).toEqual([]);
      const missing = await runUp(
        { publishedPorts: [gateway.port], info: nvidia, modelsVolume: scratchVolume() },
        ['--models-from', path.join(offline, 'nope')],
      );
      expect(missing.err).toMatch(/deploy\.localModels\.pull\.from: \S+nope does not exist on this host/);
    }, 180_000);

    it('a token written into shenma.yaml is refused; no NVIDIA runtime is a preflight error', async () => {
      enable(`{ endpoint: "${hub.url}", token: hf_literal_token_value }`);
      const literal = await runUp({ publishedPorts: [gateway.port], info: nvidia, modelsVolume: volume });
      expect(literal.code).toBe(1);
      expect(literal.err).toMatch(
        /deploy\.localModels\.pull\.token must be an environment reference such as \$\{HF_TOKEN\}/,
      );
      expect(literal.err).not.toContain('hf_literal_token_value');
      const noGpu = await runUp({ publishedPorts: [gateway.port], modelsVolume: volume });
      expect(noGpu.code).toBe(1);
      expect(noGpu.err).toMatch(
        /deploy\.localModels needs the NVIDIA container runtime \(nvidia-container-toolkit\), which Docker does not list/,
      );
      expect(noGpu.steps.some((s) => s.includes(' run '))).toBe(false);
    });

    const scratchVolume = () => {
      const v = mkdtempSync(path.join(tmpdir(), 'shenma-models-volume-'));
      dirs.push(v);
      return v;
    };
  });

  it('a model key the config requires but the environment lacks: named, nothing started', async () => {
    const config = path.join(dir, 'shenma.yaml');
    const written = readFileSync(config, 'utf8');
    writeFileSync(
      config,
      written.replace('family: qwen2.5-coder,', 'family: qwen2.5-coder, apiKey: "${CODER_KEY}",'),
    );
    expect(readFileSync(config, 'utf8')).toContain('${CODER_KEY}');
    const r = await runUp({ publishedPorts: [gateway.port] });
    expect(r.code).toBe(1);
    expect(r.err).toContain('references CODER_KEY, not set in this environment');
    expect(r.err).toContain('export CODER_KEY');
    expect(r.calls).toEqual([]);
    const withKey = await runUp({ publishedPorts: [gateway.port] }, [], { CODER_KEY: 'sk-model' });
    expect(withKey.err).toBe('');
    expect(withKey.code).toBe(0);
    const compose = parse(readFileSync(path.join(dir, 'deploy', 'compose.yaml'), 'utf8')) as ComposeFile;
    expect(compose.services.completion!.environment!.CODER_KEY).toBe('${CODER_KEY:-}');
  });

  it('port taken by another program: preflight error, nothing started', async () => {
    const r = await runUp({});
    expect(r.code).toBe(1);
    expect(r.err).toMatch(
      new RegExp(
        `port ${gateway.port} on 127\\.0\\.0\\.1 \\(for apisix\\) is already in use by another program`,
      ),
    );
    expect(r.steps.some((s) => s.includes(' up '))).toBe(false);
    expect(existsSync(path.join(dir, 'deploy', '.shenma-version'))).toBe(false);
  });

  it('engine down, Compose too old, too little memory: one clear line each', async () => {
    expect((await runUp({ engineDown: true })).err).toMatch(
      /the Docker engine is not reachable .*Cannot connect to the Docker daemon/,
    );
    expect((await runUp({ composeVersion: '2.12.2' })).err).toMatch(
      /Docker Compose 2\.12\.2 is too old; 2\.20 or newer is needed/,
    );
    expect((await runUp({ info: { MemTotal: 2 * 1024 ** 3 } })).err).toMatch(
      /Docker sees 2\.0 GiB of memory; the stack's limits add up to/,
    );
  });

  it('--verbose prints each exact docker command', async () => {
    const r = await runUp({ publishedPorts: [gateway.port], unhealthy: 'chat' }, ['--verbose']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^\$ docker info --format '\{\{json \.\}\}'$/m);
    expect(r.err).toMatch(
      /^\$ docker compose --project-directory \S+ -f \S+compose\.yaml --profile prometheus --profile grafana --profile elasticsearch --profile kibana up -d --build --remove-orphans --wait$/m,
    );
  });
});
