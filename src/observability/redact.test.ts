import { describe, expect, it } from 'vitest';
import { redactUrl, redactUrlsIn } from './redact.js';

describe('redactUrl', () => {
  it('masks passwords, token-like user names and secret query parameters', () => {
    expect(redactUrl('postgres://shenma:hunter2@db:5432/shenma')).toBe(
      'postgres://shenma:***@db:5432/shenma',
    );
    expect(redactUrl('http://sk-live-123@llm:8000/v1')).toBe('http://***@llm:8000/v1');
    expect(redactUrl('http://llm:8000/v1?api_key=abc&model=x')).toBe(
      'http://llm:8000/v1?api_key=***&model=x',
    );
    expect(redactUrl('http://llm:8000/v1')).toBe('http://llm:8000/v1');
    expect(redactUrl('postgres://postgres@db/shenma')).toBe('postgres://postgres@db/shenma');
    expect(redactUrl('not a url')).toBe('(unparseable URL)');
  });
});

describe('redactUrlsIn', () => {
  it('masks user info of URLs inside text', () => {
    expect(redactUrlsIn('http://bob:s3cret@llm:8000/v1: connect ECONNREFUSED; http://tok@x/y')).toBe(
      'http://bob:***@llm:8000/v1: connect ECONNREFUSED; http://***@x/y',
    );
    expect(redactUrlsIn('mail bob@example.com')).toBe('mail bob@example.com');
  });
});
