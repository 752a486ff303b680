import { createServer, type IncomingHttpHeaders, type OutgoingHttpHeaders, request } from 'node:http';
import { proxyOptions, serveAsChild } from './serve-child.js';

/**
 * The baseline "what does any Node reverse proxy cost": node:http in, node:http out through a
 * keep-alive agent, bodies piped both ways, nothing parsed. Run as its own process:
 *   node --import tsx bench/lib/node-proxy.ts --upstream http://127.0.0.1:PORT [--port N] [--max-sockets N]
 * (--max-sockets: the keep-alive agent's upstream connection cap, default 512.)
 * Prints `READY <url>`. Exits when stdin closes, so it never outlives the benchmark.
 */

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
]);

function endToEnd(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
  return out;
}

function main() {
  const { upstream, port, agent } = proxyOptions();

  const server = createServer((req, res) => {
    const up = request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: endToEnd(req.headers),
        agent,
      },
      (ur) => {
        res.writeHead(ur.statusCode ?? 502, endToEnd(ur.headers));
        ur.pipe(res);
      },
    );
    up.on('error', () => {
      if (!res.headersSent) {
        res.writeHead(502, { 'content-type': 'text/plain' });
        res.end('bad gateway');
      } else res.destroy();
    });
    // A client that goes away takes the upstream request with it.
    res.on('close', () => {
      if (!res.writableFinished) up.destroy();
    });
    req.pipe(up);
  });
  serveAsChild(server, port);
}

main();
