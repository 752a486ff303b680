import type { RedisChannels } from '../storage/redis-channels.js';
import { SupersedeRegistry } from './supersede.js';

export interface SharedSupersede {
  registry: SupersedeRegistry;
  /** Resolves once this replica hears the other replicas' claims (it keeps trying until then). */
  ready: Promise<void>;
  close(): void;
}

interface Log {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

/**
 * Supersede across replicas over one Redis pub/sub channel, `<prefix>supersede`: every claim is
 * published (fire and forget, off the request's path) as `<claimId>\n<key>`, and every replica
 * feeds what it hears, in Redis's one order, to its registry. A request superseded on another
 * replica is aborted as soon as the message arrives (a round trip through Redis); while Redis is
 * away, supersede works within each replica only.
 */
export function shareSupersede(channels: RedisChannels, prefix: string, log: Log): SharedSupersede {
  const channel = `${prefix}supersede`;
  let failing = false;
  const registry = new SupersedeRegistry({
    publish(key, claimId) {
      channels.publish(channel, `${claimId}\n${key}`).then(
        () => {
          if (failing) log.info({}, 'completion supersede: Redis is back');
          failing = false;
        },
        (err: unknown) => {
          // Once per outage: a busy server makes thousands of claims a minute.
          if (!failing)
            log.warn({ err }, 'completion supersede: cannot reach Redis; superseding per replica');
          failing = true;
        },
      );
    },
  });
  let heard: () => void = () => {};
  const ready = new Promise<void>((resolve) => {
    heard = resolve;
  });
  const stop = channels.subscribeForGood(
    channel,
    (message) => {
      const cut = message.indexOf('\n');
      if (cut > 0) registry.announced(message.slice(cut + 1), message.slice(0, cut));
    },
    {
      onReady: heard,
      onError: (err) =>
        log.warn({ err }, 'completion supersede: cannot subscribe in Redis yet; superseding per replica'),
    },
  );
  return {
    registry,
    ready,
    close: stop,
  };
}
