import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDatabase } from '../../test/support/database.js';
import { usageRecordOf } from '../chat/usage-record.js';
import { LedgerConflictError, UsageLedger, type UsageRecord } from './usage-ledger.js';

const row = (over: Partial<UsageRecord>): UsageRecord => ({
  requestId: 'req-1',
  userId: 'u-1',
  userName: 'alice',
  model: 'chat-model',
  route: 'openai',
  promptTokens: 100,
  completionTokens: 20,
  estimated: false,
  firstTokenMs: 150,
  totalMs: 900,
  status: 'ok',
  ...over,
});

describe('UsageLedger', () => {
  let test: Awaited<ReturnType<typeof openTestDatabase>>;
  let ledger: UsageLedger;
  const registry = new Registry();
  const logged: { obj: unknown; msg: string }[] = [];
  const log = {
    error: (obj: unknown, msg: string) => logged.push({ obj, msg }),
  } as unknown as import('fastify').FastifyBaseLogger;
  beforeAll(async () => {
    test = await openTestDatabase('ledger');
    ledger = new UsageLedger(test.database.db, { registry, log });
  });
  afterAll(() => test.close());

  it('writes one row per request even when requests repeat an id, each under its own entry id', async () => {
    const first = await ledger.record(row({ requestId: 'once' }));
    const second = await ledger.record(row({ requestId: 'once', promptTokens: 999 }));
    const racing = await Promise.all([1, 2, 3].map(() => ledger.record(row({ requestId: 'racing' }))));
    expect(new Set([first, second, ...racing]).size).toBe(5);
    const rows = await test.database.db
      .selectFrom('usage_ledger')
      .where('request_id', 'in', ['once', 'racing'])
      .selectAll()
      .orderBy('id')
      .execute();
    expect(rows).toHaveLength(5);
    expect(rows.map((r) => r.entry_id)).toEqual([first, second, ...racing]);
    expect(rows.map((r) => r.prompt_tokens).slice(0, 2)).toEqual([100, 999]);
    expect(rows[0]).toMatchObject({
      request_id: 'once',
      user_id: 'u-1',
      user_name: 'alice',
      model: 'chat-model',
      route: 'openai',
      prompt_tokens: 100,
      completion_tokens: 20,
      estimated: false,
      first_token_ms: 150,
      total_ms: 900,
      status: 'ok',
      error: null,
    });
    expect(rows[0]!.created_at).toBeInstanceOf(Date);
  });

  it('commits rows that arrive together in one go, and one bad row fails only its own request', async () => {
    const many = Array.from({ length: 40 }, (_, i) => row({ requestId: `burst-${i}` }));
    const bad = row({ requestId: 'burst-bad', route: 'nonsense' as UsageRecord['route'] });
    const results = await Promise.allSettled([...many, bad].map((r) => ledger.record(r)));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(40);
    expect(results[40]!.status).toBe('rejected');
    const stored = await test.database.db
      .selectFrom('usage_ledger')
      .where('request_id', 'like', 'burst-%')
      .select('request_id')
      .execute();
    expect(stored).toHaveLength(40);
  });

  it('writes the rows of answers finishing in one event-loop turn in one statement, even when idle', async () => {
    let inserts = 0;
    const counting = test.database.db.withPlugin({
      transformQuery: (args) => {
        if (args.node.kind === 'InsertQueryNode') inserts++;
        return args.node;
      },
      transformResult: async (args) => args.result,
    });
    const idle = new UsageLedger(counting);
    const ids = await Promise.all(
      Array.from({ length: 5 }, (_, i) => idle.record(row({ requestId: `turn-${i}` }))),
    );
    expect(new Set(ids).size).toBe(5);
    expect(inserts).toBe(1);
    const stored = await test.database.db
      .selectFrom('usage_ledger')
      .where('request_id', 'like', 'turn-%')
      .select('request_id')
      .execute();
    expect(stored).toHaveLength(5);
  });

  it("sums today's served requests and tokens per user, from 00:00 UTC", async () => {
    const now = new Date('2030-05-17T10:00:00Z');
    const at = (iso: string) => new Date(iso);
    await ledger.record(row({ requestId: 'd1', userId: 'u-day', createdAt: at('2030-05-17T00:00:00Z') }));
    await ledger.record(
      row({
        requestId: 'd2',
        userId: 'u-day',
        promptTokens: 5,
        completionTokens: 5,
        createdAt: at('2030-05-17T09:59:00Z'),
      }),
    );
    // Yesterday, another user, and requests that never reached a model do not count.
    await ledger.record(row({ requestId: 'd3', userId: 'u-day', createdAt: at('2030-05-16T23:59:59Z') }));
    await ledger.record(row({ requestId: 'd4', userId: 'u-other', createdAt: at('2030-05-17T05:00:00Z') }));
    await ledger.record(
      row({
        requestId: 'd5',
        userId: 'u-day',
        status: 'quota_exceeded',
        promptTokens: 0,
        completionTokens: 0,
        createdAt: at('2030-05-17T06:00:00Z'),
      }),
    );
    // A cancelled answer still used tokens.
    await ledger.record(
      row({
        requestId: 'd6',
        userId: 'u-day',
        status: 'client_cancelled',
        estimated: true,
        completionTokens: 3,
        createdAt: at('2030-05-17T07:00:00Z'),
      }),
    );
    expect(await ledger.usageToday('u-day', now)).toEqual({ requests: 3, tokens: 120 + 10 + 103 });
    expect(await ledger.usageToday('u-nobody', now)).toEqual({ requests: 0, tokens: 0 });
  });

  it('maps a chat outcome to its row, keeping the error and a missing first token', async () => {
    const record = usageRecordOf(
      {
        requestId: 'chat-1',
        user: { id: 'u-9', name: 'bob' },
        route: 'socket',
        model: 'configured',
        messages: [],
      },
      {
        status: 'upstream_error',
        model: 'fallback',
        answer: '',
        usage: { promptTokens: 12, completionTokens: 0, estimated: true },
        totalMs: 42,
        error: 'upstream 500',
      },
    );
    await ledger.record(record);
    const stored = await test.database.db
      .selectFrom('usage_ledger')
      .where('request_id', '=', 'chat-1')
      .selectAll()
      .executeTakeFirstOrThrow();
    expect(stored).toMatchObject({
      user_id: 'u-9',
      user_name: 'bob',
      model: 'fallback',
      route: 'socket',
      prompt_tokens: 12,
      estimated: true,
      first_token_ms: null,
      total_ms: 42,
      status: 'upstream_error',
      error: 'upstream 500',
    });
  });

  it('refuses an entry id that is already stored, and logs and counts it instead of dropping it silently', async () => {
    const entryId = await ledger.record(row({ requestId: 'dup-entry' }));
    await expect(ledger.record(row({ requestId: 'dup-entry-2', entryId }))).rejects.toBeInstanceOf(
      LedgerConflictError,
    );
    const counted = await registry.getSingleMetric('shenma_usage_ledger_conflicts_total')?.get();
    expect(counted?.values[0]?.value).toBe(1);
    expect(logged).toEqual([
      expect.objectContaining({
        msg: expect.stringContaining('usage ledger conflict'),
        obj: expect.objectContaining({ entryId }),
      }),
    ]);
  });

  it('refuses a route the schema does not know', async () => {
    await expect(
      ledger.record(row({ requestId: 'bad-route', route: 'fax' as UsageRecord['route'] })),
    ).rejects.toThrow();
  });
});
