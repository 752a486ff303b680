import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { takeChunk } from './http.js';
import { UpstreamResponse } from './upstream-response.js';

/**
 * The upstream answer read straight off undici's dispatcher, against a real HTTP server: a slow
 * reader pauses the socket instead of queueing without bound, and how the reader lets go decides
 * whether the connection is kept.
 */

let server: Server;
let url: string;
let pool: Pool;
let handle: (res: ServerResponse, remotePort: number) => void;
const never = new AbortController().signal;

beforeAll(async () => {
  server = createServer((req, res) => handle(res, req.socket.remotePort ?? 0));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  pool = new Pool(url);
});
afterAll(async () => {
  await pool.close();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

/** The next chunk, waiting for it when nothing has arrived yet; null at the end. */
async function nextChunk(body: UpstreamResponse, signal: AbortSignal): Promise<Buffer | null> {
  for (;;) {
    const chunk = takeChunk(body, signal);
    if (chunk !== undefined) return chunk;
    await body.readable();
  }
}

const get = (signal = never, via: Pool = pool) =>
  UpstreamResponse.send(via, { method: 'GET', path: '/' }, signal);

describe('UpstreamResponse', () => {
  it('hands out nothing more once its signal aborted, even bytes already queued', async () => {
    handle = (res) => {
      res.writeHead(200);
      res.write('first');
      res.write('second');
      // The answer stays open: only the abort can end it.
    };
    const controller = new AbortController();
    const body = await get(controller.signal);
    // Wait until bytes are queued, then give up on the answer without reading them.
    while (body.buffered === 0) await body.readable();
    controller.abort(new Error('the client left'));
    expect(() => takeChunk(body, controller.signal)).toThrow('the client left');
  });

  it('pauses the socket for a slow reader and still delivers every byte', async () => {
    const total = 8 * 1024 * 1024;
    handle = (res) => {
      res.writeHead(200);
      const block = Buffer.alloc(64 * 1024, 0x61);
      let sent = 0;
      const pump = () => {
        while (sent < total) {
          sent += block.length;
          if (!res.write(block)) {
            res.once('drain', pump);
            return;
          }
        }
        res.end();
      };
      pump();
    };
    const response = await get();
    let received = 0;
    let mostBuffered = 0;
    for (;;) {
      const chunk = await nextChunk(response, never);
      if (chunk === null) break;
      received += chunk.length;
      mostBuffered = Math.max(mostBuffered, response.buffered);
      // A reader slower than the network: the sender must feel it.
      if (received < total / 2) await new Promise((r) => setImmediate(r));
    }
    response.release(true);
    expect(received).toBe(total);
    // Paused at 256 KiB: what piles up is that plus what was already on its way, not megabytes.
    expect(mostBuffered).toBeLessThan(1024 * 1024);
  });

  it('keeps the connection when released after the backend said it was done, closes it otherwise', async () => {
    const ports: number[] = [];
    handle = (res, port) => {
      ports.push(port);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: done\n\n');
      // The rest (here, the end of the chunked body) follows a moment later.
      setTimeout(() => res.end(), 20);
    };
    // One connection: a request can only reuse the previous one's socket or open a new one.
    const single = new Pool(url, { connections: 1 });
    const first = await get(never, single);
    expect((await nextChunk(first, never))?.toString()).toBe('data: done\n\n');
    // One connection: the next request waits for this one to be free, or gets a new socket.
    first.release(true);
    const second = await get(never, single);
    await nextChunk(second, never);
    second.release(false);
    const third = await get(never, single);
    await nextChunk(third, never);
    third.release(true);
    await single.close();
    expect(ports[1]).toBe(ports[0]);
    expect(ports[2]).not.toBe(ports[1]);
  });

  it('drops the connection when the rest of a finished answer never comes', async () => {
    let closedAt = 0;
    let serverClosed!: Promise<void>;
    handle = (res) => {
      res.writeHead(200);
      res.write('data: done\n\n');
      serverClosed = new Promise((r) =>
        res.on('close', () => {
          closedAt = performance.now();
          r();
        }),
      );
    };
    const response = await get();
    await nextChunk(response, never);
    const releasedAt = performance.now();
    response.release(true);
    // The server sees the connection dropped (the test times out if it never is), and not at once.
    await serverClosed;
    expect(closedAt - releasedAt).toBeGreaterThanOrEqual(900);
  });

  it("throws the signal's reason, whether it fires before the answer or during it", async () => {
    handle = (res) => {
      res.writeHead(200);
      res.write('a');
    };
    const early = new Error('gone before the answer');
    await expect(get(AbortSignal.abort(early))).rejects.toBe(early);

    const controller = new AbortController();
    const response = await get(controller.signal);
    await nextChunk(response, controller.signal);
    const late = new Error('gone mid-answer');
    controller.abort(late);
    await expect(nextChunk(response, controller.signal)).rejects.toBe(late);
  });
});
