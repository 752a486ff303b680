import { Counter, Histogram, Registry } from 'prom-client';
import { extensionV2Body, extensionV2Schema } from '../src/completion/api/extension-v2.js';
import { FIM_TEMPLATES, joinParts, renderFimParts } from '../src/completion/prompt/templates.js';
import { sseDecoder } from '../src/models/http.js';
import { jsonWithTextPieces } from '../src/models/json-pieces.js';
import { extensionBody } from '../test/support/extension-body.js';
import { median } from './lib/stats.js';

/**
 * `npm run bench:hot-path`: CPU cost of single hot-path pieces, in isolation, per unit of work
 * (process.cpuUsage, so a busy machine slows the wall clock but not the count much). It bounds
 * what a change to one piece can move in bench:chat / bench:completion: a piece that costs 1 µs
 * per chunk cannot move a CPU-per-chunk ratio measured in tens of µs by more than that.
 *
 * - sse-decode: models/http.ts sseDecoder over the fake model's chat stream (role, 50 content
 *   chunks, finish, usage, [DONE]), fed one network read per event as the fake writes them.
 * - metrics: the completion path's prom-client updates per request (a phase histogram × 4, a
 *   request counter), labelled at each call vs children bound once.
 * - upstream FIM body: the deepseek-coder prompt around the same 8.6 KB prefix, made into the
 *   bytes sent to the model: as one string (`JSON.stringify`, then UTF-8) vs in pieces
 *   (models/json-pieces.ts), which keeps the code a one-byte string.
 * - body parse: the /v2/completions body as the extension sends it (8.6 KB prefix), through zod's
 *   interpreter (the schema as written) vs the compiled schema the handler uses (z.compile's
 *   generated parser); and a refused body, which the compiled schema hands to the interpreter.
 */

const ROUNDS = 7;
const cpuUs = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

function measure(name: string, unitsPerIteration: number, iterations: number, fn: () => void) {
  for (let i = 0; i < Math.min(iterations, 2000); i++) fn(); // JIT warm-up
  const perUnit: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = cpuUs();
    for (let i = 0; i < iterations; i++) fn();
    perUnit.push((cpuUs() - t0) / (iterations * unitsPerIteration));
  }
  return { name, usPerUnit: median(perUnit), min: Math.min(...perUnit), max: Math.max(...perUnit) };
}

const chunk = (delta: object) =>
  `data: ${JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: 'assistant', choices: [{ index: 0, delta, finish_reason: null }] })}\n\n`;
const EVENTS = [
  chunk({ role: 'assistant', content: '' }),
  ...Array.from({ length: 50 }, (_, i) => chunk({ content: ` w${String(i).padStart(3, '0')}` })),
  chunk({}),
  'data: {"choices":[],"usage":{"prompt_tokens":30,"completion_tokens":50}}\n\n',
  'data: [DONE]\n\n',
].map((s) => Buffer.from(s));

const results = [
  measure('sse-decode: one event per read (µs/event)', EVENTS.length, 2000, () => {
    const d = sseDecoder();
    for (const b of EVENTS) d.push(b);
    d.end();
  }),
  measure('sse-decode: whole stream in one read (µs/event)', EVENTS.length, 2000, () => {
    const d = sseDecoder();
    d.push(Buffer.concat(EVENTS));
    d.end();
  }),
];

const registry = new Registry();
const phase = new Histogram({
  name: 'phase_seconds',
  help: 'h',
  labelNames: ['phase', 'model'] as const,
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [registry],
});
const requests = new Counter({
  name: 'requests_total',
  help: 'c',
  labelNames: ['api', 'status', 'reason'] as const,
  registers: [registry],
});
results.push(
  measure('metrics labelled per call (µs/request)', 1, 50_000, () => {
    for (const p of ['queue', 'prompt', 'first_token', 'total'])
      phase.observe({ phase: p, model: 'coder' }, 0.01);
    requests.inc({ api: 'v2', status: '200', reason: 'ok' });
  }),
);
const bound = {
  queue: phase.labels({ phase: 'queue', model: 'coder' }),
  prompt: phase.labels({ phase: 'prompt', model: 'coder' }),
  first_token: phase.labels({ phase: 'first_token', model: 'coder' }),
  total: phase.labels({ phase: 'total', model: 'coder' }),
  ok: requests.labels({ api: 'v2', status: '200', reason: 'ok' }),
};
results.push(
  measure('metrics with pre-bound children (µs/request)', 1, 50_000, () => {
    bound.queue.observe(0.01);
    bound.prompt.observe(0.01);
    bound.first_token.observe(0.01);
    bound.total.observe(0.01);
    bound.ok.inc();
  }),
);

const PREFIX = 'import os\n\ndef home():\n'.padEnd(8600, '# line of code\n');
const v2Body = extensionBody(PREFIX, '\n\nprint(home())\n');
// Fresh objects from JSON.parse, as the route gets them: one reused object measures a warmer cache.
const v2Json = JSON.stringify(v2Body);
const v2Bodies = Array.from({ length: 256 }, () => JSON.parse(v2Json) as unknown);
const refusedJson = JSON.stringify({ ...v2Body, temperature: 3 });
const refusedBodies = Array.from({ length: 256 }, () => JSON.parse(refusedJson) as unknown);
for (const [schema, body, valid] of [
  [extensionV2Schema, v2Bodies[0], true],
  [extensionV2Body, v2Bodies[0], true],
  [extensionV2Body, refusedBodies[0], false],
] as const) {
  if (schema.safeParse(body).success !== valid) throw new Error('a bench body parses unexpectedly');
}
const parseAll = (schema: typeof extensionV2Schema, bodies: unknown[]) => () => {
  for (const b of bodies) schema.safeParse(b);
};
results.push(
  measure(
    'v2 body (8.6 KB prefix): zod interpreter (µs/body)',
    256,
    200,
    parseAll(extensionV2Schema, v2Bodies),
  ),
  measure('v2 body (8.6 KB prefix): compiled (µs/body)', 256, 200, parseAll(extensionV2Body, v2Bodies)),
  measure('v2 body refused: zod interpreter (µs/body)', 256, 200, parseAll(extensionV2Schema, refusedBodies)),
  measure(
    'v2 body refused: compiled, then interpreter (µs/body)',
    256,
    200,
    parseAll(extensionV2Body, refusedBodies),
  ),
);

const DEEPSEEK = FIM_TEMPLATES['deepseek-coder'];
const SUFFIX = '\n\nprint(home())\n';
const fimFields = {
  model: 'coder',
  max_tokens: 256,
  temperature: 0.1,
  stop: ['\n', ...DEEPSEEK.stop],
  stream: true,
};
// A fresh prefix per body, as each request brings its own text (no string the JIT has seen flattened).
const prefixes = Array.from({ length: 64 }, (_, i) =>
  `${PREFIX.slice(0, -8)}x${i}\n`.padEnd(PREFIX.length, '#'),
);
const oneString = (prefix: string) =>
  Buffer.from(JSON.stringify({ ...fimFields, prompt: joinParts(renderFimParts(DEEPSEEK, prefix, SUFFIX)) }));
const inPieces = (prefix: string) =>
  jsonWithTextPieces(fimFields, 'prompt', renderFimParts(DEEPSEEK, prefix, SUFFIX));
if (
  JSON.stringify(JSON.parse(oneString(PREFIX).toString())) !==
  JSON.stringify(JSON.parse(inPieces(PREFIX).toString()))
)
  throw new Error('the two upstream bodies differ');
results.push(
  measure('upstream FIM body: one string (µs/body)', 64, 300, () => {
    for (const p of prefixes) oneString(p);
  }),
  measure('upstream FIM body: in pieces (µs/body)', 64, 300, () => {
    for (const p of prefixes) inPieces(p);
  }),
);

process.stdout.write(`\nHot-path pieces, CPU per unit, median of ${ROUNDS} rounds (min–max)\n\n`);
for (const r of results)
  process.stdout.write(
    `${r.name.padEnd(52)} ${r.usPerUnit.toFixed(3).padStart(8)}  (${r.min.toFixed(3)}–${r.max.toFixed(3)})\n`,
  );
