import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ClientGone, signalLink } from './request.js';

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

/** A server whose handler gets the response; resolves with its URL. */
async function serve(handle: (res: ServerResponse) => void): Promise<string> {
  const server = createServer((_req, res) => handle(res));
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Resolves when the response's connection closes (whatever ClientGone made of it). */
const closed = (res: ServerResponse) => new Promise<void>((r) => res.once('close', () => r()));

describe('ClientGone', () => {
  it('tells its listener once when the client drops the connection mid-answer', async () => {
    let gone!: ClientGone;
    let calls = 0;
    let whenClosed!: Promise<void>;
    const url = await serve((r) => {
      gone = new ClientGone(r);
      whenClosed = closed(r);
      gone.onGone(() => calls++);
      r.write('partial');
    });
    const controller = new AbortController();
    const res = await fetch(url, { signal: controller.signal });
    await res.body!.getReader().read();
    controller.abort();
    await whenClosed;
    expect(gone.gone).toBe(true);
    expect(calls).toBe(1);
  });

  it('stays quiet when the answer was complete, and after the listener was removed', async () => {
    const seen: ClientGone[] = [];
    const closes: Promise<void>[] = [];
    let calls = 0;
    const url = await serve((r) => {
      const gone = new ClientGone(r);
      seen.push(gone);
      closes.push(closed(r));
      const off = gone.onGone(() => calls++);
      if (seen.length === 1) r.end('whole');
      else {
        off();
        r.write('partial');
      }
    });
    expect(await (await fetch(url)).text()).toBe('whole');
    const controller = new AbortController();
    const res = await fetch(url, { signal: controller.signal });
    await res.body!.getReader().read();
    controller.abort();
    await closes[1];
    expect(seen[0]!.gone).toBe(false);
    expect(seen[1]!.gone).toBe(true);
    expect(calls).toBe(0);
  });
});

describe('signalLink', () => {
  it('is gone with its signal, tells the listener, and can be unsubscribed', () => {
    const a = new AbortController();
    const link = signalLink(a.signal);
    let calls = 0;
    const off = link.onGone(() => calls++);
    expect(link.gone).toBe(false);
    a.abort();
    expect(link.gone).toBe(true);
    expect(calls).toBe(1);
    const b = new AbortController();
    const other = signalLink(b.signal);
    other.onGone(() => calls++)();
    b.abort();
    expect(calls).toBe(1);
    off();
  });
});
