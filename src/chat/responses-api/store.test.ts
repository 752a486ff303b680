import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDatabase } from '../../../test/support/database.js';
import type { Database } from '../../storage/database.js';
import { RETENTION_DAYS, ResponseStore } from './store.js';

/** Stored Responses in a real database: chains per user, items by id, deletion by age. */

let database: Database;
let close: () => Promise<void>;
let store: ResponseStore;

beforeAll(async () => {
  ({ database, close } = await openTestDatabase('responses_store'));
  store = new ResponseStore(database.db);
});
afterAll(async () => close?.());

const turn = (q: string, a: string) => [
  { role: 'user' as const, content: q },
  { role: 'assistant' as const, content: a },
];

describe('ResponseStore', () => {
  it('reads a previous_response_id chain back oldest first, for its user only', async () => {
    await store.save({
      id: 'resp_a',
      userId: 'u1',
      previousId: null,
      model: 'm',
      messages: turn('1', 'one'),
      items: [],
    });
    await store.save({
      id: 'resp_b',
      userId: 'u1',
      previousId: 'resp_a',
      model: 'm',
      messages: turn('2', 'two'),
      items: [],
    });
    await store.save({
      id: 'resp_c',
      userId: 'u1',
      previousId: 'resp_b',
      model: 'm',
      messages: turn('3', 'three'),
      items: [],
    });
    expect(await store.conversation('u1', 'resp_c')).toEqual([
      ...turn('1', 'one'),
      ...turn('2', 'two'),
      ...turn('3', 'three'),
    ]);
    // A branch from the middle sees only its own ancestors.
    expect(await store.conversation('u1', 'resp_b')).toEqual([...turn('1', 'one'), ...turn('2', 'two')]);
    expect(await store.conversation('u2', 'resp_c')).toBeUndefined();
    expect(await store.conversation('u1', 'resp_missing')).toBeUndefined();
  });

  it('finds output items by id among the user’s responses', async () => {
    const item = {
      type: 'message',
      id: 'msg_x',
      role: 'assistant',
      content: [{ type: 'output_text', text: 'x' }],
    };
    await store.save({
      id: 'resp_i',
      userId: 'u1',
      previousId: null,
      model: 'm',
      messages: [],
      items: [item],
    });
    expect(await store.items('u1', ['msg_x', 'msg_nope'])).toEqual(new Map([['msg_x', item]]));
    expect((await store.items('u2', ['msg_x'])).size).toBe(0);
  });

  it(`deletes responses older than ${RETENTION_DAYS} days`, async () => {
    await store.save({
      id: 'resp_old',
      userId: 'u3',
      previousId: null,
      model: 'm',
      messages: turn('o', 'ld'),
      items: [],
    });
    await sql`update stored_responses set created_at = now() - interval '31 days' where id = 'resp_old'`.execute(
      database.db,
    );
    expect(await store.prune()).toBe(1);
    expect(await store.conversation('u3', 'resp_old')).toBeUndefined();
    expect(await store.conversation('u1', 'resp_a')).toBeDefined();
  });
});
