import { createServer } from 'node:http';
import { type ExtensionBody, floorCompletion } from './floor-work.js';
import { proxyOptions, readJsonBody, serveAsChild } from './serve-child.js';

/**
 * The floor of a completion gateway in Node: the least any server must do that answers the
 * extension's `POST /v2/completions` from an OpenAI-style model, and nothing else. It reads the
 * body and parses it, puts prefix and suffix into a FIM prompt, sends `{prompt, stream: true}`
 * upstream through a keep-alive agent (node:http, as the bare proxy does), decodes the SSE
 * answer and parses each event, and replies with one JSON object holding the text. No
 * validation, credential, limits, filters, metrics or logs.
 *
 * Run as its own process:
 *   node --import tsx bench/lib/floor-proxy.ts --upstream http://127.0.0.1:PORT [--port N]
 * Prints `READY <url>`. Exits when stdin closes, so it never outlives the benchmark.
 *
 * It answers a question the bare proxy cannot: what part of Shenma's CPU per request is the work
 * itself (parsing JSON both ways, building the prompt, reading events) rather than Shenma's
 * own machinery. The bare proxy parses nothing, so no gateway that reads what it forwards can
 * come near it.
 */

let counter = 0;

const opts = proxyOptions();
const server = createServer((req, res) =>
  readJsonBody<ExtensionBody>(req, res, (body) =>
    floorCompletion(opts, body, res, (text) => {
      const reply = JSON.stringify({
        id: `cmpl-${++counter}`,
        object: 'text_completion',
        choices: [{ index: 0, text, finish_reason: 'stop' }],
      });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(reply) });
      res.end(reply);
    }),
  ),
);
serveAsChild(server, opts.port);
