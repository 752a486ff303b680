import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../src/storage/database.js';
import { type FakeModel, startFakeModel } from './fake-model/server.js';
import { type CliProcess, createUserToken, runCli } from './support/cli-process.js';
import { reachableTempDir } from './support/temp-dir.js';

/**
 * The review's crash probe (issue #7): `shenma start` killed with SIGKILL while chats stream, then
 * started again on the same data directory. Every chat the client saw finish ([DONE]) must have its
 * usage-ledger row: the row is committed before the client is told the answer is complete.
 */

const dirs: string[] = [];
const children: CliProcess[] = [];
let fake: FakeModel | undefined;
afterAll(async () => {
  for (const c of children) if (c.child.exitCode === null) c.child.kill('SIGKILL');
  await fake?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * SIGKILLs a running `shenma start` and waits until its embedded PostgreSQL server (`pgdata`'s
 * postmaster) has stopped by itself: no orphan is left once its Shenma is gone.
 */
async function killLeavingNoOrphan(
  run: { child: { kill(signal: NodeJS.Signals): void }; exited: Promise<unknown> },
  pgdata: string,
) {
  const postmaster = Number(readFileSync(path.join(pgdata, 'postmaster.pid'), 'utf8').split('\n')[0]);
  run.child.kill('SIGKILL');
  expect(await run.exited).toBe('SIGKILL');
  const deadline = Date.now() + 60_000;
  while (isRunning(postmaster) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  expect(isRunning(postmaster)).toBe(false);
}

/** Streams one chat; resolves with whether the client saw it finish. */
async function streamChat(url: string, token: string, requestId: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${token}`,
        'x-request-id': requestId,
      },
      body: JSON.stringify({
        model: 'assistant',
        stream: true,
        messages: [{ role: 'user', content: requestId }],
      }),
    });
    if (res.status !== 200) return false;
    const text = await res.text();
    return text.trimEnd().endsWith('data: [DONE]') && !text.includes('"error"');
  } catch {
    // Cut by the kill: the client did not see it finish.
    return false;
  }
}

describe('kill -9 during streaming chats', () => {
  it('keeps a ledger row for every chat the client saw finish', async () => {
    fake = await startFakeModel({
      defaultScript: { text: 'a streamed answer, '.repeat(8), chunkChars: 8, interChunkMs: 40 },
    });
    const dir = reachableTempDir('shenma-kill9-');
    dirs.push(dir);
    writeFileSync(
      path.join(dir, 'shenma.yaml'),
      ['models:', '  - name: assistant', `    url: ${fake.url}/v1`, '    roles: [chat]', ''].join('\n'),
    );
    const start = () => {
      const run = runCli(['start', '--config', 'shenma.yaml', '--port', '0', '--data-dir', 'state'], dir);
      children.push(run);
      return run;
    };
    const first = start();
    const [, url] = await first.waitFor(/listening on (http:\/\/\S+)/, 60_000);
    const token = await createUserToken('alice', 'state', dir);

    const finished = new Set<string>();
    const chats: Promise<void>[] = [];
    for (let i = 0; i < 16; i++) {
      const id = `kill9-${i}`;
      chats.push(
        streamChat(url!, token, id).then((done) => {
          if (done) finished.add(id);
        }),
      );
      await new Promise((r) => setTimeout(r, 150));
    }
    // Some finished and some still streaming: that is the moment to pull the plug.
    const deadline = Date.now() + 60_000;
    while (finished.size < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const pgdata = path.join(dir, 'state', 'pgdata');
    await killLeavingNoOrphan(first, pgdata);
    await Promise.all(chats);
    expect(finished.size).toBeGreaterThanOrEqual(4);
    expect(finished.size).toBeLessThan(16);

    // It starts again on the same data directory (the dead process's lock is taken over).
    const second = start();
    await second.waitFor(/shenma listening on http/, 60_000);
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);

    const database = await openDatabase({ dataDir: path.join(dir, 'state') });
    try {
      const rows = await database.db.selectFrom('usage_ledger').select(['request_id', 'status']).execute();
      const recorded = new Set(rows.filter((r) => r.status === 'ok').map((r) => r.request_id));
      const missing = [...finished].filter((id) => !recorded.has(id));
      expect(missing).toEqual([]);
    } finally {
      await database.close();
    }
  }, 180_000);
});

describe('kill -9 with the cluster outside the data directory', () => {
  it('leaves no server behind; the next start takes over both locks, and the record finds the cluster', async (ctx) => {
    ctx.skip(
      process.getuid?.() !== 0,
      'needs root: only a root Shenma runs the server as another user, which a 0700 directory shuts out',
    );
    const dir = reachableTempDir('shenma-kill9-relocated-');
    dirs.push(dir);
    // What `mktemp -d` makes: 0700, owned by root; the server's user (shenma-db) cannot enter it.
    const closed = mkdtempSync(path.join(tmpdir(), 'shenma-closed-'));
    dirs.push(closed);
    const clustersDir = path.join(dir, 'clusters');
    const dataDir = path.join(closed, 'state');
    writeFileSync(
      path.join(dir, 'shenma.yaml'),
      ['models:', '  - name: coder', '    url: http://127.0.0.1:1/v1', '    family: deepseek-coder', ''].join(
        '\n',
      ),
    );
    const start = () => {
      const run = runCli(['start', '--config', 'shenma.yaml', '--port', '0', '--data-dir', dataDir], dir, {
        SHENMA_CLUSTERS_DIR: clustersDir,
      });
      children.push(run);
      return run;
    };
    const first = start();
    await first.waitFor(/shenma listening on http/, 60_000);
    const pgdata = readFileSync(path.join(dataDir, 'pgdata.location'), 'utf8').trim();
    expect(path.dirname(path.dirname(pgdata))).toBe(clustersDir);
    const told = first.logLines().filter((l) => /outside the data directory/.test(String(l.msg)));
    expect(told).toEqual([
      expect.objectContaining({
        level: 30,
        pgdata,
        reason: expect.stringContaining(`cannot enter ${closed} (mode 700)`),
      }),
    ]);
    await createUserToken('alice', dataDir, dir);

    await killLeavingNoOrphan(first, pgdata);
    // The dead process's locks are still there, the data directory's and the cluster's.
    expect(existsSync(path.join(dataDir, 'pgdata.lock'))).toBe(true);
    expect(existsSync(path.join(path.dirname(pgdata), 'pgdata.lock'))).toBe(true);

    const second = start();
    await second.waitFor(/shenma listening on http/, 60_000);
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
    expect(existsSync(path.join(path.dirname(pgdata), 'pgdata.lock'))).toBe(false);

    // An admin command with no server running opens the database itself; the record leads it to
    // the cluster even when SHENMA_CLUSTERS_DIR names another, empty place (the rule alone would
    // look there and make a new cluster).
    const elsewhere = path.join(dir, 'other-clusters');
    const list = runCli(['users', 'list', '--data-dir', dataDir], dir, { SHENMA_CLUSTERS_DIR: elsewhere });
    children.push(list);
    expect(await list.exited).toBe(0);
    expect(list.output().out).toContain('alice');
    expect(existsSync(path.join(dataDir, 'pgdata'))).toBe(false);
    expect(existsSync(elsewhere)).toBe(false);
  }, 180_000);
});
