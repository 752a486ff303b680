#!/usr/bin/env -S node --no-memory-reducer --no-allocation-site-pretenuring --max-semi-space-size=16
// The CLI runs from the compiled output; `npm ci` builds it through the `prepare` script.
// --no-memory-reducer: when a server sits idle for a minute, V8's memory reducer shrinks its heap,
// and the first seconds of load after it cost 2-4x the CPU and twice the latency (bench/README.md,
// "Idle decay"). --no-allocation-site-pretenuring: V8 otherwise moves per-request objects straight
// to the old generation under load, and they keep every request's code alive through young
// collections ("V8's pretenuring"). --max-semi-space-size=16: Node 24 doubled the young generation and
// with it the server's peak memory; this keeps Node 20's and 22's size. The list is
// src/server/node-flags.ts; the image's ENTRYPOINT passes it too.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/cli/run.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write('shenma: dist/ is missing; run `npm run build` (npm ci does it for you).\n');
  process.exit(1);
}
await import(entry.href);
