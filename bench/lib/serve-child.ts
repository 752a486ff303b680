import { Agent, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';

/**
 * What the benchmark's own proxies (bare, completion floor, chat floor) share: their options, a
 * keep-alive agent to the fake model, a JSON body read, an upstream POST that is dropped with its
 * client, and how they run as child processes.
 */

export interface ProxyOptions {
  upstream: URL;
  port: number;
  agent: Agent;
}

/** `--upstream URL [--port N] [--max-sockets N]` (max sockets: the agent's upstream connection cap, default 512). */
export function proxyOptions(): ProxyOptions {
  const { values } = parseArgs({
    options: { upstream: { type: 'string' }, port: { type: 'string' }, 'max-sockets': { type: 'string' } },
  });
  if (!values.upstream) throw new Error('--upstream is required');
  const maxSockets = Number(values['max-sockets'] ?? 512);
  if (!Number.isInteger(maxSockets) || maxSockets < 1)
    throw new Error('--max-sockets must be a positive integer');
  return {
    upstream: new URL(values.upstream),
    port: Number(values.port ?? 0),
    agent: new Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets }),
  };
}

/** Reads and parses the request's JSON body; a body that is not JSON gets a 400. */
export function readJsonBody<T>(req: IncomingMessage, res: ServerResponse, then: (body: T) => void): void {
  const parts: Buffer[] = [];
  req.on('data', (chunk: Buffer) => parts.push(chunk));
  req.on('end', () => {
    let body: T;
    try {
      body = JSON.parse(Buffer.concat(parts).toString('utf8')) as T;
    } catch {
      res.writeHead(400).end();
      return;
    }
    then(body);
  });
}

/** POSTs a JSON payload upstream; an upstream failure is a 502, a client that leaves takes the request with it. */
export function postUpstream(
  opts: ProxyOptions,
  path: string,
  payload: string,
  res: ServerResponse,
  onResponse: (upstreamResponse: IncomingMessage) => void,
): void {
  const up = request(
    {
      host: opts.upstream.hostname,
      port: opts.upstream.port,
      method: 'POST',
      path,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      agent: opts.agent,
    },
    onResponse,
  );
  up.on('error', () => {
    if (!res.headersSent) res.writeHead(502).end();
    else res.destroy();
  });
  res.on('close', () => {
    if (!res.writableFinished) up.destroy();
  });
  up.end(payload);
}

/**
 * Listens on loopback, prints `READY <url>` for the parent, and exits when told to or when stdin
 * closes, so a proxy never outlives the benchmark that started it.
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
