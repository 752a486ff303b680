import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROUTES, type RouteSpec } from '../src/gateway/routes.js';
import { type FakeModel, startFakeModel } from './fake-model/server.js';
import { startTestShenma, type TestShenma } from './support/shenma.js';

/**
 * The review's bad-input pass over every route-table entry, kept as a property test: with valid
 * credentials (so bodies get past auth to parsing and validation), wrong types, huge, deep and
 * invalid JSON bodies and wrong content types never produce a 5xx, and every refusal is a JSON
 * error. Routes that answer with HTML pages (the login page) may refuse with HTML.
 */

let fake: FakeModel;
let shenma: TestShenma;

beforeAll(async () => {
  fake = await startFakeModel();
  shenma = await startTestShenma({
    models: [
      { name: 'assistant', kind: 'openai', url: `${fake.url}/v1`, roles: ['chat'] },
      { name: 'coder', kind: 'openai', url: `${fake.url}/v1`, family: 'deepseek-coder' },
    ],
  });
});
afterAll(async () => {
  await shenma?.close();
  await fake?.close();
});

/** A concrete URL for each path of an entry (parameters and wildcards filled in). */
function concretePaths(route: RouteSpec): string[] {
  return route.paths.map((p) =>
    p
      .replace(':realm', 'gw')
      .replace(':uid', 'fuzz-uid')
      .replace(/\/\*$/, route.id === 'identity.oidc' ? '/protocol/openid-connect/token' : '/fuzz'),
  );
}

interface Target {
  route: RouteSpec;
  method: string;
  url: string;
}

const targets: Target[] = ROUTES.filter((r: RouteSpec) => !r.websocket).flatMap((route: RouteSpec) =>
  concretePaths(route).flatMap((url) =>
    route.methods.filter((m) => m !== 'OPTIONS').map((method) => ({ route, method, url })),
  ),
);

/**
 * Routes whose refusals need not be JSON: pages a browser reads (they refuse in HTML), and the
 * OpenID provider, whose answers are oidc-provider's own (JSON on its endpoints' POSTs, a plain
 * 404 for a method an endpoint does not serve).
 */
const NON_JSON_REFUSALS = new Set([
  'identity.login',
  'trampoline.ok',
  'identity.pluginLogin',
  'identity.pluginLoginConfirm',
  'identity.oidc',
]);

interface BadBody {
  kind: string;
  contentType: string;
  body: string;
}

const deep = (n: number) => `{"a":${'['.repeat(n)}1${']'.repeat(n)}}`;

const badBody: fc.Arbitrary<BadBody> = fc.oneof(
  fc.jsonValue().map((v) => ({
    kind: 'wrong types',
    contentType: 'application/json',
    body: JSON.stringify(v) ?? 'null',
  })),
  fc
    .dictionary(
      fc.constantFrom(
        'model',
        'messages',
        'prompt_options',
        'data',
        'status',
        'category',
        'description',
        'rating',
        'conversation_id',
        'prompt',
        'suffix',
        'stream',
        'max_tokens',
      ),
      fc.oneof(fc.jsonValue(), fc.string({ maxLength: 50 })),
    )
    .map((v) => ({
      kind: 'known fields, wrong values',
      contentType: 'application/json',
      body: JSON.stringify(v),
    })),
  fc
    .integer({ min: 65, max: 20_000 })
    .map((n) => ({ kind: 'deep', contentType: 'application/json', body: deep(n) })),
  fc
    .constantFrom(
      '{"a":',
      '{',
      '[',
      '{"a":1,}',
      'nul',
      '"\\ud800"',
      '{"__proto__":{"x":1}}',
      '{"constructor":{"prototype":{}}}',
      '',
    )
    .map((body) => ({ kind: 'invalid JSON', contentType: 'application/json', body })),
  fc
    .tuple(
      fc.constantFrom(
        'text/plain',
        'application/xml',
        'multipart/form-data; boundary=x',
        'application/x-www-form-urlencoded',
        'application/octet-stream',
      ),
      fc.string({ maxLength: 200 }),
    )
    .map(([contentType, body]) => ({ kind: 'wrong content type', contentType, body })),
);

async function send(target: Target, bad: BadBody): Promise<{ status: number; type: string; text: string }> {
  const res = await fetch(`${shenma.url}${target.url}`, {
    method: target.method,
    headers: { authorization: `Bearer ${shenma.token}`, 'content-type': bad.contentType },
    ...(target.method === 'GET' ? {} : { body: bad.body }),
    redirect: 'manual',
  });
  return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() };
}

function checkAnswer(target: Target, bad: BadBody, answer: { status: number; type: string; text: string }) {
  const where = `${target.method} ${target.url} (${bad.kind}): ${answer.status} ${answer.text.slice(0, 200)}`;
  expect(answer.status, where).toBeLessThan(500);
  if (answer.status >= 400 && !NON_JSON_REFUSALS.has(target.route.id)) {
    expect(answer.type, where).toContain('application/json');
    const parsed = JSON.parse(answer.text) as { error?: unknown };
    expect(parsed.error ?? parsed, where).toBeTruthy();
  }
}

describe('bad bodies on every route', () => {
  it('never answer 5xx, and refuse with a JSON error', async () => {
    // Model calls the fuzz happens to make valid get a quick answer.
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...targets), badBody, async (target, bad) => {
        checkAnswer(target, bad, await send(target, bad));
      }),
      { numRuns: 300 },
    );
  }, 180_000);

  it('refuse a body over each route limit without a 5xx', async () => {
    for (const target of targets.filter((t) => t.method === 'POST')) {
      const bad = {
        kind: 'huge',
        contentType: 'application/json',
        body: `{"a":"${'x'.repeat(4 * 1024 * 1024)}"}`,
      };
      const answer = await send(target, bad);
      checkAnswer(target, bad, answer);
      expect(answer.status, `${target.url}`).toBeGreaterThanOrEqual(400);
    }
  }, 120_000);
});
