import { afterAll, describe, expect, it } from 'vitest';
import { type FakeModel, startFakeModel } from './fake-model/server.js';
import { prometheusBinary, type RunningPrometheus, startPrometheus } from './support/prometheus.js';
import { extensionBody, startTestShenma, type TestShenma } from './support/shenma.js';

/**
 * A real Prometheus scrapes Shenma's /metrics: the exposition parses, and the completion series
 * an operator graphs (requests by reason, phase histograms, filter hits) arrive with their labels.
 */

const binary = prometheusBinary();
if (!binary) console.warn('[skipped] metrics.prometheus: no prometheus binary (apt-get install prometheus)');

let fake: FakeModel | undefined;
let shenma: TestShenma | undefined;
let prom: RunningPrometheus | undefined;

afterAll(async () => {
  await prom?.stop();
  await shenma?.close();
  await fake?.close();
});

describe.skipIf(!binary)('Prometheus scraping /metrics', () => {
  it('sees completion requests by reason and the phase histograms', async () => {
    fake = await startFakeModel({ defaultScript: { chunks: ['a + b'] } });
    shenma = await startTestShenma({
      models: [{ name: 'coder', kind: 'openai', url: `${fake.url}/v1`, family: 'deepseek-coder' }],
    });
    for (let i = 0; i < 3; i++) {
      await shenma.post(
        '/v2/completions',
        extensionBody(`def f${i}(a, b):\n    return `, '\n', { completion_id: undefined }),
      );
    }
    await shenma.post('/v2/completions', extensionBody('    total = compute', 'Sum()\n'));
    prom = await startPrometheus(binary!, [new URL(shenma.url).host]);

    const byReason = await prom.query(
      'sum by (reason) (shenma_completion_requests_total)',
      (r) => r.length >= 2,
    );
    const counts = Object.fromEntries(byReason.map((s) => [s.metric.reason, Number(s.value[1])]));
    expect(counts).toEqual({ model: 3, 'rejected:insideWord': 1 });

    const firstToken = await prom.query(
      'shenma_completion_phase_seconds_count{phase="first_token",model="coder"}',
      (r) => r.length === 1,
    );
    expect(Number(firstToken[0]!.value[1])).toBe(3);
    const up = await prom.query('up', (r) => r.length === 1 && r[0]!.value[1] === '1');
    expect(up[0]!.value[1]).toBe('1');
  });
});
