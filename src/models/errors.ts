import { UpstreamError } from './backend.js';
import { ModelUnavailableError, OverloadedError } from './pool.js';

/**
 * The ways a call to a model fails, in one place. Each carries `retryable`: whether another
 * replica or model may succeed, provided nothing was passed on to the client yet.
 *
 * - UpstreamError: the backend failed (unreachable, an HTTP error status, unparseable output, a
 *   stream that broke); see its `kind`.
 * - UpstreamTimeout: a deadline of the call passed (first token, silence mid-answer, total).
 * - OverloadedError: no slot on the model within the queue deadline, or its queue is full.
 * - ModelUnavailableError: no replica of the model is up (or left to try).
 *
 * What each becomes for a client is decided once, in http/upstream-error.ts.
 */

export { ModelUnavailableError, OverloadedError, UpstreamError };

export type Deadline = 'first_token' | 'idle' | 'total';

export class UpstreamTimeout extends Error {
  override readonly name = 'UpstreamTimeout';
  constructor(
    readonly deadline: Deadline,
    message: string,
  ) {
    super(message);
  }

  /** Only a missing first token is worth another replica: after that, the answer has started. */
  get retryable(): boolean {
    return this.deadline === 'first_token';
  }
}

/**
 * A call's total deadline, as a timer callback: `setTimeout(abortAtTotal, ms, controller, totalMs)`
 * (a plain function and arguments, no closure per request).
 */
export function abortAtTotal(controller: AbortController, totalMs: number): void {
  controller.abort(new UpstreamTimeout('total', `no complete answer within ${totalMs} ms`));
}

export type ModelCallFailure = UpstreamError | UpstreamTimeout | OverloadedError | ModelUnavailableError;

export function isModelCallFailure(err: unknown): err is ModelCallFailure {
  return (
    err instanceof UpstreamError ||
    err instanceof UpstreamTimeout ||
    err instanceof OverloadedError ||
    err instanceof ModelUnavailableError
  );
}

/** A label for metrics: the upstream error's kind, `<deadline>_timeout`, `overloaded` or `unavailable`. */
export function failureKind(err: unknown): string | undefined {
  if (err instanceof UpstreamError) return err.kind;
  if (err instanceof UpstreamTimeout) return `${err.deadline}_timeout`;
  if (err instanceof OverloadedError) return 'overloaded';
  if (err instanceof ModelUnavailableError) return 'unavailable';
  return undefined;
}
