import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonDepthExceeds, useDepthLimitedJson } from './json-body.js';

describe('jsonDepthExceeds', () => {
  it('counts nesting of arrays and objects, not brackets inside strings', () => {
    expect(jsonDepthExceeds('{"a":[1,{"b":2}]}', 3)).toBe(false);
    expect(jsonDepthExceeds('{"a":[1,{"b":2}]}', 2)).toBe(true);
    expect(jsonDepthExceeds(JSON.stringify({ s: '[[[[[[{{{{{' }), 1)).toBe(false);
    expect(jsonDepthExceeds(JSON.stringify({ s: 'quote \\" then [[[[' }), 1)).toBe(false);
    expect(jsonDepthExceeds(`${'['.repeat(65)}${']'.repeat(65)}`, 64)).toBe(true);
    expect(jsonDepthExceeds(`${'['.repeat(64)}${']'.repeat(64)}`, 64)).toBe(false);
  });

  it('agrees with a character-by-character scan on escapes, backslash runs and unterminated strings', () => {
    const reference = (text: string, limit: number): boolean => {
      let depth = 0;
      let inString = false;
      for (let i = 0; i < text.length; i++) {
        const c = text[i];
        if (inString) {
          if (c === '\\') i++;
          else if (c === '"') inString = false;
        } else if (c === '"') inString = true;
        else if (c === '{' || c === '[') {
          depth++;
          if (depth > limit) return true;
        } else if (c === '}' || c === ']') depth--;
      }
      return false;
    };
    const alphabet = ['"', '\\', '[', ']', '{', '}', 'a', ',', ':'];
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    for (let n = 0; n < 5000; n++) {
      const length = Math.floor(random() * 24);
      let text = '';
      for (let i = 0; i < length; i++) text += alphabet[Math.floor(random() * alphabet.length)];
      for (const limit of [0, 1, 2, 3])
        expect(jsonDepthExceeds(text, limit), `${text} / ${limit}`).toBe(reference(text, limit));
    }
    expect(jsonDepthExceeds('{"a":"x\\\\"}[[', 1)).toBe(true);
    expect(jsonDepthExceeds('{"a":"x\\\\\\"}[[', 1)).toBe(false);
  });
});

describe('the JSON body parser', () => {
  const app = Fastify();
  beforeAll(async () => {
    useDepthLimitedJson(app, 8);
    app.post('/echo', async (req) => ({
      body: req.body,
      proto: Object.getPrototypeOf(req.body) === Object.prototype,
    }));
    app.post('/raw', async (req) => ({ body: req.body }));
    await app.ready();
  });
  afterAll(() => app.close());
  const post = (payload: string) =>
    app.inject({ method: 'POST', url: '/echo', headers: { 'content-type': 'application/json' }, payload });

  it('parses an ordinary body, code full of quotes, brackets and backslashes included', async () => {
    const body = { prompt_options: { prefix: 'def f(x):\n    return {"a": [x, "\\n"]}', suffix: '' }, n: 1 };
    const res = await post(JSON.stringify(body));
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ body, proto: true });
  });

  it('refuses prototype-poisoning keys, spelled plainly or with escapes', async () => {
    for (const payload of [
      '{"__proto__":{"admin":true}}',
      '{"a":{"constructor":{"prototype":{"admin":true}}}}',
      '{"\\u005f_proto__":{"admin":true}}',
      '{"\\u005F\\u005Fproto\\u005f\\u005f":{"admin":true}}',
    ]) {
      const res = await post(payload);
      expect(res.statusCode, payload).toBe(400);
      // It is valid JSON: the answer says what is refused, not that the JSON is bad.
      expect(res.json().message, payload).toContain('"__proto__" or "constructor"');
      expect(({} as { admin?: boolean }).admin).toBeUndefined();
    }
  });

  it('accepts the words in values and a constructor key that is not followed by prototype', async () => {
    const body = { code: 'class A { constructor() { this.__proto__ = null } }', name: 'caf\u00e9' };
    const res = await post(JSON.stringify(body));
    expect(res.statusCode).toBe(200);
    expect(res.json().body).toEqual(body);
  });

  it("answers every body as Fastify's own parser does, poisoned keys in arrays and a BOM included", async () => {
    const plain = Fastify();
    plain.post('/raw', async (req) => ({ body: req.body }));
    await plain.ready();
    const cases = [
      '{"a":[{"b":1},{"__proto__":{"admin":true}}]}',
      '[{"x":{"constructor":{"prototype":{}}}}]',
      '{"constructor":{"name":"not a prototype"}}',
      '{"constructor":null,"__proto":1,"proto__":2}',
      '\uFEFF{"a":1}',
      '\uFEFF{"__proto__":{}}',
      '"just a string"',
      '42',
      'null',
      '{"a":1}trailing',
      '{"a":"\\u0000 and \\ud83d\\ude00"}',
      '{"\\u0063onstructor":{"prototype":1}}',
    ];
    try {
      for (const payload of cases) {
        const request = {
          method: 'POST' as const,
          url: '/raw',
          headers: { 'content-type': 'application/json' },
          payload,
        };
        const [ours, fastify] = await Promise.all([app.inject(request), plain.inject(request)]);
        expect(ours.statusCode, payload).toBe(fastify.statusCode);
        if (fastify.statusCode === 200) expect(ours.json().body, payload).toEqual(fastify.json().body);
        else expect(ours.json().code, payload).toBe(fastify.json().code);
      }
    } finally {
      await plain.close();
    }
  });

  it("answers broken and empty JSON with Fastify's own 400s", async () => {
    expect((await post('{"a":')).statusCode).toBe(400);
    expect((await post('')).statusCode).toBe(400);
    expect((await post('[[[[[[[[[[1]]]]]]]]]]')).statusCode).toBe(400);
  });
});
