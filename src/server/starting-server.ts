import { createServer } from 'node:http';

/**
 * Holds the port while the server starts (the embedded database can take a while on first
 * start): /healthz says the process is alive, every other path 503 with Retry-After. Closed just
 * before the real server listens on the same port.
 */
export async function startStartingServer(host: string, port: number): Promise<{ close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') {
      // Never kept alive: this server closes when the real one takes the port, and a client that
      // reused the idle connection would get ECONNRESET from the first request after start-up.
      res
        .writeHead(200, { 'content-type': 'application/json', connection: 'close' })
        .end('{"status":"starting"}');
      return;
    }
    res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '2', connection: 'close' }).end(
      JSON.stringify({
        error: { type: 'model_unavailable', message: 'Shenma is starting; try again in a moment' },
      }),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  let closed: Promise<void> | undefined;
  return {
    close: () => {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}
