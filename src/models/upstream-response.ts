import type { IncomingHttpHeaders } from 'node:http';
import type { Dispatcher } from 'undici';

/**
 * One upstream answer read straight from undici's dispatcher. undici's `request()` wraps every
 * answer in a stream.Readable read through its async iterator, an AsyncResource and a promise per
 * chunk; a model's answer is read by one consumer, chunk by chunk, so the chunks simply queue here
 * until it takes them. That layer was most of what a streamed chunk cost Shenma beyond the read
 * itself.
 *
 * The connection is kept only when the answer was read to its end (or the backend said it was
 * done and the rest, usually the chunked trailer, arrives within a second); an answer left early
 * for any other reason, an error or an abort closes it.
 */

/** Unread bytes an answer may queue before its socket is paused (the consumer is behind). */
const HIGH_WATER_BYTES = 256 * 1024;
/** After the backend said it was done, how long the rest of the body may take before the socket is dropped. */
const TAIL_MS = 1000;

type Controller = Dispatcher.DispatchController;

export class UpstreamResponse implements Dispatcher.DispatchHandler {
  statusCode = 0;
  headers: IncomingHttpHeaders = {};
  private controller: Controller | undefined;
  private readonly chunks: Buffer[] = [];
  private queued = 0;
  private ended = false;
  private error: Error | undefined;
  /** The consumer is done: whatever else arrives is dropped, not queued. */
  private detached = false;
  private tailTimer: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;
  private startWaiter: { resolve(r: UpstreamResponse): void; reject(err: unknown): void } | undefined;
  private readonly onAbort: () => void;

  constructor(private readonly signal: AbortSignal) {
    this.onAbort = () => this.abort(signal.reason as Error);
    signal.addEventListener('abort', this.onAbort);
  }

  /** Sends the request; settles when the answer's status and headers are in (or it failed before). */
  static send(
    dispatcher: Dispatcher,
    options: Dispatcher.DispatchOptions,
    signal: AbortSignal,
  ): Promise<UpstreamResponse> {
    const response = new UpstreamResponse(signal);
    return new Promise<UpstreamResponse>((resolve, reject) => {
      response.startWaiter = { resolve, reject };
      dispatcher.dispatch(options, response);
    });
  }

  /** Bytes read off the socket that the consumer has not taken yet. */
  get buffered(): number {
    return this.queued;
  }

  // ---- undici's side ----------------------------------------------------------------------

  onRequestStart(controller: Controller): void {
    this.controller = controller;
    if (this.signal.aborted) controller.abort(this.signal.reason as Error);
  }

  onResponseStart(controller: Controller, statusCode: number, headers: IncomingHttpHeaders): void {
    // undici's controller keeps the raw header buffers (and with them the socket's first read
    // buffer) for the life of the answer; the parsed headers are all we need.
    controller.rawHeaders = null;
    if (statusCode < 200) return; // 1xx: the real answer follows
    this.statusCode = statusCode;
    this.headers = headers;
    const waiter = this.startWaiter;
    this.startWaiter = undefined;
    waiter?.resolve(this);
  }

  onResponseData(controller: Controller, chunk: Buffer): void {
    if (this.detached) return;
    this.chunks.push(chunk);
    this.queued += chunk.length;
    if (this.queued > HIGH_WATER_BYTES) controller.pause();
    this.notify();
  }

  onResponseEnd(): void {
    this.ended = true;
    this.finish();
    this.notify();
  }

  onResponseError(_c: Controller, error: Error): void {
    this.error = error;
    this.finish();
    const waiter = this.startWaiter;
    this.startWaiter = undefined;
    waiter?.reject(error);
    this.notify();
  }

  // ---- the consumer's side ----------------------------------------------------------------

  /**
   * The next chunk; `null` once the body has ended; `undefined` when nothing has arrived yet
   * (wait with {@link readable}). Throws what broke the answer.
   */
  take(): Buffer | null | undefined {
    const chunk = this.chunks.shift();
    if (chunk !== undefined) {
      this.queued -= chunk.length;
      if (this.controller?.paused && this.queued <= HIGH_WATER_BYTES / 2) this.controller.resume();
      return chunk;
    }
    if (this.error) throw this.error;
    return this.ended ? null : undefined;
  }

  /** Resolves when {@link take} has something new to say. */
  readable(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.wake = resolve;
    });
  }

  /**
   * The consumer stops reading. `complete`: the backend said its answer was done, so the rest
   * (usually only the chunked trailer) is read and dropped to keep the connection reusable,
   * unless it takes over a second. Otherwise the connection is closed now.
   */
  release(complete: boolean): void {
    if (this.detached) return;
    this.detached = true;
    this.chunks.length = 0;
    this.queued = 0;
    if (this.ended || this.error) return;
    if (!complete) {
      this.abort(new Error('answer left before its end'));
      return;
    }
    this.controller?.resume();
    this.tailTimer = setTimeout(UpstreamResponse.abortStuck, TAIL_MS, this);
  }

  /** Reads at most `limit` bytes of the body as text (error bodies), then lets go of it. */
  async text(limit: number): Promise<string> {
    const parts: Buffer[] = [];
    let bytes = 0;
    try {
      for (;;) {
        const chunk = this.take();
        if (chunk === null) break;
        if (chunk === undefined) {
          await this.readable();
          continue;
        }
        parts.push(chunk);
        bytes += chunk.length;
        if (bytes >= limit) break;
      }
    } finally {
      this.release(this.ended);
    }
    // Cutting mid-character only costs a replacement character in a message that is truncated anyway.
    return Buffer.concat(parts).subarray(0, limit).toString('utf8');
  }

  private abort(reason: Error): void {
    if (this.ended || this.error) return;
    if (this.controller) {
      // The caller gave up on this answer: what is queued is not handed out after the abort (a
      // failure from upstream, by contrast, comes after the bytes that arrived before it).
      this.chunks.length = 0;
      this.queued = 0;
      this.controller.abort(reason);
      return;
    }
    // Still waiting for a connection (only the signal can get here: nothing was handed out yet).
    // The caller hears it now; onRequestStart aborts the request when undici gets to it.
    this.error = reason;
    this.finish();
    const waiter = this.startWaiter;
    this.startWaiter = undefined;
    waiter?.reject(reason);
  }

  private static abortStuck(response: UpstreamResponse): void {
    response.abort(new Error(`answer did not end within ${TAIL_MS} ms of its last event`));
  }

  private finish(): void {
    this.signal.removeEventListener('abort', this.onAbort);
    if (this.tailTimer) clearTimeout(this.tailTimer);
  }

  private notify(): void {
    const wake = this.wake;
    if (wake) {
      this.wake = undefined;
      wake();
    }
  }
}
