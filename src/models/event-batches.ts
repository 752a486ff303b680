import { endedEarly, type PayloadDecoder, type ResponseBody, type Step, takeChunk } from './http.js';
import { DONE, UpstreamIterator, WAIT } from './upstream-iterator.js';

/**
 * The values of an upstream answer's events, the events of one network read together as one
 * array: a consumer that streams them on (chat) pays one step and one socket write per read
 * instead of per event. Never yields an empty array. A body that ends before `handle` said the
 * backend was done is a reset unless `endedCleanly()` says the answer was complete anyway.
 */
export class EventBatches<T> extends UpstreamIterator<T[]> {
  constructor(
    open: () => Promise<ResponseBody>,
    signal: AbortSignal,
    decoder: PayloadDecoder,
    private readonly handle: (payload: string) => Step<T>,
    private readonly endedCleanly: () => boolean = () => false,
  ) {
    super(open, signal, decoder);
  }

  protected step(body: ResponseBody): IteratorResult<T[]> | typeof WAIT {
    for (;;) {
      if (this.finished) return DONE;
      const chunk = takeChunk(body, this.signal);
      if (chunk === undefined) return WAIT;
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
    }
  }
}
