import { Agent, createServer, request } from 'node:http';
import { parseArgs } from 'node:util';
import { createParser } from 'eventsource-parser';
import { serveAsChild } from './serve-child.js';

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

function main() {
  const { values } = parseArgs({ options: { upstream: { type: 'string' }, port: { type: 'string' } } });
  if (!values.upstream) throw new Error('--upstream is required');
  const upstream = new URL(values.upstream);
  const agent = new Agent({ keepAlive: true, maxSockets: 512, maxFreeSockets: 512 });

  const server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (chunk: Buffer) => parts.push(chunk));
    req.on('end', () => {
      let body: {
        prompt_options?: { prefix?: string; suffix?: string };
        stop?: string[];
        temperature?: number;
      };
      try {
        body = JSON.parse(Buffer.concat(parts).toString('utf8'));
      } catch {
        res.writeHead(400).end();
        return;
      }
      const options = body.prompt_options ?? {};
      const prompt = `<|fim_prefix|>${options.prefix ?? ''}<|fim_suffix|>${options.suffix ?? ''}<|fim_middle|>`;
      const payload = JSON.stringify({
        model: 'coder',
        prompt,
        max_tokens: 256,
        temperature: body.temperature ?? 0.1,
        stop: ['\n', '<|endoftext|>'],
        stream: true,
      });
      let text = '';
      const parser = createParser({
        onEvent(event) {
          if (event.data === '[DONE]') return;
          const parsed = JSON.parse(event.data) as { choices?: { text?: string }[] };
          text += parsed.choices?.[0]?.text ?? '';
        },
      });
      const up = request(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: 'POST',
          path: `${upstream.pathname.replace(/\/+$/, '')}/v1/completions`,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
          agent,
        },
        (ur) => {
          ur.setEncoding('utf8');
          ur.on('data', (chunk: string) => parser.feed(chunk));
          ur.on('end', () => {
            const reply = JSON.stringify({
              id: `cmpl-${++counter}`,
              object: 'text_completion',
              choices: [{ index: 0, text, finish_reason: 'stop' }],
            });
            res.writeHead(200, {
              'content-type': 'application/json',
              'content-length': Buffer.byteLength(reply),
            });
            res.end(reply);
          });
        },
      );
      up.on('error', () => {
        if (!res.headersSent) res.writeHead(502).end();
        else res.destroy();
      });
      // A client that goes away takes the upstream request with it.
      res.on('close', () => {
        if (!res.writableFinished) up.destroy();
      });
      up.end(payload);
    });
  });
  serveAsChild(server, Number(values.port ?? 0));
}

main();
