import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';

/**
 * Writes an SSE response on Node's raw response, with backpressure: a write that fills the
 * socket buffer waits for 'drain' (or the client leaving), so a slow client slows the upstream
 * read instead of growing memory. Parsing upstream SSE is models/http.ts (eventsource-parser).
 */

export const SSE_HEADERS: OutgoingHttpHeaders = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  // nginx and similar proxies buffer responses unless told not to, which would hold tokens back.
  'x-accel-buffering': 'no',
};

/**
 * What every write returns: nothing when the socket took it all, else a promise that settles on
 * 'drain' or on the client leaving. A caller awaits only a promise: an await of anything costs a
 * turn of the microtask queue, once per batch of a stream.
 */
export type Written = Promise<void> | undefined;

export class SseWriter {
  private committed = false;

  constructor(
    private readonly res: ServerResponse,
    /** Headers set before the stream began (CORS, request id), kept on the committed response. */
    private readonly extraHeaders: OutgoingHttpHeaders = {},
  ) {}

  /** The client is gone (or the response ended): writing more is pointless. */
  get closed(): boolean {
    return this.res.destroyed || this.res.writableEnded;
  }

  /**
   * The status and headers go out with the first write (Node sends them in the same packet), so a
   * stream opens with one system call, not two: the first event is the first thing ready to send.
   */
  private commit(): void {
    if (this.committed) return;
    this.committed = true;
    this.res.writeHead(200, { ...this.extraHeaders, ...SSE_HEADERS });
    // Node builds the header block with `+=` and keeps it for the whole response: a rope of ~40
    // pieces (~1.1 KiB) per open stream. Reading one character flattens it in place (~0.3 KiB).
    const header: unknown = (this.res as { _header?: unknown })._header;
    if (typeof header === 'string') header.charCodeAt(0);
  }

  private write(text: string): Written {
    this.commit();
    if (this.closed || this.res.write(text)) return undefined;
    return new Promise((resolve) => {
      const done = () => {
        this.res.off('drain', done);
        this.res.off('close', done);
        resolve();
      };
      this.res.on('drain', done);
      this.res.on('close', done);
    });
  }

  /** `data: <payload>\n\n`; payloads here are single-line JSON or `[DONE]`. */
  data(payload: string): Written {
    return this.write(`data: ${payload}\n\n`);
  }

  /**
   * Several `data:` events in one socket write: the chunks of one upstream read go out together,
   * so a stream costs one write per read, not one per event. Nothing is written for an empty list.
   */
  dataMany(payloads: readonly string[]): Written {
    if (payloads.length === 0) return undefined;
    if (payloads.length === 1) return this.data(payloads[0]!);
    let text = '';
    for (const p of payloads) text += `data: ${p}\n\n`;
    return this.write(text);
  }

  /** `event: <name>` then `data: <payload>`: the typed events of the Responses and Anthropic APIs. */
  event(name: string, payload: string): Written {
    return this.write(`event: ${name}\ndata: ${payload}\n\n`);
  }

  /** Typed events, one socket write for all of them (as {@link dataMany}). */
  events(list: readonly { type: string }[]): Written {
    if (list.length === 0) return undefined;
    let text = '';
    for (const e of list) text += `event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`;
    return this.write(text);
  }

  /** A comment line: ignored by SSE clients, keeps idle proxies from closing the connection. */
  comment(text: string): Written {
    return this.write(`: ${text}\n\n`);
  }

  /** Ends the response; a last `data:` payload (e.g. `[DONE]`) goes out in the same write. */
  end(lastData?: string): void {
    this.commit();
    if (this.closed) return;
    if (lastData === undefined) this.res.end();
    else this.res.end(`data: ${lastData}\n\n`);
  }
}
