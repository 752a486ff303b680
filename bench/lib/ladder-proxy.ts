import Fastify, { type FastifyBaseLogger, LogController } from 'fastify';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { extensionInput, extensionV2Body } from '../../src/completion/api/extension-v2.js';
import { extensionReply, newCompletionId } from '../../src/completion/api/shared.js';
import { CompletionCache } from '../../src/completion/cache.js';
import { CompletionEngine } from '../../src/completion/engine.js';
import { completionMetrics } from '../../src/completion/metrics.js';
import { FIM_TEMPLATES, joinParts, renderFimParts } from '../../src/completion/prompt/templates.js';
import { SupersedeRegistry } from '../../src/completion/supersede.js';
import { parseConfig } from '../../src/config/load.js';
import { useDepthLimitedJson } from '../../src/http/json-body.js';
import { clientLink, parseJsonBody } from '../../src/http/request.js';
import { requestIdGenerator } from '../../src/http/request-id.js';
import { createBackend, ModelRegistry, modelMetrics } from '../../src/models/index.js';
import { loggerOptions } from '../../src/observability/logger.js';
import { type ExtensionBody, floorCompletion, LADDER_RUNGS, type LadderRung } from './floor-work.js';
import { proxyOptions, serveAsChild } from './serve-child.js';

/**
 * The rungs between the floor and Shenma (`bench:completion --ladder`): the same extension request
 * answered by a server that adds one of Shenma's own layers per rung, so the run shows which layer
 * costs what. Each rung is this file with `--rung`:
 *
 *   fastify  the floor's work (bench/lib/floor-proxy.ts) inside a Fastify app set up as Shenma's
 *            is: its logger at warn, request ids, its depth-limited JSON body parser
 *   client   + Shenma's model client: the OpenAI backend's `streamFim` (undici dispatcher, SSE
 *            decoding, one parse per event) with the prompt in the model family's template
 *            (deepseek-coder, as the benchmark's Shenma uses)
 *   engine   + Shenma's completion engine (`CompletionEngine.complete`: model choice, rules, the
 *            prompt budget, the replica pool and resilient call, the stop detector, the filters,
 *            its metrics) and the extension's reply, validated as Shenma validates it
 *
 * What Shenma adds beyond `engine` is the rest of its server: credentials, rate limits, the
 * access log and HTTP metrics, the usage ledger, the other roles' routes.
 *
 * Run as its own process:
 *   node --import tsx bench/lib/ladder-proxy.ts --upstream http://127.0.0.1:PORT --rung engine
 * Prints `READY <url>`. Exits when stdin closes.
 */

const rungArg = process.argv[process.argv.indexOf('--rung') + 1];
if (!LADDER_RUNGS.includes(rungArg as LadderRung))
  throw new Error(`--rung must be one of ${LADDER_RUNGS.join(', ')}`);
const rung = rungArg as LadderRung;
// proxyOptions parses the shared options strictly; --rung is this file's own.
process.argv.splice(process.argv.indexOf('--rung'), 2);
const opts = proxyOptions();

const DEEPSEEK = FIM_TEMPLATES['deepseek-coder'];
const config = parseConfig({
  models: [
    {
      name: 'coder',
      kind: 'openai',
      url: `${opts.upstream.origin}/v1`,
      family: 'deepseek-coder',
      maxQueue: 256,
    },
  ],
  completion: { cache: { maxEntries: 0 } },
});
const registry = new Registry();
const models = new ModelRegistry(
  config.models,
  (m) => createBackend(m.kind, { url: m.url }),
  modelMetrics(registry),
);
const backend = createBackend('openai', { url: `${opts.upstream.origin}/v1` });
const engine = new CompletionEngine({
  config: config.completion,
  models,
  cache: new CompletionCache(0, 1000),
  supersede: new SupersedeRegistry(),
  metrics: completionMetrics(registry),
  logCode: false,
});

const app = Fastify({
  loggerInstance: pino(loggerOptions('warn')) as FastifyBaseLogger,
  logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'requestId' }),
  bodyLimit: 64 * 1024,
  requestIdHeader: false,
  genReqId: requestIdGenerator(),
});
useDepthLimitedJson(app);

app.post('/v2/completions', (req, reply) => {
  if (rung === 'engine') {
    const body = parseJsonBody(extensionV2Body, req.body);
    engine
      .complete({
        api: 'v2',
        requestId: req.id,
        input: extensionInput(body),
        strictModel: false,
        client: clientLink(reply),
        log: req.log,
      })
      .then(
        (outcome) => reply.send(extensionReply(newCompletionId(), outcome, false)),
        (err: unknown) => reply.code(502).send({ error: String(err) }),
      );
    return reply;
  }
  const options = (req.body as ExtensionBody).prompt_options ?? {};
  const temperature = (req.body as ExtensionBody).temperature ?? 0.1;
  const answer = (text: string) =>
    reply.send({
      id: newCompletionId(),
      object: 'text_completion',
      choices: [{ index: 0, text, finish_reason: 'stop' }],
    });
  if (rung === 'client') {
    const promptParts = renderFimParts(DEEPSEEK, options.prefix ?? '', options.suffix ?? '');
    // A client that leaves takes the upstream request with it, as in every other target.
    const left = new AbortController();
    clientLink(reply).onGone(() => left.abort());
    const stream = backend.streamFim(
      {
        model: 'coder',
        prompt: joinParts(promptParts),
        promptParts,
        maxTokens: 256,
        temperature,
        stop: ['\n', ...DEEPSEEK.stop],
      },
      left.signal,
    );
    (async () => {
      let text = '';
      for await (const piece of stream) text += piece;
      answer(text);
    })().catch((err: unknown) => reply.code(502).send({ error: String(err) }));
    return reply;
  }
  // fastify: the floor's own work, unchanged.
  floorCompletion(opts, req.body as ExtensionBody, reply.raw, answer);
  return reply;
});

await app.ready();
serveAsChild(app.server, opts.port);
