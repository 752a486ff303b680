import { randomUUID } from 'node:crypto';

/**
 * Tells every replica, this one included, that a claim now holds a key. Every replica must see
 * the claims in one order (Redis pub/sub on one channel does that); see {@link SupersedeRegistry}.
 */
export interface SupersedeBroadcast {
  publish(key: string, claimId: string): void;
}

interface Live {
  controller: AbortController;
  claimId: string;
  /** Our own claim came back through the broadcast: every later claim of the key is newer. */
  announced: boolean;
}

/**
 * One live completion per client stream: when a newer request arrives from the same client,
 * the older one is aborted (its upstream call closes) because its answer can no longer be shown.
 *
 * Within a process that is immediate. With a broadcast (several replicas), each claim is also
 * announced to all of them and comes back to its own replica too: a replica aborts its request
 * for a key when another claim of that key arrives after its own announcement, i.e. a claim made
 * later in the broadcast's one order, wherever it runs. A claim whose announcement has not come
 * back yet is the newest anyone knows of, so nothing arriving meanwhile aborts it; when the
 * broadcast is down, replicas fall back to superseding within themselves.
 */
export class SupersedeRegistry {
  private readonly live = new Map<string, Live>();
  private readonly replicaId = randomUUID();
  private claims = 0;

  constructor(private readonly broadcast?: SupersedeBroadcast) {}

  /** Registers a request; aborts the previous one with the same key. Returns an unregister function. */
  claim(key: string, controller: AbortController): () => void {
    const previous = this.live.get(key);
    if (previous && previous.controller !== controller) previous.controller.abort(new SupersededError());
    const claimId = `${this.replicaId}:${++this.claims}`;
    this.live.set(key, { controller, claimId, announced: false });
    this.broadcast?.publish(key, claimId);
    return () => {
      if (this.live.get(key)?.controller === controller) this.live.delete(key);
    };
  }

  /** A claim announced through the broadcast (ours or another replica's), in the broadcast's order. */
  announced(key: string, claimId: string): void {
    const entry = this.live.get(key);
    if (!entry) return;
    if (entry.claimId === claimId) {
      entry.announced = true;
    } else if (entry.announced) {
      entry.controller.abort(new SupersededError());
      this.live.delete(key);
    }
  }

  get size(): number {
    return this.live.size;
  }
}

export class SupersededError extends Error {
  override readonly name = 'SupersededError';
  constructor() {
    super('superseded by a newer request from the same client');
  }
}
