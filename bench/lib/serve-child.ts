import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * How the benchmark's own proxies run as child processes: listen on loopback, print
 * `READY <url>` for the parent, and exit when told to or when stdin closes, so a proxy never
 * outlives the benchmark that started it.
 */
export function serveAsChild(server: Server, port: number): void {
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.listen(port, '127.0.0.1', () => {
    const { port: bound } = server.address() as AddressInfo;
    process.stdout.write(`READY http://127.0.0.1:${bound}\n`);
  });
  const stop = () => {
    server.closeAllConnections();
    server.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 1000).unref();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  process.stdin.on('end', stop);
  process.stdin.on('error', stop);
  process.stdin.resume();
}
