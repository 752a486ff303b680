import { completionFeedback } from './0001_completion_feedback.js';
import { clientErrorReport } from './0002_client_error_report.js';
import { identity } from './0003_identity.js';
import { chat } from './0004_chat.js';
import { chatApis } from './0005_chat_apis.js';
import { ledgerEntryAndRetention } from './0006_ledger_entry_and_retention.js';
import { readinessProbe } from './0007_readiness_probe.js';
import type { Migration } from './migration.js';

export type { Migration } from './migration.js';

/** Every migration in apply order. Listed here, not globbed, so the list survives bundling into dist/. */
export const MIGRATIONS: readonly Migration[] = [
  completionFeedback,
  clientErrorReport,
  identity,
  chat,
  chatApis,
  ledgerEntryAndRetention,
  readinessProbe,
];
