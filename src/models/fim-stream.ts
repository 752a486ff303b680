import { endedEarly, type Parsed, type PayloadDecoder, type ResponseBody, takeChunk } from './http.js';

const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined };

/**
 * The text pieces of a fill-in-the-middle answer, read straight off the upstream body by one
 * object per request. It replaces a stack of async generators (the body's iterator, payloads,
 * pieces, the backend's own `yield*`), each of which cost a promise and a hop per event: the
 * completion path reads a dozen or more events per request.
 *
 * Same rules as the generators had: events are parsed one at a time, so one that fails to parse
 * fails after the pieces before it were handed out; a lone high surrogate at the end of a piece
 * waits for its pair; the connection is kept when the backend said it was done and closed on
 * every other way out (error, abort, a consumer that stops early); a body that ends before the
 * backend said it was done is a reset.
 */
export class FimPieces implements AsyncIterableIterator<string> {
  private body: ResponseBody | undefined;
  private payloads: string[] = [];
  private at = 0;
  private held = '';
  private saidDone = false;
  private bodyEnded = false;
  private over = false;

  constructor(
    private readonly open: () => Promise<ResponseBody>,
    private readonly signal: AbortSignal,
    private readonly decoder: PayloadDecoder,
    private readonly parse: (payload: string) => Parsed | undefined,
  ) {}

  [Symbol.asyncIterator](): this {
    return this;
  }

  async next(): Promise<IteratorResult<string>> {
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
        while (this.at < this.payloads.length) {
          const parsed = this.parse(this.payloads[this.at++]!);
          if (!parsed) continue;
          if (parsed.done) {
            this.saidDone = true;
            this.finish(true);
          }
          const text = parsed.text ? this.whole(parsed.text) : '';
          if (text) return { value: text, done: false };
          if (this.saidDone) return DONE;
        }
        if (this.bodyEnded) {
          this.signal.throwIfAborted();
          throw endedEarly();
        }
        const chunk = takeChunk(this.body, this.signal);
        if (chunk === undefined) {
          await this.body.readable();
          continue;
        }
        if (chunk === null) {
          this.bodyEnded = true;
          this.payloads = this.decoder.end();
        } else {
          this.payloads = this.decoder.push(chunk);
        }
        this.at = 0;
      }
    } catch (err) {
      this.finish(false);
      throw err;
    }
  }

  async return(): Promise<IteratorResult<string>> {
    this.finish(this.saidDone);
    return DONE;
  }

  /** The piece with a held half character in front; a high surrogate at its end is held back. */
  private whole(piece: string): string {
    let text = this.held + piece;
    this.held = '';
    const last = text.charCodeAt(text.length - 1);
    if (last >= 0xd800 && last <= 0xdbff) {
      this.held = text.slice(-1);
      text = text.slice(0, -1);
    }
    return text;
  }

  private finish(complete: boolean): void {
    if (this.over) return;
    this.over = true;
    this.body?.release(complete);
  }
}
