import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDatabase } from '../../test/support/database.js';
import type { Database } from '../storage/database.js';
import { TokenUseRecorder } from './token-use.js';
import { TokenStore, UserStore } from './users.js';

let database: Database;
let close: () => Promise<void>;
let tokens: TokenStore;

beforeAll(async () => {
  ({ database, close } = await openTestDatabase('tokenuse'));
  await new UserStore(database.db).add('alice', undefined);
  tokens = new TokenStore(database.db);
});
afterAll(async () => close?.());

const lastUsed = async (id: string) => (await tokens.list()).find((t) => t.id === id)!.lastUsedAt;

describe('TokenUseRecorder', () => {
  it('writes nothing on the request path, and the latest use per token on flush', async () => {
    const a = (await tokens.create('alice', { name: 'a' })).token.id;
    const b = (await tokens.create('alice', { name: 'b' })).token.id;
    const recorder = new TokenUseRecorder(database.db, { flushMs: 3_600_000 });
    const t1 = new Date('2030-01-01T10:00:00Z');
    const t2 = new Date('2030-01-01T10:05:00Z');
    recorder.record(a, t2);
    recorder.record(a, t1);
    recorder.record(b, t1);
    expect(await lastUsed(a)).toBeNull();
    await recorder.flush();
    expect((await lastUsed(a))?.toISOString()).toBe(t2.toISOString());
    expect((await lastUsed(b))?.toISOString()).toBe(t1.toISOString());
    // An older use arriving later (another server's batch) does not move the time back.
    recorder.record(a, t1);
    await recorder.close();
    expect((await lastUsed(a))?.toISOString()).toBe(t2.toISOString());
  });

  it('reports a failed write instead of throwing into the request path', async () => {
    const errors: unknown[] = [];
    const recorder = new TokenUseRecorder(database.db, { onError: (e) => errors.push(e) });
    recorder.record("tok_'; drop table api_tokens; --", new Date('not a date'));
    await recorder.close();
    expect(errors).toHaveLength(1);
    expect((await tokens.list()).length).toBeGreaterThan(0);
  });
});
