import type { ServerResponse } from 'node:http';

/**
 * What the chat service needs to hear about the client: whether it left, and one listener to tell
 * when it does. An AbortSignal fits; {@link ClientGone} is the cheaper one for HTTP answers.
 */
export interface ClientSignal {
  readonly aborted: boolean;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/**
 * The client dropping the connection before its answer was complete. It lives as long as the
 * answer streams, so it is a flag and one listener: an AbortController per request holds an
 * EventTarget with two Maps and a shape of its own (about 0.8 KiB per open stream).
 */
export class ClientGone implements ClientSignal {
  aborted = false;
  private listener: (() => void) | undefined;

  constructor(res: ServerResponse) {
    res.once('close', () => {
      if (res.writableFinished) return;
      this.aborted = true;
      const listener = this.listener;
      this.listener = undefined;
      listener?.();
    });
  }

  /** One listener at a time (the service's); it is called at most once. */
  addEventListener(_type: 'abort', listener: () => void): void {
    this.listener = listener;
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    if (this.listener === listener) this.listener = undefined;
  }
}
