import type { UsageRecord } from '../storage/usage-ledger.js';
import type { CompletionFailure, CompletionJob, CompletionOutcome } from './engine.js';

/**
 * The usage-ledger row of a finished completion request, or undefined when there is nothing to
 * meter: no known user, or a "don't complete here" rule answered before any model or cache was
 * asked (those come with nearly every keystroke and cost nothing).
 */
export function completionUsageRecord(
  job: CompletionJob,
  result: CompletionOutcome | CompletionFailure,
): UsageRecord | undefined {
  const { user } = job;
  if (!user) return undefined;
  // Rows are built as whole literals (no spread of shared fields): this runs for every request.
  // No stream we read reports usage, so completion counts are always local estimates.
  if ('error' in result) {
    const { error } = result;
    return {
      requestId: job.requestId,
      userId: user.id,
      userName: user.name,
      route: 'completion',
      estimated: true,
      model: result.model,
      promptTokens: 0,
      completionTokens: 0,
      totalMs: result.totalMs,
      // Refused before any model was asked (an unknown model, none configured): not usage.
      status:
        error.type === 'timeout_error'
          ? 'timeout'
          : error.type === 'not_found_error' || error.type === 'invalid_request_error'
            ? 'rejected'
            : 'upstream_error',
      error: error.message,
    };
  }
  if (result.kind === 'rejected') return undefined;
  const completed = result.kind === 'completed';
  return {
    requestId: job.requestId,
    userId: user.id,
    userName: user.name,
    route: 'completion',
    estimated: true,
    model: result.model,
    promptTokens: completed ? result.promptTokens : 0,
    completionTokens: completed ? result.completionTokens : 0,
    firstTokenMs: result.timings.firstTokenMs,
    totalMs: result.timings.totalMs,
    status: completed ? 'ok' : result.kind === 'client_gone' ? 'client_cancelled' : 'superseded',
  };
}

/**
 * Completion rows go to the ledger in batches: completions come with nearly every pause in typing,
 * and one insert per request would cost more CPU than the completion itself (a statement's round
 * trip and the server's commit, per keystroke). Rows wait up to `batchMs`, then go together (the ledger's group commit makes that one
 * or two statements). The editor never waits for this; rows still waiting when the process dies
 * are lost, which the `flush` on close avoids for an orderly stop.
 */
const MAX_BATCH = 1000;

export class CompletionMeter {
  private rows: UsageRecord[] = [];
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly ledger: { record(row: UsageRecord): Promise<unknown> },
    private readonly onError: (err: unknown) => void,
    private readonly batchMs = 1000,
  ) {}

  add(row: UsageRecord): void {
    this.rows.push(row);
    // Keeps one statement far below PostgreSQL's 65535 bind parameters (13 per row).
    if (this.rows.length >= MAX_BATCH) {
      void this.flush();
      return;
    }
    if (!this.timer) {
      this.timer = setTimeout(() => void this.flush(), this.batchMs);
      this.timer.unref();
    }
  }

  /** Writes what is waiting; resolves once it (and any earlier batch) is in the ledger or failed. */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const rows = this.rows;
    this.rows = [];
    const batch = Promise.all(rows.map((row) => this.ledger.record(row).catch(this.onError))).then(() => {});
    this.writing = Promise.all([this.writing, batch]).then(() => {});
    return this.writing;
  }
}
