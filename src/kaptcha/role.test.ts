import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type JsonResponse, startTestShenma, type TestShenma } from '../../test/support/shenma.js';
import { CAPTCHA_RATE } from './role.js';

/** The kaptcha routes through the embedded server, as a login page calls them. */

let shenma: TestShenma;

beforeAll(async () => {
  shenma = await startTestShenma({
    // Never called here; the config needs a model.
    models: [{ name: 'coder', kind: 'openai', url: 'http://127.0.0.1:9/v1', family: 'deepseek-coder' }],
  });
});
afterAll(() => shenma?.close());

describe('kaptcha role', () => {
  it('GET /captcha returns {id, image} with a data URL, not cacheable', async () => {
    const res = await shenma.get(`/captcha`);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = await res.json();
    expect(Object.keys(body).sort()).toEqual(['id', 'image']);
    expect(body.image).toMatch(/^data:image\/svg\+xml;base64,/);
  });

  it("GET /realms/gw/captcha/code returns the original's {uuid, code}", async () => {
    const res = await shenma.get(`/realms/gw/captcha/code`);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = await res.json();
    expect(Object.keys(body).sort()).toEqual(['code', 'uuid']);
    expect(body.code).toMatch(/^data:image\/svg\+xml;base64,/);
  });

  it('answers 404 JSON for another realm', async () => {
    const res = await shenma.get(`/realms/other/captcha/code`);
    expect(res.status).toBe(404);
    expect((await res.json()).error.type).toBe('not_found_error');
  });

  // Last: it empties this client's bucket.
  it('limits issuance per client address with 429 and Retry-After', async () => {
    const statuses: number[] = [];
    let limited: JsonResponse | undefined;
    for (let i = 0; i < CAPTCHA_RATE.capacity + 2; i++) {
      const res = await shenma.get(`/captcha`);
      statuses.push(res.status);
      if (res.status === 429) limited ??= res;
      else await res.arrayBuffer();
    }
    // Earlier tests took 2 of the burst; a slow run may have earned one back (one per 3 s).
    const allowed = statuses.filter((s) => s === 200).length;
    expect(allowed).toBeGreaterThanOrEqual(CAPTCHA_RATE.capacity - 2);
    expect(allowed).toBeLessThanOrEqual(CAPTCHA_RATE.capacity - 1);
    expect(limited).toBeDefined();
    expect(Number(limited!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect((await limited!.json()).error.type).toBe('rate_limit_error');
  });
});
