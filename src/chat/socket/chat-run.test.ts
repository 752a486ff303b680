import { describe, expect, it } from 'vitest';
import { ChatRun, type Follower } from './chat-run.js';
import { MemoryResumeStore } from './resume-store.js';
import type { ResumeItem } from './wire.js';

const silent = { debug() {}, info() {}, warn() {}, error() {} };

/** The in-process store, recording each append's offsets (one append = one round trip in Redis). */
function recordingStore(batchWindowMs?: number) {
  const memory = new MemoryResumeStore({ ttlMs: 60_000 });
  const appends: number[][] = [];
  const store = {
    ...(batchWindowMs !== undefined ? { batchWindowMs } : {}),
    append: (chatId: string, owner: string, items: readonly ResumeItem[]) => {
      appends.push(items.map((i) => i.offset));
      return memory.append(chatId, owner, items);
    },
    read: (chatId: string, from: number) => memory.read(chatId, from),
  };
  return { store, appends };
}

const text = (run: ChatRun, answer: string) =>
  run.pushJson((offset) => ({
    event: 'dify_agent_thought',
    agent_name: 'Shenma',
    agent_icon: null,
    dify_chunk: { event: 'message', answer, message_id: run.chatId },
    offset,
  }));

describe('ChatRun keeping items for rechat', () => {
  it('appends the items pushed while an append is in flight together, in order', async () => {
    const { store, appends } = recordingStore();
    const run = new ChatRun('c1', 'u1', store, silent);
    text(run, 'a');
    text(run, 'b');
    text(run, 'c');
    await run.flushed();
    text(run, 'd');
    run.pushDone();
    await run.flushed();
    // 4 goes alone: nothing was in flight when it came.
    expect(appends).toEqual([[1], [2, 3], [4], [5]]);
    expect((await store.read('c1', 0))?.items.map((i) => i.offset)).toEqual([1, 2, 3, 4, 5]);
  });

  it("waits the store's batch window to gather items, but stores the end at once", async () => {
    // A window far longer than the test's timeout: only the end cutting it short lets this pass.
    const { store, appends } = recordingStore(600_000);
    const run = new ChatRun('c2', 'u1', store, silent);
    text(run, 'a');
    await new Promise((r) => setImmediate(r));
    text(run, 'b');
    run.pushDone();
    await run.flushed();
    expect(appends).toEqual([[1, 2, 3]]);
  });

  it('a follower here gets every item at once, whatever the window', async () => {
    const { store } = recordingStore(600_000);
    const run = new ChatRun('c3', 'u1', store, silent);
    const got: string[] = [];
    const follower: Follower = { id: 's1', emit: (...args) => got.push(args[0]) > 0 };
    run.follow(follower, 0);
    text(run, 'a');
    text(run, 'b');
    expect(got).toEqual(['json', 'json']);
    run.pushError('stopped');
    await run.flushed();
    expect(got).toEqual(['json', 'json', 'error']);
  });
});
