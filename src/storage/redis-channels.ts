import type { Redis } from 'ioredis';

export type ChannelHandler = (message: string) => void;

/**
 * Redis pub/sub for one process: a connection in subscriber mode can run no other command, so
 * every subscription shares one duplicate of the command connection, and a channel is
 * subscribed once however many handlers listen to it. ioredis resubscribes after a reconnect;
 * messages published while it was away are lost (pub/sub keeps nothing), which callers allow for.
 */
export class RedisChannels {
  readonly #redis: Redis;
  #subscriber: Redis | undefined;
  readonly #handlers = new Map<string, Set<ChannelHandler>>();

  constructor(redis: Redis) {
    this.#redis = redis;
  }

  /**
   * Calls `handler` with every message on `channel` from the moment this resolves: a message
   * published after that is delivered. Returns the function that stops it.
   */
  async subscribe(channel: string, handler: ChannelHandler): Promise<() => void> {
    const subscriber = this.#subscriberConnection();
    let handlers = this.#handlers.get(channel);
    if (!handlers) {
      handlers = new Set();
      this.#handlers.set(channel, handlers);
    }
    handlers.add(handler);
    const stop = () => {
      const current = this.#handlers.get(channel);
      if (!current?.delete(handler) || current.size > 0) return;
      this.#handlers.delete(channel);
      subscriber.unsubscribe(channel).catch(() => {});
    };
    try {
      // Sent even when already subscribed: the reply is the point at which delivery is certain.
      await subscriber.subscribe(channel);
    } catch (err) {
      stop();
      throw err;
    }
    return stop;
  }

  /**
   * Like {@link subscribe} for a subscription that lasts as long as the process: when Redis does
   * not answer (yet), tries again every `retryMs` until it does or the returned stop is called.
   * `onError` hears the first failure of each run of them; `onReady`, each success.
   */
  subscribeForGood(
    channel: string,
    handler: ChannelHandler,
    hooks: { onError(err: unknown): void; onReady?(): void; retryMs?: number },
  ): () => void {
    let stopped = false;
    let stop: (() => void) | undefined;
    let timer: NodeJS.Timeout | undefined;
    let failed = false;
    const attempt = () => {
      this.subscribe(channel, handler).then(
        (unsubscribe) => {
          if (stopped) unsubscribe();
          else stop = unsubscribe;
          hooks.onReady?.();
        },
        (err: unknown) => {
          if (stopped) return;
          if (!failed) hooks.onError(err);
          failed = true;
          timer = setTimeout(attempt, hooks.retryMs ?? 2000);
          timer.unref();
        },
      );
    };
    attempt();
    return () => {
      stopped = true;
      clearTimeout(timer);
      stop?.();
    };
  }

  /** Resolves to the number of subscribers (over all processes) that received the message. */
  publish(channel: string, message: string): Promise<number> {
    return this.#redis.publish(channel, message);
  }

  /** Subscribers (over all processes) listening to `channel` now. */
  async listeners(channel: string): Promise<number> {
    const reply = await this.#redis.pubsub('NUMSUB', channel);
    return Number(reply[1] ?? 0);
  }

  async close(): Promise<void> {
    this.#handlers.clear();
    const subscriber = this.#subscriber;
    this.#subscriber = undefined;
    if (subscriber) await subscriber.quit().catch(() => subscriber.disconnect());
  }

  #subscriberConnection(): Redis {
    if (this.#subscriber) return this.#subscriber;
    const subscriber = this.#redis.duplicate();
    subscriber.on('error', () => {});
    subscriber.on('message', (channel: string, message: string) => {
      const handlers = this.#handlers.get(channel);
      if (handlers) for (const handler of [...handlers]) handler(message);
    });
    this.#subscriber = subscriber;
    return subscriber;
  }
}
