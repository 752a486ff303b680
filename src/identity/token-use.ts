import { type Kysely, sql } from 'kysely';
import type { Tables } from '../storage/tables.js';

/**
 * Records when each personal API token was last used (`shenma tokens list`, LAST USED) without
 * a write per request: uses are kept in memory, latest time per token, and written in one
 * statement every `flushMs` and on close. A crash loses at most that window of "last used" times.
 */
export class TokenUseRecorder {
  /** Latest use per token, in epoch ms: a number per request, not a Date. */
  private pending = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: Kysely<Tables>,
    private readonly opts: { flushMs?: number; onError?: (err: unknown) => void } = {},
  ) {
    this.timer = setInterval(() => void this.flush(), opts.flushMs ?? 60_000);
    this.timer.unref();
  }

  /** Called on the request path: no I/O, just a map entry. */
  record(tokenId: string, at: Date | number = Date.now()): void {
    const ms = typeof at === 'number' ? at : at.getTime();
    const seen = this.pending.get(tokenId);
    if (seen === undefined || seen < ms) this.pending.set(tokenId, ms);
  }

  /** Writes what was recorded so far; one flush at a time, in order. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(() => this.write());
    return this.flushing;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }

  private async write(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    try {
      const rows = [...batch].map(([id, at]) => sql`(${id}, ${new Date(at).toISOString()}::timestamptz)`);
      // Never moves a time backwards (another server may have written a later one).
      await sql`update api_tokens as t set last_used_at = v.at
        from (values ${sql.join(rows)}) as v(id, at)
        where t.id = v.id and (t.last_used_at is null or t.last_used_at < v.at)`.execute(this.db);
    } catch (err) {
      this.opts.onError?.(err);
    }
  }
}
