import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestShenma, type TestShenma } from './support/shenma.js';

/**
 * Issue #7 item 5: the feedback routes stored unknown fields verbatim without a size cap. Through
 * the embedded server: only the known fields are stored, and oversized ones are refused naming
 * the field.
 */

let shenma: TestShenma;
beforeAll(async () => {
  shenma = await startTestShenma({});
});
afterAll(() => shenma?.close());

describe('feedback routes store only what they know', () => {
  it('keeps the known error counters and drops everything else', async () => {
    const res = await shenma.post('/api/feedbacks/error', {
      openapi_total: 3,
      openapi_error: 1,
      memo_ok: 2,
      status: {},
      dump: 'x'.repeat(10_000),
      nested: { a: { b: [1, 2, 3] } },
    });
    expect(res.status).toBe(200);
    const rows = await shenma.server.db.db.selectFrom('client_error_report').select('body').execute();
    expect(rows.map((r) => r.body)).toEqual([{ openapi_total: 3, openapi_error: 1, memo_ok: 2, status: {} }]);
  });

  it('refuses counters and completion points that are out of range, naming the field', async () => {
    const bad = await shenma.post('/api/feedbacks/error', { openapi_total: -1 });
    expect(bad.status).toBe(400);
    expect((await bad.json()).error.param).toBe('openapi_total');
    const point = await shenma.post('/api/feedbacks/completions', {
      data: [{ id: 'p-1', language: 'python', acception: 'accepted', expend_time: 2 ** 40 }],
    });
    expect(point.status).toBe(400);
    expect((await point.json()).error.param).toBe('data.0.expend_time');
  });

  it('stores a completion point without the unknown fields it carried', async () => {
    const res = await shenma.post('/api/feedbacks/completions', {
      count: 1,
      data: [
        {
          id: 'p-2',
          language: 'python',
          acception: 'accepted',
          correction: 'unchanged',
          junk: 'y'.repeat(5000),
        },
      ],
    });
    expect(res.status).toBe(200);
    const row = await shenma.server.db.db
      .selectFrom('completion_feedback')
      .selectAll()
      .where('id', '=', 'p-2')
      .executeTakeFirstOrThrow();
    expect(JSON.stringify(row)).not.toContain('yyyy');
  });
});
