import { parseArgs } from 'node:util';
import { type Script, splitInto, startFakeModel } from './server.js';

/**
 * Fake model server as a process, for benchmarks:
 *   npx tsx test/fake-model/main.ts --port 0 --ttft-ms 20 --inter-chunk-ms 2 --chunks 16 --text "..."
 * Prints `READY <url>` once listening. Records are served at GET /__fake/streams; scripts can be
 * queued with POST /__fake/enqueue (JSON array of scripts).
 */

const USAGE = `usage: main.ts [--port N] [--ttft-ms N] [--inter-chunk-ms N] [--chunks N] [--text TEXT] [--reject-suffix]
  --chunks N   split --text into N roughly equal pieces (default: one piece per 4 characters)`;

function intOption(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0)
    throw new Error(`--${name} must be a non-negative integer, got "${value}"`);
  return n;
}

async function main() {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      'ttft-ms': { type: 'string' },
      'inter-chunk-ms': { type: 'string' },
      chunks: { type: 'string' },
      text: { type: 'string' },
      'reject-suffix': { type: 'boolean' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const text = values.text ?? '    return a + b;\n';
  const chunkCount = values.chunks === undefined ? undefined : intOption(values.chunks, 'chunks', 1);
  const timing = {
    ttftMs: intOption(values['ttft-ms'], 'ttft-ms', 0),
    interChunkMs: intOption(values['inter-chunk-ms'], 'inter-chunk-ms', 0),
  };
  const script: Script = chunkCount
    ? { ...timing, chunks: splitInto(text, chunkCount) }
    : { ...timing, text };
  const fake = await startFakeModel({
    port: intOption(values.port, 'port', 0),
    rejectSuffix: values['reject-suffix'] ?? false,
    defaultScript: script,
  });
  // Benchmarks run for a long time; unbounded request records would look like a leak in the fake.
  const trim = setInterval(() => {
    if (fake.requests.length > 10_000) fake.requests.splice(0, fake.requests.length - 1000);
  }, 1000);
  trim.unref();
  process.stdout.write(`READY ${fake.url}\n`);
  const stop = () => {
    fake.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n${USAGE}\n`);
  process.exit(2);
});
