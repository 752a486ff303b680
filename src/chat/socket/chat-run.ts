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
 * server noticed the old one is dead). The upstream request is aborted when the LAST follower
 * disconnects: nobody is left to read the answer (the stop button is a disconnect). A later
 * `rechat` then replays what was produced, ending with the `error` item "interrupted".
 */

export interface Follower {
  readonly id: string;
  emit<E extends keyof ServerToClientEvents>(event: E, ...args: Parameters<ServerToClientEvents[E]>): boolean;
}

export const INTERRUPTED =
  'interrupted: the connection closed before the answer was complete; please ask again';

export class ChatRun {
  /** Every item emitted so far; offsets are positions in it, starting at 1. */
  private readonly items: ResumeItem[] = [];
  private readonly followers = new Map<string, Follower>();
  private readonly controller = new AbortController();
  /** Appends to the store, chained so the store sees the items in order. */
  private stored: Promise<void> = Promise.resolve();

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
    if (isTerminal(item)) this.followers.clear();
    const { chatId, owner } = this;
    this.stored = this.stored
      .then(() => this.store.append(chatId, owner, item))
      .catch((err: unknown) => {
        // Resuming is best effort: a store failure must not break the live answer.
        this.log.warn({ err, chatId }, 'socket chat: could not keep an item for rechat');
      });
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
    if (this.followers.size === 0 && !this.finished) this.abort('the client disconnected');
  }

  abort(reason: string): void {
    if (this.controller.signal.aborted) return;
    this.log.debug({ chatId: this.chatId, reason }, 'socket chat: aborting the answer');
    this.controller.abort(new Error(reason));
  }

  /** Resolves once every item emitted so far is in the resume store. */
  flushed(): Promise<void> {
    return this.stored;
  }
}
