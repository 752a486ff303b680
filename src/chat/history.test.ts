import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDatabase } from '../../test/support/database.js';
import { ConversationStore } from './history.js';
import type { ChatMessage } from './types.js';

const user = (content: string): ChatMessage => ({ role: 'user', content });
const assistant = (content: string): ChatMessage => ({ role: 'assistant', content });

describe('ConversationStore', () => {
  let test: Awaited<ReturnType<typeof openTestDatabase>>;
  let store: ConversationStore;
  beforeAll(async () => {
    test = await openTestDatabase('history');
    store = new ConversationStore(test.database.db);
  });
  afterAll(() => test.close());

  it('returns what was appended, oldest first', async () => {
    await store.append('u-a', 'conv-1', [user('hello'), assistant('hi there')]);
    await store.append('u-a', 'conv-1', [user('and now?'), assistant('now this')]);
    expect(await store.load('u-a', 'conv-1', 1000, 3)).toEqual([
      user('hello'),
      assistant('hi there'),
      user('and now?'),
      assistant('now this'),
    ]);
  });

  it("never shows one user another user's conversation with the same client id", async () => {
    await store.append('u-a', 'shared-id', [user('secret of A'), assistant('noted')]);
    expect(await store.load('u-b', 'shared-id', 1000, 3)).toEqual([]);
    await store.append('u-b', 'shared-id', [user('B speaking'), assistant('hello B')]);
    expect(await store.load('u-b', 'shared-id', 1000, 3)).toEqual([user('B speaking'), assistant('hello B')]);
    expect(await store.load('u-a', 'shared-id', 1000, 3)).toEqual([user('secret of A'), assistant('noted')]);
    const rows = await test.database.db
      .selectFrom('conversations')
      .where('client_conversation_id', '=', 'shared-id')
      .select(['user_id', 'title'])
      .orderBy('user_id')
      .execute();
    expect(rows).toEqual([
      { user_id: 'u-a', title: 'secret of A' },
      { user_id: 'u-b', title: 'B speaking' },
    ]);
  });

  it('keeps the newest whole turns that fit the budget, never starting with an answer', async () => {
    // 30 characters = 10 tokens at 3 characters per token; a turn here is 20 tokens.
    const q = (n: number) => user(`question ${n}`.padEnd(30, '.'));
    const a = (n: number) => assistant(`answer ${n}`.padEnd(30, '.'));
    for (let n = 1; n <= 5; n++) await store.append('u-a', 'long', [q(n), a(n)]);

    expect(await store.load('u-a', 'long', 60, 3)).toEqual([q(3), a(3), q(4), a(4), q(5), a(5)]);
    // 59 tokens: the third-newest turn no longer fits, and half of it (its answer) is not kept alone.
    expect(await store.load('u-a', 'long', 59, 3)).toEqual([q(4), a(4), q(5), a(5)]);
    expect(await store.load('u-a', 'long', 19, 3)).toEqual([]);
    expect(await store.load('u-a', 'long', 0, 3)).toEqual([]);
    // A different characters-per-token estimate changes what fits: 30 chars = 15 tokens at 2.
    expect(await store.load('u-a', 'long', 60, 2)).toEqual([q(4), a(4), q(5), a(5)]);
  });

  it('keeps a turn with several answers together', async () => {
    await store.append('u-a', 'multi', [
      user('q1'),
      assistant('a1'),
      user('q2'),
      assistant('a2a'),
      assistant('a2b'),
    ]);
    expect(await store.load('u-a', 'multi', 3, 1)).toEqual([]);
    expect(await store.load('u-a', 'multi', 8, 1)).toEqual([user('q2'), assistant('a2a'), assistant('a2b')]);
  });

  it('returns nothing for an unknown conversation', async () => {
    expect(await store.load('u-a', 'never-used', 1000, 3)).toEqual([]);
  });

  it('puts concurrent first turns into one conversation', async () => {
    await Promise.all([
      store.append('u-c', 'race', [user('one')]),
      store.append('u-c', 'race', [user('two')]),
      store.append('u-c', 'race', [user('three')]),
    ]);
    const conversations = await test.database.db
      .selectFrom('conversations')
      .where('user_id', '=', 'u-c')
      .select('id')
      .execute();
    expect(conversations).toHaveLength(1);
    const loaded = await store.load('u-c', 'race', 1000, 3);
    expect(loaded.map((m) => m.content).sort()).toEqual(['one', 'three', 'two']);
  });

  it('stores multi-part content as its text and drops characters PostgreSQL cannot hold', async () => {
    await store.append('u-a', 'parts', [
      {
        role: 'user',
        content: [{ type: 'text', text: 'look at' }, { type: 'image_url' }, { type: 'text', text: 'this' }],
      },
      assistant('nul\u0000byte'),
    ]);
    expect(await store.load('u-a', 'parts', 1000, 3)).toEqual([user('look at\nthis'), assistant('nulbyte')]);
  });

  it('records an estimated token count per message', async () => {
    await store.append('u-d', 'tokens', [user('x'.repeat(10))], 4);
    const row = await test.database.db
      .selectFrom('chat_messages')
      .select('tokens')
      .orderBy('id', 'desc')
      .executeTakeFirstOrThrow();
    expect(row.tokens).toBe(3);
  });
});
