import { describe, expect, it } from 'vitest';
import { ModelUnavailableError, OverloadedError, UpstreamError, UpstreamTimeout } from '../models/index.js';
import { upstreamHttpError } from './upstream-error.js';

const completion = { model: 'coder', started: false, clientOwnsRequest: false };
const chat = { model: 'chat', started: false, clientOwnsRequest: true };

describe('upstreamHttpError: one mapping for completion and chat', () => {
  it('turns an upstream 503 into 503 model_unavailable with its Retry-After, for both features', () => {
    for (const ctx of [completion, chat]) {
      const err = upstreamHttpError(new UpstreamError('status', 'busy', 503, 9), ctx)!;
      expect([err.status, err.type, err.retryAfter]).toEqual([503, 'model_unavailable', 9]);
      expect(upstreamHttpError(new UpstreamError('status', 'busy', 503), ctx)!.retryAfter).toBe(5);
    }
  });

  it('keeps 429 for our queue and the upstream 429, 504 for deadlines, 502 for the rest', () => {
    expect(upstreamHttpError(new OverloadedError('coder', 'queue_full', 2), completion)).toMatchObject({
      status: 429,
      type: 'overloaded_error',
      retryAfter: 2,
    });
    expect(upstreamHttpError(new UpstreamError('status', 'slow down', 429, 7), chat)).toMatchObject({
      status: 429,
      retryAfter: 7,
    });
    expect(upstreamHttpError(new UpstreamTimeout('first_token', 'no first token'), chat)?.status).toBe(504);
    expect(upstreamHttpError(new ModelUnavailableError('coder', 'down'), completion)?.status).toBe(503);
    expect(upstreamHttpError(new UpstreamError('unreachable', 'ECONNREFUSED'), completion)?.status).toBe(503);
    expect(upstreamHttpError(new UpstreamError('status', 'boom', 500), completion)?.status).toBe(502);
  });

  it("passes a 4xx on only when the request is the client's own, and never 401-like ones", () => {
    const tooLong = new UpstreamError('status', 'context too long', 400);
    expect(upstreamHttpError(tooLong, chat)).toMatchObject({ status: 400, type: 'invalid_request_error' });
    expect(upstreamHttpError(tooLong, completion)?.status).toBe(502);
    expect(upstreamHttpError(new UpstreamError('status', 'bad key', 401), chat)?.status).toBe(502);
  });

  it('says the answer broke off once it started, and leaves other errors alone', () => {
    const cut = upstreamHttpError(new UpstreamError('reset', 'socket hang up'), { ...chat, started: true })!;
    expect([cut.status, cut.message]).toEqual([502, 'model "chat" broke off the answer: socket hang up']);
    expect(upstreamHttpError(new Error('bug'), chat)).toBeUndefined();
  });

  it('marks what another replica may fix as retryable', () => {
    expect(new UpstreamError('status', 'x', 503).retryable).toBe(true);
    expect(new UpstreamError('status', 'x', 400).retryable).toBe(false);
    expect(new UpstreamError('protocol', 'x').retryable).toBe(false);
    expect(new UpstreamTimeout('first_token', 'x').retryable).toBe(true);
    expect(new UpstreamTimeout('idle', 'x').retryable).toBe(false);
  });
});
