import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { closeRedis, connectRedis } from '../storage/redis.js';

/**
 * "A credential changed": a user was disabled (or enabled), an API token revoked. Whoever holds
 * something derived from a credential listens: the verified-token and user-state caches forget
 * it, and the chat socket re-checks the open connections and drops the refused ones. In one
 * process the news goes to its listeners directly; with `redis.url` it is also published on a
 * Redis channel so every replica hears it within milliseconds (and `shenma users disable` run
 * against PostgreSQL tells the running servers too).
 */

export type CredentialChange = { kind: 'user'; userId: string } | { kind: 'token'; tokenId: string };
export type CredentialListener = (change: CredentialChange) => void;

export interface CredentialEvents {
  publish(change: CredentialChange): Promise<void>;
  subscribe(listener: CredentialListener): () => void;
  close(): Promise<void>;
}

export class LocalCredentialEvents implements CredentialEvents {
  protected readonly listeners = new Set<CredentialListener>();

  async publish(change: CredentialChange): Promise<void> {
    this.deliver(change);
  }

  subscribe(listener: CredentialListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  protected deliver(change: CredentialChange): void {
    for (const listener of this.listeners) {
      try {
        listener(change);
      } catch {
        // One listener's failure must not keep the news from the others.
      }
    }
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }
}

interface Message {
  from: string;
  change: CredentialChange;
}

export class RedisCredentialEvents extends LocalCredentialEvents {
  private readonly origin = randomUUID();
  private readonly ready: Promise<unknown>;

  constructor(
    private readonly publisher: Redis,
    private readonly subscriber: Redis,
    private readonly channel: string,
    private readonly onError: (err: unknown) => void = () => {},
  ) {
    super();
    subscriber.on('message', (ch: string, text: string) => {
      if (ch !== channel) return;
      try {
        const message = JSON.parse(text) as Message;
        if (message.from !== this.origin) this.deliver(message.change);
      } catch (err) {
        onError(err);
      }
    });
    this.ready = subscriber.subscribe(channel).catch(onError);
  }

  static connect(url: string, keyPrefix: string, onError?: (err: unknown) => void): RedisCredentialEvents {
    return new RedisCredentialEvents(
      connectRedis(url),
      connectRedis(url),
      `${keyPrefix}credential-changes`,
      onError,
    );
  }

  /** Resolves once this process listens on the channel. */
  whenSubscribed(): Promise<unknown> {
    return this.ready;
  }

  override async publish(change: CredentialChange): Promise<void> {
    this.deliver(change);
    const message: Message = { from: this.origin, change };
    await this.publisher.publish(this.channel, JSON.stringify(message)).catch(this.onError);
  }

  override async close(): Promise<void> {
    await super.close();
    await Promise.all([closeRedis(this.publisher), closeRedis(this.subscriber)]);
  }
}

export function createCredentialEvents(
  redis: { url?: string | undefined; keyPrefix: string },
  onError?: (err: unknown) => void,
): CredentialEvents {
  return redis.url
    ? RedisCredentialEvents.connect(redis.url, redis.keyPrefix, onError)
    : new LocalCredentialEvents();
}
