import { describe, expect, it } from 'vitest';
import { MemoryResumeStore } from './resume-store.js';
import type { ResumeItem } from './wire.js';

const json = (offset: number): ResumeItem => ({
  offset,
  event: 'json',
  data: { event: 'agent_end', offset },
});

async function fill(store: MemoryResumeStore, chatId: string, n: number, owner = 'u1') {
  for (let i = 1; i <= n; i++) await store.append(chatId, owner, [json(i)]);
}

describe('MemoryResumeStore', () => {
  it('returns the items after an offset, and the owner', async () => {
    const store = new MemoryResumeStore({ ttlMs: 1000 });
    await fill(store, 'c1', 3);
    await store.append('c1', 'u1', [{ offset: 4, event: 'message', data: '[DONE]' }]);
    const read = await store.read('c1', 2);
    expect(read).toEqual({ owner: 'u1', items: [json(3), { offset: 4, event: 'message', data: '[DONE]' }] });
    expect((await store.read('c1', 4))?.items).toEqual([]);
    expect(await store.read('nope', 0)).toBeUndefined();
  });

  it('refuses to mix owners in one chat', async () => {
    const store = new MemoryResumeStore({ ttlMs: 1000 });
    await fill(store, 'c1', 1, 'u1');
    await expect(store.append('c1', 'u2', [json(2)])).rejects.toThrow('belongs to another user');
  });

  it('forgets a chat ttlMs after its last item', async () => {
    let now = 0;
    const store = new MemoryResumeStore({ ttlMs: 100, now: () => now });
    await fill(store, 'c1', 1);
    now = 90;
    await store.append('c1', 'u1', [json(2)]);
    now = 150;
    expect((await store.read('c1', 0))?.items).toHaveLength(2);
    now = 190;
    expect(await store.read('c1', 0)).toBeUndefined();
    expect(store.size).toEqual({ chats: 0, items: 0 });
  });

  it('drops expired chats while appending to others', async () => {
    let now = 0;
    const store = new MemoryResumeStore({ ttlMs: 100, now: () => now });
    await fill(store, 'old', 2);
    now = 200;
    await fill(store, 'new', 1);
    expect(store.size).toEqual({ chats: 1, items: 1 });
  });

  it('keeps at most maxChats, dropping the one with the oldest last item', async () => {
    const store = new MemoryResumeStore({ ttlMs: 1000, maxChats: 2 });
    await fill(store, 'a', 1);
    await fill(store, 'b', 1);
    await store.append('a', 'u1', [json(2)]);
    await fill(store, 'c', 1);
    expect(await store.read('b', 0)).toBeUndefined();
    expect((await store.read('a', 0))?.items).toHaveLength(2);
    expect(store.size).toEqual({ chats: 2, items: 3 });
  });

  it("keeps at most maxItemsPerChat, dropping a chat's oldest items, so a reader can see the gap", async () => {
    const store = new MemoryResumeStore({ ttlMs: 1000, maxItemsPerChat: 3 });
    await fill(store, 'a', 5);
    expect((await store.read('a', 0))?.items.map((i) => i.offset)).toEqual([3, 4, 5]);
    expect((await store.read('a', 3))?.items.map((i) => i.offset)).toEqual([4, 5]);
    expect(store.size.items).toBe(3);
  });

  it('keeps at most maxItems overall, dropping whole chats, oldest first', async () => {
    const store = new MemoryResumeStore({ ttlMs: 1000, maxItems: 5 });
    await fill(store, 'a', 3);
    await fill(store, 'b', 3);
    expect(await store.read('a', 0)).toBeUndefined();
    expect(store.size).toEqual({ chats: 1, items: 3 });
  });
});
