import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../../test/support/cli.js';

/** `shenma status` with a FAKE `docker` on PATH (no engine here): what an operator reads. */

const FAKE_DOCKER_DIR = path.resolve('test/support/fake-docker');
const dir = mkdtempSync(path.join(tmpdir(), 'shenma-status-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

beforeAll(async () => {
  writeFileSync(
    path.join(dir, 'shenma.yaml'),
    [
      'publicUrl: http://127.0.0.1:9080',
      'models:',
      '  - { name: coder, kind: openai, url: "http://10.0.0.5:8000/v1", family: qwen2.5-coder }',
      'deploy:',
      '  publishAddress: 127.0.0.1',
    ].join('\n'),
  );
  expect((await cli(['init', '--non-interactive', '--config', path.join(dir, 'shenma.yaml')])).code).toBe(0);
  expect((await cli(['render', '--config', path.join(dir, 'shenma.yaml')])).code).toBe(0);
});

function status(scenario: Record<string, unknown>) {
  writeFileSync(path.join(dir, 'calls.jsonl'), '');
  writeFileSync(path.join(dir, 'scenario.json'), JSON.stringify(scenario));
  return cli(['status', '--config', path.join(dir, 'shenma.yaml')], {
    PATH: `${FAKE_DOCKER_DIR}:${process.env.PATH}`,
    FAKE_DOCKER_LOG: path.join(dir, 'calls.jsonl'),
    FAKE_DOCKER_SCENARIO: path.join(dir, 'scenario.json'),
  });
}

describe('shenma status (fake docker)', () => {
  it('lists each service with its state, health and image, and the version deployed', async () => {
    const r = await status({ publishedPorts: [9080] });
    expect(r.out).toMatch(/^ok {2} postgres +running +healthy +postgres:15\.10-alpine$/m);
    expect(r.out).toMatch(/^ok {2} apisix +running +healthy +apache\/apisix:3\.9\.1-debian$/m);
    expect(r.out).toContain('deployed Shenma version: unknown');
    expect(r.out).toContain('last backup: none (shenma backup)');
  });

  it('names an unhealthy service and exits 1', async () => {
    const r = await status({ unhealthy: 'chat' });
    expect(r.out).toMatch(/^FAIL chat +running +unhealthy +shenma:0\.1\.0$/m);
    expect(r.code).toBe(1);
  });
});
