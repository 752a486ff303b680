import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { RedisChannels } from '../../storage/redis-channels.js';
import { type ChatRun, type Followed, type Follower, INTERRUPTED } from './chat-run.js';
import type { SocketChatLog } from './log.js';
import type { ChatRelay } from './relay.js';
import type { KeptChat, ResumeStore } from './resume-store.js';
import { emitItem, isTerminal, type ResumeItem } from './wire.js';

/**
 * Resume buffers in Redis, shared by every replica, and the relay that lets a socket on one
 * replica follow an answer generated on another.
 *
 * Per chat: a stream `<prefix>chat:<id>:items` whose entry ids are the item offsets (`7-0`),
 * so "the items after offset n" is one XRANGE, capped at `maxItemsPerChat` entries (oldest go
 * first), and a hash `<prefix>chat:<id>:meta` with the owner and the replica generating it.
 * Both expire `ttlMs` after the last append. Appends come in batches (see ChatRun, and
 * `batchWindowMs`) as one pipelined round trip.
 *
 * Following across replicas, all over pub/sub:
 * - the follower's replica subscribes `<prefix>chat:<id>`, then publishes `follow` on the
 *   runner's `<prefix>replica:<runner>`, then reads the stream;
 * - the runner counts the remote follower (the answer keeps running without its own socket) and
 *   from then on publishes `n` on the chat channel after each stored batch, or `g` when the
 *   answer is not running there; the follower reads what is new on each `n`;
 * - when the follower's socket goes, `unfollow`; the runner aborts when no follower is left;
 * - a runner that died is seen by nobody listening on its channel: the follower ends with
 *   "interrupted", as a single server does after a restart.
 */

export interface RedisResumeStoreOptions {
  /** Key and channel prefix (config `redis.keyPrefix`), e.g. `shenma:`. */
  prefix: string;
  /** How long a chat is kept after its last item (config `chat.resumeTtlMs`). */
  ttlMs: number;
  /** Items kept per chat; the oldest go first. Default 5000, as in memory. */
  maxItemsPerChat?: number;
  /** How often a remote follower checks that the runner is still there. Default 5 s. */
  runnerCheckMs?: number;
  /**
   * How long a chat's items wait to be appended together. Default 50 ms: at a model's usual
   * 10-50 chunks a second that is one round trip per few chunks, and a follower on another
   * replica sees them at most that much later.
   */
  batchWindowMs?: number;
  log: SocketChatLog;
}

/** New items were stored (published by the runner to its remote followers). */
const NEW_ITEMS = 'n';
/** The answer is not running on the replica asked (finished or never there). */
const GONE = 'g';

interface ControlMessage {
  t: 'follow' | 'unfollow';
  chat: string;
  user: string;
  follower: string;
}

export class RedisResumeStore implements ResumeStore, ChatRelay {
  readonly replicaId = randomUUID();
  readonly batchWindowMs: number;
  readonly #redis: Redis;
  readonly #channels: RedisChannels;
  readonly #opts: Required<Omit<RedisResumeStoreOptions, 'log' | 'batchWindowMs'>>;
  readonly #log: SocketChatLog;
  #stopServing: (() => void) | undefined;

  constructor(redis: Redis, channels: RedisChannels, opts: RedisResumeStoreOptions) {
    this.#redis = redis;
    this.#channels = channels;
    this.#log = opts.log;
    this.batchWindowMs = opts.batchWindowMs ?? 50;
    this.#opts = {
      prefix: opts.prefix,
      ttlMs: opts.ttlMs,
      maxItemsPerChat: opts.maxItemsPerChat ?? 5000,
      runnerCheckMs: opts.runnerCheckMs ?? 5000,
    };
  }

  async append(
    chatId: string,
    owner: string,
    items: readonly ResumeItem[],
    opts?: { notify?: boolean },
  ): Promise<void> {
    const { ttlMs, maxItemsPerChat } = this.#opts;
    const pipeline = this.#redis.pipeline();
    if (items.length > 0) {
      const stream = this.#itemsKey(chatId);
      const meta = this.#metaKey(chatId);
      for (const item of items) {
        pipeline.xadd(stream, 'MAXLEN', '~', maxItemsPerChat, `${item.offset}-0`, 'i', JSON.stringify(item));
      }
      pipeline.pexpire(stream, ttlMs);
      if (items[0]?.offset === 1) pipeline.hset(meta, 'owner', owner, 'runner', this.replicaId);
      pipeline.pexpire(meta, ttlMs);
    }
    if (opts?.notify) pipeline.publish(this.#chatChannel(chatId), NEW_ITEMS);
    const replies = (await pipeline.exec()) ?? [];
    for (const [err] of replies) if (err) throw err;
  }

  async read(chatId: string, fromOffset: number): Promise<KeptChat | undefined> {
    const [[metaErr, meta], [itemsErr, entries]] = (await this.#redis
      .pipeline()
      .hgetall(this.#metaKey(chatId))
      .xrange(this.#itemsKey(chatId), `(${fromOffset}-0`, '+')
      .exec()) as [[Error | null, Record<string, string>], [Error | null, [string, string[]][]]];
    if (metaErr) throw metaErr;
    if (itemsErr) throw itemsErr;
    if (!meta.owner) return undefined;
    return {
      owner: meta.owner,
      items: parseEntries(entries),
      ...(meta.runner ? { runner: meta.runner } : {}),
    };
  }

  /** The items after `fromOffset` (none when the chat expired). */
  async itemsAfter(chatId: string, fromOffset: number): Promise<ResumeItem[]> {
    return parseEntries(await this.#redis.xrange(this.#itemsKey(chatId), `(${fromOffset}-0`, '+'));
  }

  serve(runs: (chatId: string) => ChatRun | undefined): void {
    this.#stopServing?.();
    this.#stopServing = this.#channels.subscribeForGood(
      this.#replicaChannel(this.replicaId),
      (message) => {
        const m = parseControl(message);
        if (!m) return;
        const run = runs(m.chat);
        if (m.t === 'unfollow') {
          run?.unfollowRemotely(m.follower);
        } else if (run && run.owner === m.user) {
          run.followRemotely(m.follower);
        } else {
          this.#channels.publish(this.#chatChannel(m.chat), GONE).catch((err: unknown) => {
            this.#log.warn({ err, chatId: m.chat }, 'socket chat: could not answer a follow request');
          });
        }
      },
      {
        onError: (err) =>
          this.#log.warn({ err }, 'socket chat: cannot take follow requests from other replicas yet'),
      },
    );
  }

  follow(chatId: string, owner: string, runner: string, fromOffset: number, follower: Follower): Followed {
    const link: FollowLink = {
      channels: this.#channels,
      log: this.#log,
      runnerCheckMs: this.#opts.runnerCheckMs,
      itemsAfter: (offset) => this.itemsAfter(chatId, offset),
      chatChannel: this.#chatChannel(chatId),
      runnerChannel: this.#replicaChannel(runner),
      followerId: `${this.replicaId}/${follower.id}`,
    };
    const remote = new RemoteFollow(link, chatId, owner, fromOffset, follower);
    remote.start().catch((err: unknown) => remote.fail(err));
    return remote;
  }

  /** Stops answering follow requests; the connections belong to the caller. */
  close(): void {
    this.#stopServing?.();
    this.#stopServing = undefined;
  }

  #itemsKey(chatId: string): string {
    return `${this.#opts.prefix}chat:${chatId}:items`;
  }

  #metaKey(chatId: string): string {
    return `${this.#opts.prefix}chat:${chatId}:meta`;
  }

  #chatChannel(chatId: string): string {
    return `${this.#opts.prefix}chat:${chatId}`;
  }

  #replicaChannel(replicaId: string): string {
    return `${this.#opts.prefix}replica:${replicaId}`;
  }
}

/** What a RemoteFollow uses of its store. */
interface FollowLink {
  channels: RedisChannels;
  log: SocketChatLog;
  runnerCheckMs: number;
  itemsAfter(fromOffset: number): Promise<ResumeItem[]>;
  chatChannel: string;
  runnerChannel: string;
  followerId: string;
}

/**
 * One socket here following an answer generated on another replica: reads the stored items as
 * the runner announces them, one read at a time (announcements during a read cause one more).
 */
class RemoteFollow implements Followed {
  finished = false;
  #last: number;
  #reading = false;
  #readAgain = false;
  #runnerGone = false;
  #unsubscribe: (() => void) | undefined;
  #runnerCheck: NodeJS.Timeout | undefined;

  constructor(
    private readonly link: FollowLink,
    private readonly chatId: string,
    private readonly owner: string,
    fromOffset: number,
    private readonly follower: Follower,
  ) {
    this.#last = fromOffset;
  }

  async start(): Promise<void> {
    const { channels } = this.link;
    const unsubscribe = await channels.subscribe(this.link.chatChannel, (message) => {
      if (message === GONE) this.#runnerGone = true;
      this.#read();
    });
    if (this.finished) {
      unsubscribe();
      return;
    }
    this.#unsubscribe = unsubscribe;
    const receivers = await this.#tellRunner('follow');
    if (this.finished) return;
    if (receivers === 0) this.#runnerGone = true;
    this.#read();
    this.#runnerCheck = setInterval(() => {
      // Also reads: pub/sub drops what is published while a connection is down, and a missed
      // announcement must delay the follower by one check at most, not forever.
      channels.listeners(this.link.runnerChannel).then(
        (n) => {
          if (n === 0) this.#runnerGone = true;
          this.#read();
        },
        (err: unknown) =>
          this.link.log.warn({ err, chatId: this.chatId }, 'socket chat: runner check failed'),
      );
    }, this.link.runnerCheckMs);
    this.#runnerCheck.unref();
  }

  unfollow(follower: Follower): void {
    if (follower.id !== this.follower.id || this.finished) return;
    this.#end();
    this.#tellRunner('unfollow').catch((err: unknown) => {
      this.link.log.warn({ err, chatId: this.chatId }, 'socket chat: could not release a remote answer');
    });
  }

  fail(err: unknown): void {
    if (this.finished) return;
    this.link.log.warn({ err, chatId: this.chatId }, 'socket chat: following a remote answer failed');
    this.follower.emit('error', 'cannot resume the chat right now; please ask again');
    this.#end();
  }

  #tellRunner(t: ControlMessage['t']): Promise<number> {
    const message: ControlMessage = {
      t,
      chat: this.chatId,
      user: this.owner,
      follower: this.link.followerId,
    };
    return this.link.channels.publish(this.link.runnerChannel, JSON.stringify(message));
  }

  #read(): void {
    this.#readAgain = true;
    if (this.#reading || this.finished) return;
    this.#reading = true;
    this.#readLoop().catch((err: unknown) => {
      this.#reading = false;
      this.fail(err);
    });
  }

  async #readLoop(): Promise<void> {
    while (this.#readAgain && !this.finished) {
      this.#readAgain = false;
      const items = await this.link.itemsAfter(this.#last);
      if (this.finished) break;
      const first = items[0];
      if (first && first.offset !== this.#last + 1) {
        this.follower.emit(
          'error',
          `cannot resume: the items after offset ${this.#last} are no longer kept; please ask again`,
        );
        this.#end();
        break;
      }
      for (const item of items) {
        emitItem(this.follower, item);
        this.#last = item.offset;
        if (isTerminal(item)) {
          this.#end();
          break;
        }
      }
    }
    // Everything stored has been read after the runner was found gone: nothing more will come.
    if (this.#runnerGone && !this.finished) {
      this.follower.emit('error', INTERRUPTED);
      this.#end();
    }
    this.#reading = false;
  }

  #end(): void {
    this.finished = true;
    clearInterval(this.#runnerCheck);
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
  }
}

function parseEntries(entries: [string, string[]][]): ResumeItem[] {
  const items: ResumeItem[] = [];
  for (const [, fields] of entries) {
    const json = fields[1];
    if (json !== undefined) items.push(JSON.parse(json) as ResumeItem);
  }
  return items;
}

function parseControl(message: string): ControlMessage | undefined {
  try {
    const m = JSON.parse(message) as Partial<ControlMessage>;
    if (
      (m.t === 'follow' || m.t === 'unfollow') &&
      typeof m.chat === 'string' &&
      typeof m.follower === 'string'
    )
      return { t: m.t, chat: m.chat, user: String(m.user ?? ''), follower: m.follower };
  } catch {
    // not ours
  }
  return undefined;
}
