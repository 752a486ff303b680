import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ClientGone } from './client-gone.js';

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

describe('ClientGone', () => {
  it('fires its listener once when the client drops the connection mid-answer', async () => {
    let gone!: ClientGone;
    let calls = 0;
    let fired!: () => void;
    const firedOnce = new Promise<void>((r) => (fired = r));
    const url = await serve((r) => {
      gone = new ClientGone(r);
      gone.addEventListener('abort', () => {
        calls++;
        fired();
      });
      r.write('partial');
    });
    const controller = new AbortController();
    const res = await fetch(url, { signal: controller.signal });
    await res.body!.getReader().read();
    controller.abort();
    await firedOnce;
    await new Promise((r) => setTimeout(r, 20));
    expect(gone.aborted).toBe(true);
    expect(calls).toBe(1);
  });

  it('stays quiet when the answer was complete, and after the listener was removed', async () => {
    const seen: ClientGone[] = [];
    let calls = 0;
    const url = await serve((r) => {
      const gone = new ClientGone(r);
      seen.push(gone);
      const listener = () => calls++;
      gone.addEventListener('abort', listener);
      if (seen.length === 1) r.end('whole');
      else {
        gone.removeEventListener('abort', listener);
        r.write('partial');
      }
    });
    expect(await (await fetch(url)).text()).toBe('whole');
    const controller = new AbortController();
    const res = await fetch(url, { signal: controller.signal });
    await res.body!.getReader().read();
    controller.abort();
    await new Promise((r) => setTimeout(r, 100));
    expect(seen[0]!.aborted).toBe(false);
    expect(seen[1]!.aborted).toBe(true);
    expect(calls).toBe(0);
  });
});
