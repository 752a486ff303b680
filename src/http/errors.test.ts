import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { badRequestFromZod, errorBody, fastifyErrorHandler, HttpError } from './errors.js';

describe('badRequestFromZod', () => {
  const schema = z.object({ prompt_options: z.object({ prefix: z.string({ error: 'must be a string' }) }) });

  it('names the nested path of the first issue in the message and param', () => {
    const r = schema.safeParse({ prompt_options: { prefix: 5 } });
    expect(r.success).toBe(false);
    const err = badRequestFromZod(r.error!);
    expect(err).toBeInstanceOf(HttpError);
    expect(err.status).toBe(400);
    expect(err.type).toBe('invalid_request_error');
    expect(err.message).toBe('prompt_options.prefix: must be a string');
    expect(err.param).toBe('prompt_options.prefix');
  });

  it('names array indices and a prefix', () => {
    const r = z.object({ stop: z.array(z.string()) }).safeParse({ stop: ['a', 1] });
    const err = badRequestFromZod(r.error!, 'body');
    expect(err.param).toBe('body.stop.1');
    expect(err.message.startsWith('body.stop.1: ')).toBe(true);
  });

  describe('in a union, names the branch the client meant', () => {
    const part = z.object({ type: z.literal('text'), text: z.string() });
    const message = z.object({
      role: z.enum(['user', 'assistant']),
      content: z.union([z.string(), z.array(part)]),
    });
    const body = z.object({ input: z.union([z.string(), z.array(message)]) });
    const cases: [string, unknown, string, string][] = [
      ['a message with a bad role', [{ role: 'wizard', content: 'x' }], 'input.0.role', 'Invalid option'],
      [
        'a part deep inside two unions',
        [{ role: 'user', content: [{ type: 'text', text: 5 }] }],
        'input.0.content.0.text',
        'expected string',
      ],
      ['a value no branch takes', 5, 'input', 'expected string or array, received number'],
    ];
    for (const [name, input, param, says] of cases) {
      it(name, () => {
        const err = badRequestFromZod(body.safeParse({ input }).error!);
        expect(err.param).toBe(param);
        expect(err.message).toContain(`${param}: `);
        expect(err.message).toContain(says);
        expect(err.message).not.toBe(`${param}: Invalid input`);
      });
    }
  });

  it('says (body) and has no param for a top-level issue', () => {
    const r = z.object({}).safeParse('text');
    const err = badRequestFromZod(r.error!);
    expect(err.message.startsWith('(body): ')).toBe(true);
    expect(err.param).toBeUndefined();
  });
});

describe('errorBody', () => {
  it('is the OpenAI error shape', () => {
    expect(errorBody('not_found_error', 'nope')).toEqual({
      error: { message: 'nope', type: 'not_found_error', param: null, code: null },
    });
    expect(errorBody('invalid_request_error', 'bad', 'n').error.param).toBe('n');
  });
});

describe('fastifyErrorHandler', () => {
  let app: FastifyInstance;
  const logged: string[] = [];

  beforeAll(async () => {
    app = Fastify({
      bodyLimit: 1024,
      logger: { level: 'error', stream: { write: (line: string) => void logged.push(line) } },
    });
    app.setErrorHandler(fastifyErrorHandler);
    app.post('/echo', async (req) => ({ got: req.body }));
    app.post('/overloaded', async () => {
      throw new HttpError(429, 'overloaded_error', 'model "coder" is at capacity', undefined, 1.2);
    });
    app.post('/bad-field', async () => {
      throw new HttpError(400, 'invalid_request_error', 'n: only n=1 is supported', 'n');
    });
    app.post('/boom', async () => {
      throw new Error('secret database password leaked in message');
    });
    await app.ready();
  });

  afterAll(() => app.close());

  const post = (url: string, payload: string, contentType = 'application/json') =>
    app.inject({ method: 'POST', url, payload, headers: { 'content-type': contentType } });

  it('answers malformed JSON with 400 invalid_request_error', async () => {
    const res = await post('/echo', '{"prompt": ');
    expect(res.statusCode).toBe(400);
    const body = res.json();
    expect(body.error.type).toBe('invalid_request_error');
    expect(body.error.message).toMatch(/^body is not valid JSON/);
    expect(body.error.param).toBeNull();
    expect(body.error.code).toBeNull();
  });

  it('answers an empty JSON body with 400 and says so', async () => {
    const res = await post('/echo', '');
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual(
      errorBody('invalid_request_error', 'request body is empty; expected a JSON object'),
    );
  });

  it('answers a wrong content type with 415 and a clear message', async () => {
    const res = await post('/echo', '<prompt/>', 'application/xml');
    expect(res.statusCode).toBe(415);
    expect(res.json()).toEqual(errorBody('invalid_request_error', 'content-type must be application/json'));
  });

  it("answers a body over the limit with 413 naming the route's limit", async () => {
    const res = await post('/echo', JSON.stringify({ prompt: 'x'.repeat(2000) }));
    expect(res.statusCode).toBe(413);
    expect(res.json()).toEqual(
      errorBody('invalid_request_error', 'request body too large: this route accepts at most 1024 bytes'),
    );
  });

  it('sends a thrown HttpError as is, with Retry-After rounded up to whole seconds', async () => {
    const res = await post('/overloaded', '{}');
    expect(res.statusCode).toBe(429);
    expect(res.headers['retry-after']).toBe('2');
    expect(res.json()).toEqual(errorBody('overloaded_error', 'model "coder" is at capacity'));
  });

  it('names the offending field in param and sends no Retry-After without one', async () => {
    const res = await post('/bad-field', '{}');
    expect(res.statusCode).toBe(400);
    expect(res.headers['retry-after']).toBeUndefined();
    expect(res.json()).toEqual(errorBody('invalid_request_error', 'n: only n=1 is supported', 'n'));
  });

  it('answers an unknown error with 500 without leaking its message', async () => {
    const res = await post('/boom', '{}');
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual(errorBody('server_error', 'internal error; see the server log'));
    expect(res.body).not.toContain('secret');
    // ...but it is in the server log
    expect(logged.some((l) => l.includes('unhandled error') && l.includes('secret database password'))).toBe(
      true,
    );
  });

  it('passes a valid JSON body through', async () => {
    const res = await post('/echo', '{"a":1}');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ got: { a: 1 } });
  });
});
