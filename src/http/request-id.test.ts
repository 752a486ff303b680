import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { requestIdGenerator } from './request-id.js';

const req = (headers: Record<string, string> = {}) => ({ headers }) as unknown as IncomingMessage;

describe('requestIdGenerator', () => {
  it('never repeats an id across server starts (a restart is a new generator)', () => {
    const seen = new Set<string>();
    for (let start = 0; start < 3; start++) {
      const next = requestIdGenerator();
      for (let i = 0; i < 100; i++) seen.add(next(req()));
    }
    expect(seen.size).toBe(300);
  });

  it('keeps a sane client x-request-id and replaces an oversized or unprintable one', () => {
    const next = requestIdGenerator();
    expect(next(req({ 'x-request-id': 'client-abc-1' }))).toBe('client-abc-1');
    expect(next(req({ 'x-request-id': 'x'.repeat(129) }))).not.toContain('xxxx');
    expect(next(req({ 'x-request-id': 'has space' }))).not.toBe('has space');
  });
});
