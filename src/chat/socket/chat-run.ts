import type { SocketChatLog } from './log.js';
import type { ResumeStore } from './resume-store.js';
import {
  DONE,
  emitItem,
  isTerminal,
  type ResumeItem,
  type ServerToClientEvents,
  type SocketJsonItem,
} from './wire.js';

/**
 * One answer being generated for the extension's chat: its items in order, the sockets following
 * it live, and the abort switch of its upstream request.
 *
 * Followers: the socket that asked, plus any socket of the same user that sent `rechat` for it
 * while it runs (after a network blip the client reconnects on a new socket, often before the
 * server noticed the old one is dead), and sockets on other replicas that did so (through the
 * shared store, see redis-resume.ts). The upstream request is aborted when the LAST follower
 * disconnects: nobody is left to read the answer (the stop button is a disconnect). A later
 * `rechat` then replays what was produced, ending with the `error` item "interrupted".
 */

export interface Follower {
  readonly id: string;
  emit<E extends keyof ServerToClientEvents>(event: E, ...args: Parameters<ServerToClientEvents[E]>): boolean;
}

export const INTERRUPTED =
  'interrupted: the connection closed before the answer was complete; please ask again';

/** What a socket follows: an answer running here ({@link ChatRun}) or on another replica. */
export interface Followed {
  /** A terminal item was emitted: the socket may ask again. */
  readonly finished: boolean;
  /** The socket disconnected. */
  unfollow(follower: Follower): void;
}

export class ChatRun implements Followed {
  /** Every item emitted so far; offsets are positions in it, starting at 1. */
  private readonly items: ResumeItem[] = [];
  private readonly followers = new Map<string, Follower>();
  /** Followers on other replicas (sockets there that sent `rechat`), by their id. */
  private readonly remoteFollowers = new Set<string>();
  private readonly controller = new AbortController();
  /** Items not yet handed to the store; they go in one append once the one in flight is done. */
  private unstored: ResumeItem[] = [];
  /** The next append must tell remote followers that there is something new. */
  private notifyPending = false;
  private storing: Promise<void> | undefined;
  /** Cuts the current batch window short. */
  private endWindow: (() => void) | undefined;

  constructor(
    readonly chatId: string,
    /** The user id the chat belongs to; only this user may `rechat` it. */
    readonly owner: string,
    private readonly store: ResumeStore,
    private readonly log: SocketChatLog,
  ) {}

  /** Aborts when the last follower left, or on shutdown. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** A terminal item (`[DONE]` or `error`) was emitted. */
  get finished(): boolean {
    const last = this.items.at(-1);
    return last !== undefined && isTerminal(last);
  }

  pushJson(make: (offset: number) => SocketJsonItem): void {
    const offset = this.items.length + 1;
    this.push({ offset, event: 'json', data: make(offset) });
  }

  pushDone(): void {
    this.push({ offset: this.items.length + 1, event: 'message', data: DONE });
  }

  pushError(message: string): void {
    this.push({ offset: this.items.length + 1, event: 'error', data: message });
  }

  private push(item: ResumeItem): void {
    if (this.finished) return;
    this.items.push(item);
    for (const follower of this.followers.values()) emitItem(follower, item);
    this.unstored.push(item);
    if (this.remoteFollowers.size > 0) this.notifyPending = true;
    if (isTerminal(item)) {
      this.followers.clear();
      this.remoteFollowers.clear();
      // The end is stored at once: a client that reconnects elsewhere must find it.
      this.endWindow?.();
    }
    this.storing ??= this.drainToStore();
  }

  /**
   * One append in flight per chat: the items pushed meanwhile (and within the store's batch
   * window) go together in the next one, so a shared store costs one round trip per batch, not
   * per chunk, and sees the items in order.
   */
  private async drainToStore(): Promise<void> {
    while (this.unstored.length > 0 || this.notifyPending) {
      const window = this.store.batchWindowMs;
      if (window && !this.finished) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, window);
          this.endWindow = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.endWindow = undefined;
      }
      const items = this.unstored;
      const notify = this.notifyPending;
      this.unstored = [];
      this.notifyPending = false;
      try {
        await this.store.append(this.chatId, this.owner, items, notify ? { notify } : undefined);
      } catch (err) {
        // Resuming is best effort: a store failure must not break the live answer.
        this.log.warn({ err, chatId: this.chatId }, 'socket chat: could not keep items for rechat');
      }
    }
    this.storing = undefined;
  }

  /**
   * Sends the items after `fromOffset`, then follows live until the chat ends. Synchronous, so
   * no item is emitted between the replay and the subscription: nothing is lost or sent twice.
   */
  follow(follower: Follower, fromOffset: number): void {
    for (const item of this.items) if (item.offset > fromOffset) emitItem(follower, item);
    if (!this.finished) this.followers.set(follower.id, follower);
  }

  /** A follower disconnected; the last one leaving aborts the upstream request. */
  unfollow(follower: Follower): void {
    if (!this.followers.delete(follower.id)) return;
    this.abortIfUnfollowed();
  }

  /**
   * A socket on another replica follows this chat through the shared store. It keeps the answer
   * running like a local follower, and is told (after the items stored so far) to read on.
   */
  followRemotely(followerId: string): void {
    if (!this.finished) this.remoteFollowers.add(followerId);
    this.notifyPending = true;
    this.storing ??= this.drainToStore();
  }

  unfollowRemotely(followerId: string): void {
    if (!this.remoteFollowers.delete(followerId)) return;
    this.abortIfUnfollowed();
  }

  private abortIfUnfollowed(): void {
    if (this.followers.size === 0 && this.remoteFollowers.size === 0 && !this.finished) {
      this.abort('the client disconnected');
    }
  }

  abort(reason: string): void {
    if (this.controller.signal.aborted) return;
    this.log.debug({ chatId: this.chatId, reason }, 'socket chat: aborting the answer');
    this.controller.abort(new Error(reason));
  }

  /** Resolves once every item emitted so far is in the resume store. */
  async flushed(): Promise<void> {
    while (this.storing) await this.storing;
  }
}
