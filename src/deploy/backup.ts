import { createHash } from 'node:crypto';
import { chmod, copyFile, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { DockerRunner } from './docker.js';
import { etcdRestoreArgs, etcdSnapshotArgs } from './etcd.js';
import type { Deployment } from './load.js';
import { packageVersion } from './render.js';
import { SECRETS_FILE } from './secrets.js';

/**
 * `shenma backup` / `shenma restore`: every piece of state, taken through Compose (no data
 * directory is copied while live): one SQL dump per database, an etcd snapshot (APISIX's
 * routes, including ones added by hand), shenma.yaml and the secrets file, and a manifest with
 * each file's SHA-256. Restore checks the manifest first and puts things back in order.
 */

export class BackupError extends Error {
  override readonly name = 'BackupError';
}

export const MANIFEST = 'manifest.json';
const ETCD_SNAPSHOT = 'etcd.db';
const ETCD_PEER = 'http://127.0.0.1:2380';

export interface Manifest {
  createdAt: string;
  shenmaVersion: string;
  project: string;
  databases: string[];
  files: { name: string; bytes: number; sha256: string }[];
}

export function databasesOf(d: Deployment): string[] {
  return [
    'shenma',
    ...(d.config.deploy.identity === 'keycloak' ? ['keycloak'] : []),
    ...(d.config.deploy.ops.grafana ? ['grafana'] : []),
  ];
}

async function sha256(file: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(file))
    .digest('hex');
}

/** Writes the manifest of every file in `dir` (mode 0600: the folder holds the secrets). */
export async function writeManifest(
  dir: string,
  names: string[],
  meta: Omit<Manifest, 'files'>,
): Promise<Manifest> {
  const files = [];
  for (const name of names) {
    const f = path.join(dir, name);
    await chmod(f, 0o600);
    files.push({ name, bytes: (await stat(f)).size, sha256: await sha256(f) });
  }
  const manifest = { ...meta, files };
  await writeFile(path.join(dir, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 });
  return manifest;
}

/** Reads the manifest and checks every file against it; a missing or altered file is named. */
export async function verifyBackup(dir: string): Promise<Manifest> {
  let manifest: Manifest;
  try {
    manifest = JSON.parse(await readFile(path.join(dir, MANIFEST), 'utf8')) as Manifest;
  } catch {
    throw new BackupError(`${dir} has no readable ${MANIFEST}; not a Shenma backup`);
  }
  if (!Array.isArray(manifest.files) || !Array.isArray(manifest.databases)) {
    throw new BackupError(`${dir}/${MANIFEST} lists no files or no databases; not a Shenma backup`);
  }
  // A restore puts back all of these; a backup without one of them would leave the stack half old.
  const needed = ['shenma.yaml', SECRETS_FILE, ETCD_SNAPSHOT, ...manifest.databases.map((db) => `${db}.sql`)];
  const listed = new Set(manifest.files.map((f) => f.name));
  const absent = needed.filter((n) => !listed.has(n));
  if (absent.length > 0) {
    throw new BackupError(
      `${dir}/${MANIFEST} does not list ${absent.join(', ')}; not a complete Shenma backup`,
    );
  }
  for (const f of manifest.files) {
    if (typeof f.name !== 'string' || f.name.includes('/') || f.name.startsWith('.')) {
      throw new BackupError(`${dir}/${MANIFEST} names a file outside the backup: ${JSON.stringify(f.name)}`);
    }
    const file = path.join(dir, f.name);
    const actual = await sha256(file).catch(() => undefined);
    if (actual === undefined) throw new BackupError(`backup file ${f.name} is missing from ${dir}`);
    if (actual !== f.sha256)
      throw new BackupError(
        `backup file ${f.name} does not match its checksum in ${MANIFEST} (damaged or edited)`,
      );
  }
  return manifest;
}

interface BackupOptions {
  docker: DockerRunner;
  deployment: Deployment;
  out: string;
  log: (l: string) => void;
}

/** A backup that failed leaves no folder it made: half a backup has no manifest and misleads. */
export async function backup(opts: BackupOptions): Promise<Manifest> {
  const existed = (await stat(opts.out).catch(() => undefined)) !== undefined;
  try {
    return await writeBackup(opts);
  } catch (err) {
    if (!existed) await rm(opts.out, { recursive: true, force: true });
    throw err;
  }
}

async function writeBackup(opts: BackupOptions): Promise<Manifest> {
  const { docker, deployment: d, out, log } = opts;
  await mkdir(out, { recursive: true, mode: 0o700 });
  await chmod(out, 0o700);
  const names: string[] = [];
  const dbs = databasesOf(d);
  for (const db of dbs) {
    const dump = await docker.compose(
      [
        'exec',
        '-T',
        'postgres',
        'pg_dump',
        '-U',
        'postgres',
        '--clean',
        '--if-exists',
        '--create',
        '--no-password',
        db,
      ],
      { what: `pg_dump ${db}` },
    );
    await writeFile(path.join(out, `${db}.sql`), dump.stdout, { mode: 0o600 });
    names.push(`${db}.sql`);
    log(`  database ${db}: ${dump.stdout.length} bytes`);
  }
  const tmp = '/tmp/shenma-backup-etcd.db';
  await docker.compose(['exec', '-T', 'etcd', 'etcdctl', ...etcdSnapshotArgs('http://127.0.0.1:2379', tmp)], {
    what: 'etcd snapshot',
  });
  await docker.compose(['cp', `etcd:${tmp}`, path.join(out, ETCD_SNAPSHOT)], {
    what: 'copying the etcd snapshot',
  });
  await docker.compose(['exec', '-T', 'etcd', 'rm', '-f', tmp], { allowFailure: true });
  names.push(ETCD_SNAPSHOT);
  log('  etcd snapshot (gateway routes)');
  await copyFile(d.configFile, path.join(out, 'shenma.yaml'));
  await copyFile(d.secretsFile, path.join(out, SECRETS_FILE));
  names.push('shenma.yaml', SECRETS_FILE);
  return writeManifest(out, names, {
    createdAt: new Date().toISOString(),
    shenmaVersion: packageVersion(),
    project: d.config.deploy.project,
    databases: dbs,
  });
}

/**
 * Moves `file` aside as `file.before-restore`, or, when an earlier restore left one, as
 * `file.before-restore.<time>`: a second restore must not replace the only copy of the original.
 * Returns where it went (undefined when there was no file).
 */
async function keepAside(file: string): Promise<string | undefined> {
  if (!(await stat(file).catch(() => undefined))) return undefined;
  let target = `${file}.before-restore`;
  if (await stat(target).catch(() => undefined)) {
    target = `${target}.${new Date().toISOString().replace(/[:.]/g, '-')}`;
  }
  await rename(file, target);
  return target;
}

/**
 * Stop, restore in order (config and secrets, databases, etcd), start, verify. The current
 * config and secrets are kept beside as *.before-restore.
 */
export async function restore(opts: {
  docker: DockerRunner;
  deployment: Deployment;
  from: string;
  log: (l: string) => void;
}): Promise<Manifest> {
  const { docker, deployment: d, from, log } = opts;
  const manifest = await verifyBackup(from);
  log(`backup of ${manifest.createdAt} (Shenma ${manifest.shenmaVersion}): checksums match`);
  // Stopped first: if Docker cannot do even that, no file has been touched yet.
  log('stopping everything but PostgreSQL and etcd');
  await docker.compose(['stop'], { what: 'docker compose stop' });
  for (const [name, target] of [
    ['shenma.yaml', d.configFile],
    [SECRETS_FILE, d.secretsFile],
  ] as const) {
    const kept = await keepAside(target);
    if (kept) log(`  the current ${path.basename(target)} is kept as ${path.basename(kept)}`);
    await copyFile(path.join(from, name), target);
  }
  await chmod(d.secretsFile, 0o600);
  await docker.compose(['up', '-d', '--wait', 'postgres'], { what: 'starting PostgreSQL' });
  for (const db of manifest.databases) {
    const sql = await readFile(path.join(from, `${db}.sql`), 'utf8');
    await docker.compose(
      ['exec', '-T', 'postgres', 'psql', '-U', 'postgres', '-d', 'postgres', '-v', 'ON_ERROR_STOP=1', '-q'],
      {
        input: sql,
        what: `restoring database ${db}`,
      },
    );
    log(`  database ${db} restored`);
  }
  // A snapshot becomes a fresh data directory; the old one is moved aside, not deleted.
  const script = [
    'set -e',
    'rm -rf /etcd-data/restored /etcd-data/before-restore',
    `etcdctl ${etcdRestoreArgs('/backup/etcd.db', '/etcd-data/restored', ETCD_PEER).join(' ')}`,
    'mkdir -p /etcd-data/before-restore',
    'if [ -d /etcd-data/member ]; then mv /etcd-data/member /etcd-data/before-restore/; fi',
    'mv /etcd-data/restored/member /etcd-data/member',
    'rmdir /etcd-data/restored',
  ].join(' && ');
  await docker.compose(
    [
      'run',
      '--rm',
      '--no-deps',
      '-T',
      '-v',
      `${path.resolve(from)}:/backup:ro`,
      '--entrypoint',
      'sh',
      'etcd',
      '-c',
      script,
    ],
    { what: 'restoring the etcd snapshot' },
  );
  log('  etcd restored (the previous data is in the etcd volume under before-restore/)');
  await docker.compose(['up', '-d', '--wait'], { what: 'docker compose up' });
  log('all services healthy again');
  return manifest;
}
