import type { PayloadDecoder, ResponseBody } from './http.js';

const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined };

/** What {@link UpstreamIterator.step} says: a result to hand out, or that it needs more bytes. */
export const WAIT = Symbol('wait');

/**
 * One upstream answer read as an async iterator by one object: opened on the first `next()`, the
 * body's chunks read by a synchronous `step` until it has something to hand out, the wait for
 * more bytes the only await. Replaces stacks of async generators, each of which cost a promise
 * and a hop per event.
 *
 * The connection is kept when the subclass saw the backend say it was done (`finish(true)`) and
 * closed on every other way out: an error, an abort, a consumer that stops early.
 */
export abstract class UpstreamIterator<T> implements AsyncIterableIterator<T> {
  private body: ResponseBody | undefined;
  /** The backend said its answer was done. */
  protected saidDone = false;
  private over = false;

  constructor(
    private readonly open: () => Promise<ResponseBody>,
    protected readonly signal: AbortSignal,
    protected readonly decoder: PayloadDecoder,
  ) {}

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** Reads what has arrived; {@link WAIT} when it needs more. Throws what broke the answer. */
  protected abstract step(body: ResponseBody): IteratorResult<T> | typeof WAIT;

  async next(): Promise<IteratorResult<T>> {
    if (this.over) return DONE;
    try {
      if (!this.body) {
        this.body = await this.open();
        // The consumer left while the request was on its way.
        if (this.over) {
          this.body.release(false);
          return DONE;
        }
      }
      for (;;) {
        const result = this.step(this.body);
        if (result !== WAIT) return result;
        await this.body.readable();
      }
    } catch (err) {
      this.finish(false);
      throw err;
    }
  }

  async return(): Promise<IteratorResult<T>> {
    this.finish(this.saidDone);
    return DONE;
  }

  protected get finished(): boolean {
    return this.over;
  }

  /** Ends the iteration and lets go of the body: kept alive when `complete`. */
  protected finish(complete: boolean): void {
    if (this.over) return;
    this.over = true;
    this.body?.release(complete);
  }
}

export { DONE };
