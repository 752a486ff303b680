import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CliIO } from './io.js';
import { main } from './main.js';

function captureIO(): { io: CliIO; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return {
    io: { out: (t) => out.push(t), err: (t) => err.push(t), env: {}, stdin: async () => '' },
    out,
    err,
  };
}

let dir: string;
let configFile: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shenma-render-'));
  configFile = join(dir, 'shenma.yaml');
  await writeFile(
    configFile,
    'publicUrl: https://code.example.com\nidentity:\n  issuer: https://code.example.com/realms/gw\n  clientSecret: s3cret-for-test\n',
  );
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('shenma render keycloak-realm', () => {
  it('prints the realm JSON on stdout', async () => {
    const { io, out, err } = captureIO();
    expect(await main(['render', 'keycloak-realm', '--config', configFile], io)).toBe(0);
    const realm = JSON.parse(out.join('\n'));
    expect(realm.realm).toBe('gw');
    expect(realm.clients[0].redirectUris[0]).toBe('https://code.example.com/login/ok');
    expect(err).toEqual([]);
  });

  it('writes --out with mode 0600 (the file holds the client secret), also over an existing file', async () => {
    const out = join(dir, 'realm.json');
    await writeFile(out, 'old', { mode: 0o644 });
    const { io, err } = captureIO();
    expect(await main(['render', 'keycloak-realm', '--config', configFile, '--out', out], io)).toBe(0);
    expect((await stat(out)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(out, 'utf8')).clients[0].secret).toBe('s3cret-for-test');
    expect(err).toEqual([`wrote ${out} (mode 0600)`]);
  });

  it('notes when identity.issuer does not match the realm it renders', async () => {
    const other = join(dir, 'embedded.yaml');
    await writeFile(other, 'publicUrl: http://10.0.0.1:9080\n');
    const { io, err } = captureIO();
    expect(await main(['render', 'keycloak-realm', '--config', other], io)).toBe(0);
    expect(err[0]).toMatch(
      /^note: tokens from this realm have issuer http:\/\/10\.0\.0\.1:9080\/realms\/gw;/,
    );
  });

  it('renders without the model API keys set: they play no part in the realm', async () => {
    const withKeys = join(dir, 'with-keys.yaml');
    await writeFile(
      withKeys,
      [
        'publicUrl: https://code.example.com',
        'models:',
        '  - { name: coder, url: "http://10.0.0.5:8000/v1", family: deepseek-coder, apiKey: "${CODER_KEY_NOT_SET}" }',
        '',
      ].join('\n'),
    );
    const { io, out } = captureIO();
    expect(await main(['render', 'keycloak-realm', '--config', withKeys], io)).toBe(0);
    expect(JSON.parse(out.join('\n')).realm).toBe('gw');
    expect(out.join('\n')).not.toContain('unused-by-the-realm');
  });

  it('refuses an unknown target with usage (exit 2)', async () => {
    const { io, err } = captureIO();
    expect(await main(['render', 'nginx'], io)).toBe(2);
    expect(err[0]).toMatch(/^shenma render: unknown target "nginx"/);
  });
});
