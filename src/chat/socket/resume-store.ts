import type { ResumeItem } from './wire.js';

/**
 * Where a socket chat's emitted items are kept so that `rechat {chat_id, offset}` can send what a
 * client missed while it was reconnecting (docs/protocol.md §5.4). The original kept them in Redis
 * for an hour and let anyone read any chat (chat-server §2.12 #1); here every chat has an owner.
 */
export interface ResumeStore {
  /**
   * Adds the chat's next items (offsets arrive in order, 1, 2, ...) and renews its TTL. Callers
   * batch: items produced while the previous append was in flight come in the next call.
   * `notify` also tells replicas following the chat that it has new items (shared stores only).
   */
  append(
    chatId: string,
    owner: string,
    items: readonly ResumeItem[],
    opts?: { notify?: boolean },
  ): Promise<void>;
  /**
   * The kept items with an offset above `fromOffset`, oldest first, and the chat's owner;
   * undefined when the chat is unknown or expired. When a bound dropped older items, the first
   * one returned has an offset above `fromOffset + 1`: the caller must not replay with a gap.
   */
  read(chatId: string, fromOffset: number): Promise<KeptChat | undefined>;
  /**
   * How long a chat's items wait to be appended together (a store behind a network round trip
   * sets it; the terminal item never waits). Followers here get every item at once regardless.
   */
  readonly batchWindowMs?: number;
}

export interface KeptChat {
  owner: string;
  items: ResumeItem[];
  /** The replica that generates the chat, in a store several replicas share. */
  runner?: string;
}

export interface MemoryResumeStoreOptions {
  /** How long a chat is kept after its last item (config `chat.resumeTtlMs`). */
  ttlMs: number;
  /** Chats kept at most; the one with the oldest last item goes first. Default 1000. */
  maxChats?: number;
  /** Items kept per chat; its oldest items go first. Default 5000 (an answer of ~5000 chunks). */
  maxItemsPerChat?: number;
  /** Items kept over all chats; whole chats go, oldest first. Default 200 000 (~50 MB). */
  maxItems?: number;
  now?: () => number;
}

interface Kept {
  owner: string;
  items: ResumeItem[];
  expiresAt: number;
}

/**
 * In-process resume buffers for a single server. Bounded three ways so that many or long chats
 * cannot grow memory without limit: by chats (1000), items per chat (5000) and items overall
 * (200 000; an item is ~100-300 bytes, so ~50 MB at most), always dropping the oldest first.
 * Chats expire `ttlMs` after their last item.
 */
export class MemoryResumeStore implements ResumeStore {
  /** Insertion order is last-append order: a chat is re-inserted on every append. */
  private readonly chats = new Map<string, Kept>();
  private itemCount = 0;
  private readonly maxChats: number;
  private readonly maxItemsPerChat: number;
  private readonly maxItems: number;
  private readonly now: () => number;

  constructor(private readonly opts: MemoryResumeStoreOptions) {
    this.maxChats = opts.maxChats ?? 1000;
    this.maxItemsPerChat = opts.maxItemsPerChat ?? 5000;
    this.maxItems = opts.maxItems ?? 200_000;
    this.now = opts.now ?? Date.now;
  }

  /** Chats and items currently kept (for tests and metrics). */
  get size(): { chats: number; items: number } {
    return { chats: this.chats.size, items: this.itemCount };
  }

  async append(chatId: string, owner: string, items: readonly ResumeItem[]): Promise<void> {
    if (items.length === 0) return;
    const now = this.now();
    this.dropExpired(now);
    const kept = this.chats.get(chatId);
    if (kept && kept.owner !== owner) throw new Error(`chat ${chatId} belongs to another user`);
    const chat = kept ?? { owner, items: [], expiresAt: 0 };
    this.chats.delete(chatId);
    this.chats.set(chatId, chat);
    chat.items.push(...items);
    chat.expiresAt = now + this.opts.ttlMs;
    this.itemCount += items.length;
    const over = chat.items.length - this.maxItemsPerChat;
    if (over > 0) {
      chat.items.splice(0, over);
      this.itemCount -= over;
    }
    // The chat just appended to is the newest, so it is dropped last (only if it alone is too big).
    while (this.chats.size > this.maxChats || this.itemCount > this.maxItems) {
      const oldest = this.chats.keys().next();
      if (oldest.done) break;
      this.remove(oldest.value);
    }
  }

  async read(chatId: string, fromOffset: number): Promise<KeptChat | undefined> {
    const chat = this.chats.get(chatId);
    if (!chat) return undefined;
    if (chat.expiresAt <= this.now()) {
      this.remove(chatId);
      return undefined;
    }
    return { owner: chat.owner, items: chat.items.filter((i) => i.offset > fromOffset) };
  }

  private remove(chatId: string): void {
    const chat = this.chats.get(chatId);
    if (!chat) return;
    this.itemCount -= chat.items.length;
    this.chats.delete(chatId);
  }

  /** From the front: chats are in last-append order, so the first unexpired one ends the scan. */
  private dropExpired(now: number): void {
    for (const [chatId, chat] of this.chats) {
      if (chat.expiresAt > now) break;
      this.remove(chatId);
    }
  }
}
