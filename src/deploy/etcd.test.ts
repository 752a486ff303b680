import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { verifyBackup, writeManifest } from './backup.js';
import { etcdRestoreArgs, etcdServerArgs, etcdSnapshotArgs } from './etcd.js';

/**
 * The gateway store's backup on real etcd (Debian etcd-server): the snapshot and restore
 * commands backup/restore run inside the etcd container, run here against a local etcd.
 */

const dir = mkdtempSync(path.join(tmpdir(), 'shenma-etcd-'));
const running: ChildProcess[] = [];
afterAll(() => {
  for (const p of running) p.kill();
  rmSync(dir, { recursive: true, force: true });
});

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

async function startEtcd(dataDir: string, clientPort: number, peerUrl: string): Promise<ChildProcess> {
  const url = `http://127.0.0.1:${clientPort}`;
  const child = spawn('etcd', etcdServerArgs({ dataDir, clientUrl: url, advertise: url, peerUrl }), {
    stdio: 'ignore',
  });
  running.push(child);
  for (;;) {
    if (child.exitCode !== null) throw new Error(`etcd exited with ${child.exitCode}`);
    const ok = await fetch(`${url}/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return child;
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  await new Promise((r) => {
    child.once('exit', r);
    child.kill();
  });
}

const etcdctl = (args: string[]) =>
  execFileSync('etcdctl', args, { encoding: 'utf8', env: { ...process.env, ETCDCTL_API: '3' } });

describe('etcd snapshot backup and restore (real etcd)', () => {
  it('a snapshot restores to an etcd holding the same gateway keys; the manifest catches damage', async () => {
    const peerUrl = `http://127.0.0.1:${await freePort()}`;
    const clientPort = await freePort();
    const endpoint = `http://127.0.0.1:${clientPort}`;
    const first = await startEtcd(path.join(dir, 'live'), clientPort, peerUrl);
    const route = JSON.stringify({
      id: 'shenma-completion-v2',
      uris: ['/v2/completions'],
      labels: { managed_by: 'shenma' },
    });
    etcdctl([`--endpoints=${endpoint}`, 'put', '/apisix/routes/shenma-completion-v2', route]);
    etcdctl([`--endpoints=${endpoint}`, 'put', '/apisix/routes/ops-team', '{"uri":"/status"}']);

    const backupDir = path.join(dir, 'backup');
    execFileSync('mkdir', ['-p', backupDir]);
    etcdctl(etcdSnapshotArgs(endpoint, path.join(backupDir, 'etcd.db')));
    // A backup is complete only with the config and secrets beside the snapshot.
    writeFileSync(path.join(backupDir, 'shenma.yaml'), 'models: []\n');
    writeFileSync(path.join(backupDir, 'shenma.secrets.env'), 'REDIS_PASSWORD=x\n');
    await writeManifest(backupDir, ['etcd.db', 'shenma.yaml', 'shenma.secrets.env'], {
      createdAt: 'now',
      shenmaVersion: 'test',
      project: 'shenma',
      databases: [],
    });
    await expect(verifyBackup(backupDir)).resolves.toMatchObject({ files: [{ name: 'etcd.db' }, {}, {}] });

    // The live store changes after the backup; restore brings back the backed-up state.
    etcdctl([`--endpoints=${endpoint}`, 'del', '/apisix/routes/shenma-completion-v2']);
    await stop(first);
    const restored = path.join(dir, 'restored');
    etcdctl(etcdRestoreArgs(path.join(backupDir, 'etcd.db'), restored, peerUrl));
    const second = await startEtcd(restored, clientPort, peerUrl);
    const got = etcdctl([`--endpoints=${endpoint}`, 'get', '--prefix', '/apisix/routes/']);
    expect(got).toContain(route);
    expect(got).toContain('/apisix/routes/ops-team');
    await stop(second);

    // One flipped byte: restore refuses, naming the file.
    writeFileSync(path.join(backupDir, 'etcd.db'), 'not a snapshot');
    await expect(verifyBackup(backupDir)).rejects.toThrow(/backup file etcd\.db does not match its checksum/);
  }, 60_000);
});
