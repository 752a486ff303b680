import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../../test/support/cli.js';
import { parseDotenv } from './secrets.js';

/**
 * backup, restore, down and logs against a FAKE `docker` executable on PATH (no Docker engine
 * here) that records every call; the etcd snapshot itself is tested on real etcd (etcd.test.ts).
 */

const FAKE_DOCKER_DIR = path.resolve('test/support/fake-docker');
const dir = mkdtempSync(path.join(tmpdir(), 'shenma-backup-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const config = path.join(dir, 'shenma.yaml');
const logFile = path.join(dir, 'calls.jsonl');
const scenarioFile = path.join(dir, 'scenario.json');

async function run(argv: string[]) {
  writeFileSync(logFile, '');
  const r = await cli([...argv, '--config', config], {
    PATH: `${FAKE_DOCKER_DIR}:${process.env.PATH}`,
    FAKE_DOCKER_LOG: logFile,
    FAKE_DOCKER_SCENARIO: scenarioFile,
  });
  const calls = readFileSync(logFile, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { argv: string[]; stdin: string });
  // Compose's own flags (--project-directory DIR -f FILE) are the same on every call.
  const steps = calls.map((c) =>
    (c.argv[1] === '--project-directory' ? ['compose', ...c.argv.slice(5)] : c.argv).join(' '),
  );
  return { ...r, calls, steps };
}

beforeAll(async () => {
  writeFileSync(scenarioFile, JSON.stringify({ etcdSnapshot: 'snapshot-bytes' }));
  const init = await cli([
    'init',
    '--non-interactive',
    '--config',
    config,
    '--public-url',
    'https://shenma.example.com',
    '--completion-model-url',
    'http://10.0.0.5:8000/v1',
  ]);
  expect(init.code).toBe(0);
  expect((await cli(['render', '--config', config])).code).toBe(0);
});

describe('shenma backup / restore (fake docker)', () => {
  it('backs up every database, etcd, config and secrets with checksums; restore verifies then restores in order', async () => {
    const out = path.join(dir, 'b1');
    const b = await run(['backup', '--out', out]);
    expect(b.err).toBe('');
    expect(b.code).toBe(0);
    expect(b.steps).toEqual([
      'compose exec -T postgres pg_dump -U postgres --clean --if-exists --create --no-password shenma',
      'compose exec -T postgres pg_dump -U postgres --clean --if-exists --create --no-password keycloak',
      'compose exec -T postgres pg_dump -U postgres --clean --if-exists --create --no-password grafana',
      'compose exec -T etcd etcdctl --endpoints=http://127.0.0.1:2379 snapshot save /tmp/shenma-backup-etcd.db',
      `compose cp etcd:/tmp/shenma-backup-etcd.db ${path.join(out, 'etcd.db')}`,
      'compose exec -T etcd rm -f /tmp/shenma-backup-etcd.db',
    ]);
    const manifest = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8'));
    expect(manifest.files.map((f: { name: string }) => f.name)).toEqual([
      'shenma.sql',
      'keycloak.sql',
      'grafana.sql',
      'etcd.db',
      'shenma.yaml',
      'shenma.secrets.env',
    ]);
    expect(statSync(out).mode & 0o777).toBe(0o700);
    expect(statSync(path.join(out, 'shenma.secrets.env')).mode & 0o777).toBe(0o600);
    expect(readFileSync(path.join(out, 'shenma.sql'), 'utf8')).toContain('-- pg_dump of shenma');

    // The secrets change after the backup; restore puts the backed-up ones back and keeps these.
    const before = readFileSync(path.join(dir, 'shenma.secrets.env'), 'utf8');
    writeFileSync(
      path.join(dir, 'shenma.secrets.env'),
      before.replace(/^REDIS_PASSWORD=.*$/m, 'REDIS_PASSWORD=changed-after-the-backup-0123'),
    );
    expect((await run(['restore', out])).err).toMatch(/run again with --yes/);
    const r = await run(['restore', out, '--yes']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.steps[0]).toBe('compose stop');
    expect(r.steps[1]).toBe('compose up -d --wait postgres');
    expect(r.steps.slice(2, 5)).toEqual(
      Array(3).fill('compose exec -T postgres psql -U postgres -d postgres -v ON_ERROR_STOP=1 -q'),
    );
    expect(r.calls[2]!.stdin).toContain('-- pg_dump of shenma');
    expect(r.steps[5]).toMatch(
      /^compose run --rm --no-deps -T -v \S+:\/backup:ro --entrypoint sh etcd -c .*etcdctl snapshot restore \/backup\/etcd\.db --name=etcd/,
    );
    expect(r.steps[6]).toBe('compose up -d --wait');
    expect(parseDotenv(readFileSync(path.join(dir, 'shenma.secrets.env'), 'utf8'), 's')).toEqual(
      parseDotenv(before, 's'),
    );
    expect(readFileSync(path.join(dir, 'shenma.secrets.env.before-restore'), 'utf8')).toContain(
      'changed-after-the-backup',
    );
  });

  it('restore refuses a damaged backup before touching anything', async () => {
    const out = path.join(dir, 'b2');
    expect((await run(['backup', '--out', out])).code).toBe(0);
    writeFileSync(path.join(out, 'keycloak.sql'), 'DROP EVERYTHING;');
    const r = await run(['restore', out, '--yes']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/backup file keycloak\.sql does not match its checksum/);
    expect(r.calls).toHaveLength(0);
  });
});

describe('shenma restore keeps what it replaces', () => {
  it('a second restore keeps the original config and secrets, not the first restore’s copy', async () => {
    const out = path.join(dir, 'b3');
    expect((await run(['backup', '--out', out])).code).toBe(0);
    const secretsFile = path.join(dir, 'shenma.secrets.env');
    const original = readFileSync(secretsFile, 'utf8').replace(
      /^REDIS_PASSWORD=.*$/m,
      'REDIS_PASSWORD=the-original-one-0123456789',
    );
    writeFileSync(secretsFile, original);
    rmSync(`${secretsFile}.before-restore`, { force: true });
    expect((await run(['restore', out, '--yes'])).code).toBe(0);
    const second = await run(['restore', out, '--yes']);
    expect(second.code).toBe(0);
    const kept = readdirSync(dir).filter((f) => f.startsWith('shenma.secrets.env.before-restore'));
    expect(kept.length).toBe(2);
    expect(kept.some((f) => readFileSync(path.join(dir, f), 'utf8') === original)).toBe(true);
    expect(second.out).toMatch(/kept as shenma\.secrets\.env\.before-restore\.\d{4}-/);
  });

  it('refuses a manifest that lacks the config, the secrets or a database, before touching anything', async () => {
    const out = path.join(dir, 'b4');
    expect((await run(['backup', '--out', out])).code).toBe(0);
    const manifestFile = path.join(out, 'manifest.json');
    const manifest = JSON.parse(readFileSync(manifestFile, 'utf8'));
    const config = readFileSync(path.join(dir, 'shenma.yaml'), 'utf8');
    for (const files of [[], manifest.files.filter((f: { name: string }) => f.name !== 'keycloak.sql')]) {
      writeFileSync(manifestFile, JSON.stringify({ ...manifest, files }));
      const r = await run(['restore', out, '--yes']);
      expect(r.code).toBe(1);
      expect(r.err).toMatch(/does not list .*; not a complete Shenma backup/);
      expect(r.err).not.toMatch(/\n\s+at /);
      expect(r.calls).toHaveLength(0);
      expect(readFileSync(path.join(dir, 'shenma.yaml'), 'utf8')).toBe(config);
    }
  });

  it('a backup that fails leaves no folder behind, and names the reason', async () => {
    const out = path.join(dir, 'b6');
    writeFileSync(scenarioFile, JSON.stringify({ etcdSnapshot: 'snapshot-bytes', engineDown: true }));
    try {
      const r = await run(['backup', '--out', out]);
      expect(r.code).toBe(1);
      expect(r.err).toContain('Is the docker daemon running?');
    } finally {
      writeFileSync(scenarioFile, JSON.stringify({ etcdSnapshot: 'snapshot-bytes' }));
    }
    expect(existsSync(out)).toBe(false);
  });

  it('touches no file when Docker cannot stop the stack', async () => {
    const out = path.join(dir, 'b5');
    expect((await run(['backup', '--out', out])).code).toBe(0);
    // The secrets change after the backup, so a restore that went ahead would show.
    const secretsFile = path.join(dir, 'shenma.secrets.env');
    writeFileSync(
      secretsFile,
      readFileSync(secretsFile, 'utf8').replace(
        /^REDIS_PASSWORD=.*$/m,
        'REDIS_PASSWORD=after-the-backup-0123456789',
      ),
    );
    for (const f of readdirSync(dir)) if (f.includes('.before-restore')) rmSync(path.join(dir, f));
    const before = readdirSync(dir).sort();
    const secrets = readFileSync(secretsFile, 'utf8');
    writeFileSync(scenarioFile, JSON.stringify({ etcdSnapshot: 'snapshot-bytes', engineDown: true }));
    try {
      const r = await run(['restore', out, '--yes']);
      expect(r.code).toBe(1);
      expect(r.err).toContain('Docker daemon');
    } finally {
      writeFileSync(scenarioFile, JSON.stringify({ etcdSnapshot: 'snapshot-bytes' }));
    }
    expect(readdirSync(dir).sort()).toEqual(before);
    expect(readFileSync(path.join(dir, 'shenma.secrets.env'), 'utf8')).toBe(secrets);
  });
});

describe('shenma down / logs (fake docker)', () => {
  it('down keeps the data; --volumes needs a confirmation', async () => {
    const keep = await run(['down']);
    expect(keep.steps).toEqual(['compose down --remove-orphans']);
    expect(keep.out).toMatch(/data kept/);
    const refused = await run(['down', '--volumes']);
    expect(refused.code).toBe(2);
    expect(refused.err).toMatch(/--volumes deletes all data; confirm with --yes/);
    expect(refused.calls).toHaveLength(0);
    const wipe = await run(['down', '--volumes', '--yes']);
    expect(wipe.steps).toEqual(['compose down --remove-orphans --volumes']);
  });

  it('logs names an unknown service', async () => {
    const r = await run(['logs', 'nope']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/no service "nope"/);
  });
});
