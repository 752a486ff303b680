import { type QueryExecutorProvider, sql } from 'kysely';
import { storableJson } from '../../storage/storable.js';
import type { ChatMessage } from '../types.js';

/**
 * Stored Responses, per user: each keeps its own turn (the input messages after the
 * instructions, and the answer as Chat messages) and a link to the response it continued, so a
 * `previous_response_id` chain is read back whole, tool calls included. Output items are kept as
 * sent, for clients that refer to them by `item_reference` instead of re-sending them.
 */

/** Longest chain followed; a deeper one is cut at its oldest end. */
const MAX_CHAIN = 200;
/** Stored responses are kept this long, as OpenAI keeps them (30 days). */
export const RETENTION_DAYS = 30;
/** Old rows are deleted at most this often, by the save that comes first after it. */
const PRUNE_EVERY_MS = 60 * 60 * 1000;

export interface StoredResponse {
  id: string;
  userId: string;
  previousId: string | null;
  model: string;
  /** This response's turn: input messages (no instructions) and the answer. */
  messages: ChatMessage[];
  /** Output items as the client got them (each has an `id`). */
  items: readonly object[];
}

export class ResponseStore {
  private prunedAt = 0;

  // Plain SQL on purpose: the table is this module's own, not part of the shared `Tables`.
  constructor(
    private readonly db: QueryExecutorProvider,
    private readonly now: () => number = Date.now,
  ) {}

  async save(r: StoredResponse): Promise<void> {
    await sql`insert into stored_responses (id, user_id, previous_id, model, messages, items)
      values (${r.id}, ${r.userId}, ${r.previousId}, ${r.model},
        ${storableJson(r.messages)}::jsonb, ${storableJson(r.items)}::jsonb)`.execute(this.db);
    if (this.now() - this.prunedAt >= PRUNE_EVERY_MS) {
      this.prunedAt = this.now();
      await this.prune();
    }
  }

  /** Deletes responses older than the retention; returns how many. */
  async prune(): Promise<number> {
    const cutoff = new Date(this.now() - RETENTION_DAYS * 24 * 60 * 60 * 1000);
    const result = await sql`delete from stored_responses where created_at < ${cutoff}`.execute(this.db);
    return Number(result.numAffectedRows ?? 0);
  }

  /** The messages of the chain ending at `id`, oldest first; undefined when the user has no such response. */
  async conversation(userId: string, id: string): Promise<ChatMessage[] | undefined> {
    const { rows } = await sql<{ messages: ChatMessage[] | string; depth: number }>`
      with recursive chain as (
        select id, previous_id, messages, 0 as depth from stored_responses
          where id = ${id} and user_id = ${userId}
        union all
        select r.id, r.previous_id, r.messages, chain.depth + 1 from stored_responses r
          join chain on r.id = chain.previous_id
          where r.user_id = ${userId} and chain.depth < ${MAX_CHAIN}
      )
      select messages, depth from chain order by depth desc`.execute(this.db);
    if (rows.length === 0) return undefined;
    return rows.flatMap((row) => parseJsonColumn<ChatMessage[]>(row.messages));
  }

  /** Output items of this user's stored responses, by id; ids not found are absent from the map. */
  async items(userId: string, ids: readonly string[]): Promise<Map<string, Record<string, unknown>>> {
    const found = new Map<string, Record<string, unknown>>();
    if (ids.length === 0) return found;
    const { rows } = await sql<{ item: Record<string, unknown> | string }>`
      select item from stored_responses, jsonb_array_elements(items) as item
        where user_id = ${userId} and item->>'id' in (${sql.join(ids)})`.execute(this.db);
    for (const row of rows) {
      const item = parseJsonColumn<Record<string, unknown>>(row.item);
      found.set(String(item['id']), item);
    }
    return found;
  }
}

/** node-postgres parses jsonb; a driver (or column type) that returns text is tolerated too. */
function parseJsonColumn<T>(value: T | string): T {
  return typeof value === 'string' ? (JSON.parse(value) as T) : value;
}
