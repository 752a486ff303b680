import type { Kysely } from 'kysely';
import { completionFeedback } from './0001_completion_feedback.js';
import { clientErrorReport } from './0002_client_error_report.js';
import { identity } from './0003_identity.js';
import { chat } from './0004_chat.js';
import { ledgerEntryAndRetention } from './0005_ledger_entry_and_retention.js';

/**
 * One schema change. `up` gets an untyped handle on purpose: a migration describes the schema as
 * it was when the migration was written, not the current `Tables`.
 */
export interface Migration {
  /** Sorts in apply order and is recorded in `shenma_migrations`; never rename a shipped one. */
  readonly name: string;
  up(db: Kysely<unknown>): Promise<void>;
}

/** Every migration in apply order. Listed here, not globbed, so the list survives bundling into dist/. */
export const MIGRATIONS: readonly Migration[] = [
  completionFeedback,
  clientErrorReport,
  identity,
  chat,
  ledgerEntryAndRetention,
];
