import { Agent, createServer, request } from 'node:http';
import { parseArgs } from 'node:util';
import { createParser } from 'eventsource-parser';
import { serveAsChild } from './serve-child.js';

/**
 * The floor of a streaming chat gateway in Node: the least any server must do that reads what it
 * forwards. It parses the request body, sends it upstream with streaming and usage forced
 * (node:http, keep-alive), decodes the SSE answer and parses every event (a gateway needs the
 * usage for its ledger and the text for its filters), and writes the events of one network read
 * in one write, then `[DONE]`. No validation, credential, limits, filters, metrics or logs.
 *
 *   node --import tsx bench/lib/chat-floor-proxy.ts --upstream http://127.0.0.1:PORT [--port N] [--max-sockets N]
 * Prints `READY <url>`. Exits when stdin closes.
 */

function main() {
  const { values } = parseArgs({
    options: { upstream: { type: 'string' }, port: { type: 'string' }, 'max-sockets': { type: 'string' } },
  });
  if (!values.upstream) throw new Error('--upstream is required');
  const upstream = new URL(values.upstream);
  const maxSockets = Number(values['max-sockets'] ?? 512);
  const agent = new Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });

  const server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (chunk: Buffer) => parts.push(chunk));
    req.on('end', () => {
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(Buffer.concat(parts).toString('utf8'));
      } catch {
        res.writeHead(400).end();
        return;
      }
      const payload = JSON.stringify({ ...body, stream: true, stream_options: { include_usage: true } });
      let answerChars = 0;
      let batch = '';
      const parser = createParser({
        onEvent(event) {
          if (event.data === '[DONE]') return;
          const chunk = JSON.parse(event.data) as { choices?: { delta?: { content?: string } }[] };
          // What a ledger or an output filter reads from each event.
          answerChars += chunk.choices?.[0]?.delta?.content?.length ?? 0;
          batch += `data: ${event.data}\n\n`;
        },
      });
      const up = request(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: 'POST',
          path: '/v1/chat/completions',
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
          agent,
        },
        (ur) => {
          res.writeHead(ur.statusCode ?? 502, {
            'content-type': 'text/event-stream',
            'cache-control': 'no-cache',
          });
          ur.setEncoding('utf8');
          ur.on('data', (text: string) => {
            parser.feed(text);
            if (batch) {
              res.write(batch);
              batch = '';
            }
          });
          // The count stands in for the ledger row a gateway writes (an SSE comment: clients skip it).
          ur.on('end', () => res.end(`: answered ${answerChars} characters\n\ndata: [DONE]\n\n`));
        },
      );
      up.on('error', () => {
        if (!res.headersSent) res.writeHead(502).end();
        else res.destroy();
      });
      res.on('close', () => {
        if (!res.writableFinished) up.destroy();
      });
      up.end(payload);
    });
  });
  serveAsChild(server, Number(values.port ?? 0));
}

main();
