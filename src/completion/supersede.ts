/**
 * One live completion per client stream: when a newer request arrives from the same client,
 * the older one is aborted (its upstream call closes) because its answer can no longer be shown.
 */
export class SupersedeRegistry {
  private readonly live = new Map<string, AbortController>();

  /** Registers a request; aborts the previous one with the same key. Returns an unregister function. */
  claim(key: string, controller: AbortController): () => void {
    const previous = this.live.get(key);
    if (previous && previous !== controller) previous.abort(new SupersededError());
    this.live.set(key, controller);
    return () => {
      if (this.live.get(key) === controller) this.live.delete(key);
    };
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
