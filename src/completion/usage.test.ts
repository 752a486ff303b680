import { describe, expect, it } from 'vitest';
import type { UsageRecord } from '../storage/usage-ledger.js';
import { CompletionMeter } from './usage.js';

const row = (requestId: string): UsageRecord => ({
  requestId,
  userId: 'u',
  userName: 'alice',
  model: 'coder',
  route: 'completion',
  promptTokens: 10,
  completionTokens: 3,
  estimated: true,
  totalMs: 5,
  status: 'ok',
});

function recordingLedger(fail?: string) {
  const written: string[] = [];
  return {
    written,
    record: async (r: UsageRecord) => {
      if (r.requestId === fail) throw new Error(`cannot write ${fail}`);
      written.push(r.requestId);
    },
  };
}

describe('CompletionMeter', () => {
  it('holds rows until the batch window ends, then writes them all', async () => {
    const ledger = recordingLedger();
    const meter = new CompletionMeter(ledger, () => {}, 60_000);
    meter.add(row('a'));
    meter.add(row('b'));
    await Promise.resolve();
    expect(ledger.written).toEqual([]);
    await meter.flush();
    expect(ledger.written).toEqual(['a', 'b']);
  });

  it('writes on its own once the window passes', async () => {
    const ledger = recordingLedger();
    const meter = new CompletionMeter(ledger, () => {}, 5);
    meter.add(row('later'));
    for (let i = 0; i < 200 && ledger.written.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(ledger.written).toEqual(['later']);
  });

  it('reports a row that fails without losing the others', async () => {
    const ledger = recordingLedger('bad');
    const errors: unknown[] = [];
    const meter = new CompletionMeter(ledger, (err) => errors.push(err), 60_000);
    for (const id of ['x', 'bad', 'y']) meter.add(row(id));
    await meter.flush();
    expect(ledger.written).toEqual(['x', 'y']);
    expect(String(errors[0])).toContain('cannot write bad');
  });
});
