import { createServer } from 'node:http';
import { createParser } from 'eventsource-parser';
import { postUpstream, proxyOptions, readJsonBody, serveAsChild } from './serve-child.js';

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

const opts = proxyOptions();
const server = createServer((req, res) =>
  readJsonBody<Record<string, unknown>>(req, res, (body) => {
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
    postUpstream(opts, '/v1/chat/completions', payload, res, (ur) => {
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
    });
  }),
);
serveAsChild(server, opts.port);
