import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cli } from '../../test/support/cli.js';
import { type HubDouble, startHubDouble } from '../../test/support/hub-double.js';
import { pullFromHub } from './hub.js';
import type { PullProgress } from './models-pull.js';

/**
 * `shenma models pull --model ID` against a test double of a Hugging Face–compatible hub that
 * plays the documented API shape (model info at a revision, the recursive tree listing with
 * paging, resolve URLs that redirect LFS files to a CDN path with Range support), since the
 * real hub cannot be reached from tests.
 */

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const scratch = () => {
  const d = mkdtempSync(path.join(tmpdir(), 'shenma-hub-'));
  dirs.push(d);
  return d;
};

const MODEL = 'Qwen/Qwen2.5-Coder-1.5B';
const COMMIT = 'a'.repeat(8) + '0123456789abcdef0123456789abcdef';
const FILES: Record<string, Buffer> = {
  '.gitattributes': Buffer.from('*.safetensors filter=lfs diff=lfs merge=lfs -text\n'),
  'config.json': Buffer.from('{"architectures":["Qwen2ForCausalLM"]}\n'),
  'model.safetensors': randomBytes(2 * 1024 * 1024 + 5),
  'pytorch_model.bin': randomBytes(4096),
  'tokenizer/tokenizer.json': Buffer.from('{"version":"1.0"}\n'),
};
const BIG = 'model.safetensors';

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

describe('pull by model id from a Hugging Face–compatible hub', () => {
  let hub: HubDouble;
  beforeEach(async () => {
    hub = await startHubDouble();
    hub.repos.set(MODEL, { commit: COMMIT, files: FILES, lfs: [BIG, 'pytorch_model.bin'] });
  });
  afterEach(() => hub.close());

  it('lists the files at the pinned commit (all pages), downloads each, verifies LFS by sha256 and small files by git blob id', async () => {
    const into = scratch();
    const progress = recorder();
    const report = await pullFromHub({ model: MODEL, into, endpoint: hub.url, progress });
    expect(report.commit).toBe(COMMIT);
    expect(report.skipped).toEqual(['pytorch_model.bin']);
    for (const name of ['.gitattributes', 'config.json', BIG, 'tokenizer/tokenizer.json'])
      expect(readFileSync(path.join(into, name)).equals(FILES[name]!), name).toBe(true);
    expect(existsSync(path.join(into, 'pytorch_model.bin'))).toBe(false);
    expect(progress.lines).toEqual([
      `.gitattributes: ${FILES['.gitattributes']!.length} bytes, git blob sha1 ok`,
      'config.json: 39 bytes, git blob sha1 ok',
      `${BIG}: ${FILES[BIG]!.length} bytes, sha256 ok`,
      'tokenizer/tokenizer.json: 18 bytes, git blob sha1 ok',
    ]);
    const paths = hub.requests.map((r) => r.path);
    expect(paths[0]).toBe(`/api/models/${MODEL}/revision/main`);
    // Six tree entries (one a directory) at two per page: three pages, all at the commit.
    expect(
      paths.filter((p) => p.startsWith(`/api/models/${MODEL}/tree/${COMMIT}?recursive=true`)),
    ).toHaveLength(3);
    expect(paths).toContain(`/${MODEL}/resolve/${COMMIT}/tokenizer/tokenizer.json`);
    expect(paths.some((p) => p.startsWith('/cdn/'))).toBe(true);
    // Nothing carries a token when none was given.
    expect(hub.requests.every((r) => r.authorization === '')).toBe(true);

    hub.requests = [];
    const again = recorder();
    await pullFromHub({ model: MODEL, into, endpoint: hub.url, progress: again });
    expect(hub.requests.some((r) => r.path.includes('/resolve/'))).toBe(false);
    expect(again.lines.every((l) => /already present, (sha256|git blob sha1) ok$/.test(l))).toBe(true);
  });

  it('resumes a cut download with an HTTP Range request through the redirect', async () => {
    const into = scratch();
    hub.cutNext = BIG;
    await expect(
      pullFromHub({ model: MODEL, into, endpoint: hub.url, progress: recorder() }),
    ).rejects.toThrow(
      new RegExp(
        `^${BIG}: the download stopped after \\d+ of ${FILES[BIG]!.length} bytes .*run pull again to resume`,
      ),
    );
    const kept = statSync(path.join(into, `${BIG}.partial`)).size;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(FILES[BIG]!.length);

    hub.requests = [];
    const progress = recorder();
    await pullFromHub({ model: MODEL, into, endpoint: hub.url, progress });
    const cdn = hub.requests.filter((r) => r.path.startsWith('/cdn/'));
    expect(cdn.map((r) => r.range)).toEqual([`bytes=${kept}-`]);
    expect(readFileSync(path.join(into, BIG)).equals(FILES[BIG]!)).toBe(true);
    expect(progress.lines).toContain(`${BIG}: ${FILES[BIG]!.length} bytes, resumed at ${kept}, sha256 ok`);
    expect(existsSync(path.join(into, `${BIG}.partial`))).toBe(false);
  });

  it('bytes that do not match the sha256 the hub lists: refused, deleted, named', async () => {
    const into = scratch();
    const damaged = Buffer.from(FILES[BIG]!);
    damaged[1000] = damaged[1000]! ^ 0xff;
    hub.corrupt.set(BIG, damaged);
    await expect(
      pullFromHub({ model: MODEL, into, endpoint: hub.url, progress: recorder() }),
    ).rejects.toThrow(
      new RegExp(
        `^${BIG}: sha256 [0-9a-f]{64} does not match the hub's [0-9a-f]{64}; refused and deleted \\(the copy at \\S+ is damaged or not this model\\)`,
      ),
    );
    expect(existsSync(path.join(into, BIG))).toBe(false);
    expect(existsSync(path.join(into, `${BIG}.partial`))).toBe(false);
    // A damaged small file fails its git blob id the same way.
    hub.corrupt.clear();
    hub.corrupt.set('config.json', Buffer.from('{"architectures":["LlamaForCausalLM"]}\n'.slice(0, 39)));
    await expect(
      pullFromHub({ model: MODEL, into: scratch(), endpoint: hub.url, progress: recorder() }),
    ).rejects.toThrow(/^config\.json: git blob sha1 [0-9a-f]{40} does not match the hub's [0-9a-f]{40}/);
  });

  it('bad model id, unknown model, unknown revision, gated model: one clear line each', async () => {
    const into = scratch();
    const pull = (model: string, extra: { revision?: string; token?: string } = {}) =>
      pullFromHub({ model, into, endpoint: hub.url, progress: recorder(), ...extra });
    await expect(pull('../etc/passwd')).rejects.toThrow(
      /"\.\.\/etc\/passwd" is not a hub model id: expected owner\/name/,
    );
    await expect(pull('a/b/c')).rejects.toThrow(/"a\/b\/c" is not a hub model id/);
    expect(hub.requests).toEqual([]);
    await expect(pull('Qwen/No-Such-Model')).rejects.toThrow(
      `the hub at ${hub.url} has no model "Qwen/No-Such-Model" (if it is private, give a token (HF_TOKEN))`,
    );
    await expect(pull(MODEL, { revision: 'v9' })).rejects.toThrow(
      `"${MODEL}" has no revision "v9" on ${hub.url}`,
    );

    hub.repos.set('meta/Gated-7B', {
      commit: COMMIT,
      files: { 'config.json': FILES['config.json']! },
      lfs: [],
      gatedToken: 'hf_sekrit',
    });
    await expect(pull('meta/Gated-7B')).rejects.toThrow(
      /^"meta\/Gated-7B" is gated: accept its terms on the hub with your account, then give that account's token \(HF_TOKEN\)$/,
    );
    hub.requests = [];
    const ok = await pull('meta/Gated-7B', { token: 'hf_sekrit' });
    expect(ok.files).toBe(1);
    expect(hub.requests.every((r) => r.authorization === 'Bearer hf_sekrit')).toBe(true);
  });

  it('CLI: --model with --endpoint and the token from HF_TOKEN; the token is never printed', async () => {
    hub.repos.set('meta/Gated-7B', { commit: COMMIT, files: FILES, lfs: [BIG], gatedToken: 'hf_sekrit' });
    const work = scratch();
    const config = path.join(work, 'shenma.yaml');
    const r = await cli(
      ['models', 'pull', '--model', 'meta/Gated-7B', '--endpoint', hub.url, '--config', config],
      {
        HF_TOKEN: 'hf_sekrit',
      },
    );
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const into = path.join(work, 'models', 'meta/Gated-7B');
    expect(r.out).toContain(`skipped (safetensors are there; --all-files fetches them): pytorch_model.bin`);
    expect(r.out).toContain(
      `pulled meta/Gated-7B at ${COMMIT.slice(0, 12)} from ${hub.url}: 4 file(s) in ${into}`,
    );
    expect(`${r.out}${r.err}`).not.toContain('hf_sekrit');
    expect(readFileSync(path.join(into, BIG)).equals(FILES[BIG]!)).toBe(true);

    // HF_ENDPOINT is the default endpoint, as for the hub's own tools.
    const viaEnv = await cli(['models', 'pull', '--model', MODEL, '--into', scratch(), '--all-files'], {
      HF_ENDPOINT: hub.url,
    });
    expect(viaEnv.code).toBe(0);
    expect(viaEnv.out).toContain('5 file(s)');

    const bad = await cli(['models', 'pull', '--model', 'not a model', '--endpoint', hub.url]);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/"not a model" is not a hub model id/);
    const both = await cli(['models', 'pull', '--model', MODEL, '--from', hub.url]);
    expect(both.code).toBe(2);
    expect(both.err).toMatch(/takes --model or --from, not both/);
    const noToken = await cli([
      'models',
      'pull',
      '--model',
      MODEL,
      '--endpoint',
      hub.url,
      '--token-env',
      'MY_HUB_TOKEN',
    ]);
    expect(noToken.code).toBe(2);
    expect(noToken.err).toMatch(/--token-env MY_HUB_TOKEN: that environment variable is not set/);
  });
});
