import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cli } from '../../test/support/cli.js';
import { type ManifestFile, type PullProgress, pullModel } from './models-pull.js';

/**
 * `shenma models pull` against a real HTTP mirror on loopback (serving files with Range support,
 * able to cut a download short) and against local folders and tarballs.
 */

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const scratch = () => {
  const d = mkdtempSync(path.join(tmpdir(), 'shenma-pull-'));
  dirs.push(d);
  return d;
};
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

const FILES: Record<string, Buffer> = {
  'config.json': Buffer.from('{"architectures":["Qwen2ForCausalLM"]}\n'),
  'weights/model.safetensors': randomBytes(3 * 1024 * 1024 + 17),
};
const manifestOf = (files: Record<string, Buffer>): { files: ManifestFile[] } => ({
  files: Object.entries(files).map(([name, b]) => ({ name, size: b.length, sha256: sha(b) })),
});

interface Mirror {
  server: Server;
  url: string;
  /** Range headers seen per file ('' = whole file). */
  requests: { name: string; range: string }[];
  /** Cut the next download of this file after half its bytes. */
  cutNext?: string;
  manifest: { files: ManifestFile[] };
}

async function startMirror(): Promise<Mirror> {
  const m = { requests: [], manifest: manifestOf(FILES) } as unknown as Mirror;
  m.server = createServer((req, res) => {
    const name = decodeURIComponent((req.url ?? '/').slice(1));
    if (name === 'shenma-manifest.json')
      return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(m.manifest));
    const body = FILES[name];
    if (!body) return void res.writeHead(404).end('no such file');
    const range = req.headers.range ?? '';
    m.requests.push({ name, range });
    const start = Number(/^bytes=(\d+)-$/.exec(range)?.[1] ?? 0);
    const part = body.subarray(start);
    res.writeHead(range ? 206 : 200, {
      'content-length': part.length,
      ...(range ? { 'content-range': `bytes ${start}-${body.length - 1}/${body.length}` } : {}),
    });
    if (m.cutNext === name) {
      m.cutNext = undefined;
      // Half the bytes, then the connection drops: what a flaky mirror or a Ctrl-C does.
      res.write(part.subarray(0, Math.floor(part.length / 2)), () => res.socket?.destroy());
      return;
    }
    res.end(part);
  });
  await new Promise<void>((r) => m.server.listen(0, '127.0.0.1', r));
  m.url = `http://127.0.0.1:${(m.server.address() as AddressInfo).port}`;
  return m;
}

function recorder(): PullProgress & { lines: string[]; updates: number } {
  const r = {
    lines: [] as string[],
    updates: 0,
    update() {
      r.updates++;
    },
    finished(file: string, how: string) {
      r.lines.push(`${file}: ${how}`);
    },
  };
  return r;
}

describe('shenma models pull', () => {
  let mirror: Mirror;
  beforeEach(async () => {
    mirror = await startMirror();
  });
  afterEach(async () => {
    await new Promise((r) => mirror.server.close(r));
  });

  it('downloads from a mirror, resumes an interrupted file with Range, then skips what is there', async () => {
    const into = scratch();
    const big = 'weights/model.safetensors';
    mirror.cutNext = big;
    const first = recorder();
    await expect(pullModel({ from: mirror.url, into, progress: first })).rejects.toThrow(
      /weights\/model\.safetensors: the download stopped after \d+ of 3145745 bytes .*run pull again to resume/,
    );
    const partial = path.join(into, `${big}.partial`);
    const kept = statSync(partial).size;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(FILES[big]!.length);
    expect(existsSync(path.join(into, big))).toBe(false);

    mirror.requests = [];
    const second = recorder();
    const report = await pullModel({ from: mirror.url, into, progress: second });
    expect(mirror.requests).toEqual([{ name: big, range: `bytes=${kept}-` }]);
    expect(readFileSync(path.join(into, big)).equals(FILES[big]!)).toBe(true);
    expect(readFileSync(path.join(into, 'config.json')).equals(FILES['config.json']!)).toBe(true);
    expect(existsSync(partial)).toBe(false);
    expect(second.lines).toEqual([
      'config.json: already present, sha256 ok',
      `${big}: 3145745 bytes, resumed at ${kept}, sha256 ok`,
    ]);
    expect(second.updates).toBeGreaterThan(0);
    expect(report).toEqual({ files: 2, bytes: FILES[big]!.length, unverified: false });

    mirror.requests = [];
    const third = recorder();
    await pullModel({ from: mirror.url, into, progress: third });
    expect(mirror.requests).toEqual([]);
    expect(third.lines.every((l) => l.endsWith('already present, sha256 ok'))).toBe(true);
  });

  it('refuses a file whose checksum does not match and names it; nothing is installed', async () => {
    const into = scratch();
    mirror.manifest = manifestOf(FILES);
    mirror.manifest.files[1]!.sha256 = sha(Buffer.from('something else'));
    await expect(pullModel({ from: mirror.url, into, progress: recorder() })).rejects.toThrow(
      /^weights\/model\.safetensors: sha256 [0-9a-f]{64} does not match the manifest's [0-9a-f]{64}; refused and deleted/,
    );
    expect(existsSync(path.join(into, 'weights/model.safetensors'))).toBe(false);
    expect(existsSync(path.join(into, 'weights/model.safetensors.partial'))).toBe(false);
  });

  it('a manifest naming a path outside the folder is refused before anything is fetched', async () => {
    mirror.manifest = { files: [{ name: '../etc/passwd', size: 1, sha256: 'a'.repeat(64) }] };
    await expect(pullModel({ from: mirror.url, into: scratch(), progress: recorder() })).rejects.toThrow(
      /files\[0\]\.name "\.\.\/etc\/passwd" must be a relative path inside the folder/,
    );
    expect(mirror.requests).toEqual([]);
  });

  it('air-gapped: from a directory with a manifest, and from a tarball (checked when it has one)', async () => {
    const src = scratch();
    mkdirSync(path.join(src, 'weights'));
    for (const [n, b] of Object.entries(FILES)) writeFileSync(path.join(src, n), b);
    writeFileSync(path.join(src, 'shenma-manifest.json'), JSON.stringify(manifestOf(FILES)));
    const fromDir = scratch();
    const r1 = await pullModel({ from: src, into: fromDir, progress: recorder() });
    expect(r1.unverified).toBe(false);
    expect(
      readFileSync(path.join(fromDir, 'weights/model.safetensors')).equals(
        FILES['weights/model.safetensors']!,
      ),
    ).toBe(true);

    // A tarball whose weights were damaged after the manifest was written: refused, named.
    const tarball = path.join(scratch(), 'qwen.tar.gz');
    writeFileSync(path.join(src, 'config.json'), '{"damaged":true}\n');
    execFileSync('tar', ['-czf', tarball, '-C', src, '.']);
    await expect(pullModel({ from: tarball, into: scratch(), progress: recorder() })).rejects.toThrow(
      /^config\.json: got 17 bytes from \S+qwen\.tar\.gz, the manifest says 39; refused/,
    );

    // Without a manifest the files are copied and the report says nothing was verified.
    rmSync(path.join(src, 'shenma-manifest.json'));
    execFileSync('tar', ['-czf', tarball, '-C', src, '.']);
    const fromTar = scratch();
    const progress = recorder();
    const r2 = await pullModel({ from: tarball, into: fromTar, progress });
    expect(r2).toMatchObject({ files: 2, unverified: true });
    expect(progress.lines).toContain('config.json: 17 bytes, copied (no manifest to check)');
    expect(readFileSync(path.join(fromTar, 'config.json'), 'utf8')).toBe('{"damaged":true}\n');
  });

  it('CLI: one plain line per file and a summary; bad input is a clear error', async () => {
    const work = scratch();
    const into = path.join(work, 'models');
    const ok = await cli(['models', 'pull', '--from', mirror.url, '--into', into]);
    expect(ok.err).toBe('');
    expect(ok.code).toBe(0);
    expect(ok.out.split('\n')).toEqual([
      'config.json: 39 bytes, sha256 ok',
      'weights/model.safetensors: 3145745 bytes, sha256 ok',
      `pulled 2 file(s) into ${into} (3145784 bytes transferred)`,
    ]);
    const missing = await cli(['models', 'pull', '--from', path.join(work, 'nope')]);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/--from \S+nope: no such URL, directory or file/);
    const noFrom = await cli(['models', 'pull']);
    expect(noFrom.code).toBe(2);
    expect(noFrom.err).toMatch(/needs --model ID \(from a hub\) or --from SOURCE/);
  });
});
