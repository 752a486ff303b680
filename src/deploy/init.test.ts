import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli } from '../../test/support/cli.js';
import { loadConfigFile } from '../config/load.js';
import { parseDotenv, SECRET_NAMES } from './secrets.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'shenma-init-'));
  dirs.push(d);
  return d;
}

const BASE = [
  'init',
  '--non-interactive',
  '--public-url',
  'https://shenma.example.com',
  '--completion-model-url',
  'http://10.0.0.5:8000/v1',
  '--completion-model',
  'deepseek-coder-6.7b-base',
  '--completion-family',
  'deepseek-coder',
  '--completion-api-key-env',
  'CODER_KEY',
  '--chat-model-url',
  'https://api.deepseek.com/v1',
  '--chat-model',
  'deepseek-chat',
  '--chat-api-key-env',
  'DS_KEY',
];

async function init(dir: string, extra: string[] = []) {
  return cli([...BASE, '--config', path.join(dir, 'shenma.yaml'), ...extra]);
}
const secretsOf = (dir: string) =>
  parseDotenv(readFileSync(path.join(dir, 'shenma.secrets.env'), 'utf8'), 'secrets');

describe('shenma init --non-interactive', () => {
  it('writes a valid config, a 0600 secrets file with every credential, and a .gitignore', async () => {
    const dir = tempDir();
    const r = await init(dir);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const config = loadConfigFile(path.join(dir, 'shenma.yaml'), { CODER_KEY: 'k1', DS_KEY: 'k2' });
    expect(config.publicUrl).toBe('https://shenma.example.com');
    expect(config.models.map((m) => [m.name, m.roles, m.apiKey])).toEqual([
      ['coder', ['completion'], 'k1'],
      ['chat', ['chat'], 'k2'],
    ]);
    // The key itself is never in the file, only the reference.
    expect(readFileSync(path.join(dir, 'shenma.yaml'), 'utf8')).toContain('apiKey: ${CODER_KEY}');
    expect(config.deploy.identity).toBe('keycloak');
    expect(statSync(path.join(dir, 'shenma.secrets.env')).mode & 0o777).toBe(0o600);
    const secrets = secretsOf(dir);
    for (const name of SECRET_NAMES) expect(secrets.get(name)?.length ?? 0).toBeGreaterThanOrEqual(32);
    // No secret value is printed.
    for (const v of secrets.values()) expect(r.out).not.toContain(v);
    const gitignore = readFileSync(path.join(dir, '.gitignore'), 'utf8').split('\n');
    expect(gitignore).toContain('shenma.secrets.env');
    expect(gitignore).toContain('deploy/.env');
  });

  it('re-running keeps every secret and changes only what it is given', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, '.gitignore'), 'node_modules/\n');
    await init(dir);
    const before = secretsOf(dir);
    const yamlBefore = readFileSync(path.join(dir, 'shenma.yaml'), 'utf8');
    writeFileSync(path.join(dir, 'shenma.yaml'), `# my note\n${yamlBefore}`);
    const r = await cli([
      'init',
      '--non-interactive',
      '--config',
      path.join(dir, 'shenma.yaml'),
      '--identity',
      'shenma',
    ]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(new RegExp(`0 generated, ${SECRET_NAMES.length} kept`));
    expect(secretsOf(dir)).toEqual(before);
    const after = readFileSync(path.join(dir, 'shenma.yaml'), 'utf8');
    expect(after).toContain('# my note');
    const config = loadConfigFile(path.join(dir, 'shenma.yaml'), { CODER_KEY: 'a', DS_KEY: 'b' });
    expect(config.deploy.identity).toBe('shenma');
    expect(config.publicUrl).toBe('https://shenma.example.com');
    expect(config.models[0]!.model).toBe('deepseek-coder-6.7b-base');
    const gitignore = readFileSync(path.join(dir, '.gitignore'), 'utf8');
    expect(gitignore.startsWith('node_modules/\n')).toBe(true);
    expect(gitignore.match(/shenma\.secrets\.env/g)).toHaveLength(1);
  });

  it('two installs never share a secret', async () => {
    const a = tempDir();
    const b = tempDir();
    await init(a);
    await init(b);
    const va = [...secretsOf(a).values()];
    const vb = new Set(secretsOf(b).values());
    expect(new Set(va).size).toBe(va.length);
    for (const v of va) expect(vb.has(v)).toBe(false);
  });

  it("refuses a known default credential in the secrets file (APISIX's documented admin key, the seed's password)", async () => {
    for (const bad of ['edd1c9f034335f136f87ad84b625c8f1', 'sf2025~whatever-the-seed-used', 'admin']) {
      const dir = tempDir();
      writeFileSync(path.join(dir, 'shenma.secrets.env'), `APISIX_ADMIN_KEY=${bad}\n`);
      const r = await init(dir);
      expect(r.code).toBe(1);
      expect(r.err).toMatch(/APISIX_ADMIN_KEY in .*shenma\.secrets\.env is a published default credential/);
    }
  });

  it('refuses browser-facing URLs browsers cannot use, with the fix', async () => {
    const dir = tempDir();
    let r = await cli([
      ...BASE,
      '--config',
      path.join(dir, 'shenma.yaml'),
      '--public-url',
      'http://apisix:9080',
    ]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(
      /names "apisix", a compose service only containers resolve.*Use this host's DNS name or IP/,
    );
    r = await cli([
      ...BASE,
      '--config',
      path.join(dir, 'shenma.yaml'),
      '--public-url',
      'http://127.0.0.1:9080',
    ]);
    expect(r.err).toMatch(
      /loopback address, but the entry port is published on 0\.0\.0\.0.*deploy\.publishAddress: 127\.0\.0\.1/,
    );
    r = await cli(['init', '--non-interactive', '--config', path.join(dir, 'shenma.yaml')]);
    expect(r.err).toMatch(/publicUrl is not set/);
    expect(r.code).toBe(1);
  });

  it('names a wrong flag value', async () => {
    const dir = tempDir();
    const r = await init(dir, ['--identity', 'okta']);
    expect(r.err).toMatch(/--identity must be keycloak or shenma, got "okta"/);
    const r2 = await init(dir, ['--completion-api-key-env', 'sk-live-123']);
    expect(r2.err).toMatch(/takes the NAME of an environment variable/);
  });
});
