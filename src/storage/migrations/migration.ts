import type { Kysely } from 'kysely';

/**
 * One schema change. `up` gets an untyped handle on purpose: a migration describes the schema as
 * it was when the migration was written, not the current `Tables`.
 */
export interface Migration {
  /** Sorts in apply order and is recorded in `shenma_migrations`; never rename a shipped one. */
  readonly name: string;
  up(db: Kysely<unknown>): Promise<void>;
}
