import { endedEarly, type Parsed, type PayloadDecoder, type ResponseBody, takeChunk } from './http.js';
import { DONE, UpstreamIterator, WAIT } from './upstream-iterator.js';

/**
 * The text pieces of a fill-in-the-middle answer, one per event that carries text.
 *
 * Events are parsed one at a time, so one that fails to parse fails after the pieces before it
 * were handed out; a lone high surrogate at the end of a piece waits for its pair; a body that
 * ends before the backend said it was done is a reset.
 */
export class FimPieces extends UpstreamIterator<string> {
  private payloads: string[] = [];
  private at = 0;
  private held = '';
  private bodyEnded = false;

  constructor(
    open: () => Promise<ResponseBody>,
    signal: AbortSignal,
    decoder: PayloadDecoder,
    private readonly parse: (payload: string) => Parsed | undefined,
  ) {
    super(open, signal, decoder);
  }

  protected step(body: ResponseBody): IteratorResult<string> | typeof WAIT {
    for (;;) {
      if (this.finished) return DONE;
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
      const chunk = takeChunk(body, this.signal);
      if (chunk === undefined) return WAIT;
      if (chunk === null) {
        this.bodyEnded = true;
        this.payloads = this.decoder.end();
      } else {
        this.payloads = this.decoder.push(chunk);
      }
      this.at = 0;
    }
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
}
