import { endedEarly, type PayloadDecoder, type ResponseBody, type Step, takeChunk } from './http.js';

const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined };

/**
 * The values of an upstream answer's events, the events of one network read together as one
 * array: a consumer that streams them on (chat) pays one step and one socket write per read
 * instead of per event. One object per answer rather than an async generator, whose every step
 * cost a promise and a hop on top of the consumer's own.
 *
 * Never yields an empty array. The connection is kept when `handle` said the backend was done
 * and closed on every other way out (error, abort, a consumer that stops early). A body that ends
 * before that is a reset unless `endedCleanly()` says the answer was complete anyway.
 */
export class EventBatches<T> implements AsyncIterableIterator<T[]> {
  private body: ResponseBody | undefined;
  private saidDone = false;
  private over = false;

  constructor(
    private readonly open: () => Promise<ResponseBody>,
    private readonly signal: AbortSignal,
    private readonly decoder: PayloadDecoder,
    private readonly handle: (payload: string) => Step<T>,
    private readonly endedCleanly: () => boolean = () => false,
  ) {}

  [Symbol.asyncIterator](): this {
    return this;
  }

  async next(): Promise<IteratorResult<T[]>> {
    if (this.over) return DONE;
    try {
      if (!this.body) {
        this.body = await this.open();
        if (this.over) {
          this.body.release(false);
          return DONE;
        }
      }
      for (;;) {
        const chunk = takeChunk(this.body, this.signal);
        if (chunk === undefined) {
          await this.body.readable();
          continue;
        }
        const payloads = chunk === null ? this.decoder.end() : this.decoder.push(chunk);
        let batch: T[] | undefined;
        for (const payload of payloads) {
          const step = this.handle(payload);
          if (!step) continue;
          if (step.value !== undefined) {
            if (batch) batch.push(step.value);
            else batch = [step.value];
          }
          if (step.done) {
            this.saidDone = true;
            break;
          }
        }
        if (this.saidDone) this.finish(true);
        else if (chunk === null) {
          this.signal.throwIfAborted();
          if (!this.endedCleanly()) throw endedEarly();
          this.finish(true);
        }
        if (batch) return { value: batch, done: false };
        if (this.over) return DONE;
      }
    } catch (err) {
      this.finish(false);
      throw err;
    }
  }

  async return(): Promise<IteratorResult<T[]>> {
    this.finish(this.saidDone);
    return DONE;
  }

  private finish(complete: boolean): void {
    if (this.over) return;
    this.over = true;
    this.body?.release(complete);
  }
}
