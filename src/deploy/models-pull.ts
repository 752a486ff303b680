import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rename, rm, stat, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream } from 'node:stream/web';

/**
 * `shenma models pull`: model weights into a folder, from a mirror (a base URL plus a manifest of
 * names, sizes and sha256), from a Hugging Face–compatible hub by model id (hub.ts), or, for
 * hosts without internet, from a local directory or tarball. Downloads go to NAME.partial and
 * resume with an HTTP Range request; nothing is installed under its real name before its size and
 * checksum match what the manifest or the hub says.
 */

export class PullError extends Error {
  override readonly name = 'PullError';
}

export interface ManifestFile {
  name: string;
  size: number;
  sha256: string;
}

/** `shenma-manifest.json`: `{ "files": [{ "name", "size", "sha256" }] }`. */
export const MANIFEST_NAME = 'shenma-manifest.json';

export interface PullProgress {
  /** Bytes of one file so far (called often; a TTY draws a bar from it). */
  update(file: string, done: number, total: number): void;
  /** One file finished: how it got there. */
  finished(file: string, how: string): void;
}

export interface PullOptions {
  /** http(s) base URL, a directory, or a .tar / .tar.gz / .tgz file. */
  from: string;
  into: string;
  /** Manifest file path or URL; default MANIFEST_NAME inside `from`. */
  manifest?: string;
  progress: PullProgress;
  fetch?: typeof fetch;
}

export interface PullReport {
  files: number;
  bytes: number;
  /** Local source without a manifest: copied, but nothing to check the bytes against. */
  unverified: boolean;
}

const isUrl = (s: string) => /^https?:\/\//i.test(s);

export function parseManifest(text: string, where: string): ManifestFile[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new PullError(`manifest ${where} is not JSON: ${(err as Error).message}`);
  }
  const files = (data as { files?: unknown }).files;
  if (!Array.isArray(files) || files.length === 0)
    throw new PullError(`manifest ${where} needs a non-empty "files" list of { name, size, sha256 }`);
  return files.map((f: Partial<ManifestFile>, i) => {
    const name = String(f?.name ?? '');
    const parts = name.split('/');
    if (!name || name.startsWith('/') || parts.some((p) => p === '' || p === '.' || p === '..'))
      throw new PullError(
        `manifest ${where}: files[${i}].name "${name}" must be a relative path inside the folder`,
      );
    if (!Number.isSafeInteger(f.size) || (f.size as number) < 0)
      throw new PullError(`manifest ${where}: files[${i}] (${name}) needs a size in bytes`);
    if (typeof f.sha256 !== 'string' || !/^[0-9a-f]{64}$/i.test(f.sha256))
      throw new PullError(`manifest ${where}: files[${i}] (${name}) needs a sha256 of 64 hex digits`);
    return { name, size: f.size as number, sha256: f.sha256.toLowerCase() };
  });
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}

const sizeOf = (file: string) =>
  stat(file).then(
    (s) => s.size,
    () => -1,
  );

/** What a file must be once downloaded, and where it comes from. */
export interface RemoteFile {
  name: string;
  size: number;
  url: string;
  /** sha256 of the content (a manifest, or a hub's LFS object id). */
  sha256?: string;
  /** Git blob id: sha1 of "blob SIZE\0" + content (a hub's small, non-LFS files). */
  gitSha1?: string;
}

/** The checksum a RemoteFile carries, computed over a file on disk. */
async function digestOf(file: string, f: { size: number; sha256?: string; gitSha1?: string }) {
  if (f.sha256) return { kind: 'sha256', got: await sha256File(file), want: f.sha256 };
  const hash = createHash('sha1').update(`blob ${f.size}\0`);
  await pipeline(createReadStream(file), hash);
  return { kind: 'git blob sha1', got: hash.digest('hex'), want: f.gitSha1 ?? '' };
}

/** The file is already in place with the expected size and checksum. */
async function alreadyThere(file: string, f: ManifestFile | RemoteFile): Promise<boolean> {
  if ((await sizeOf(file)) !== f.size) return false;
  const d = await digestOf(file, f);
  return d.got === d.want;
}

/** Size then checksum of a finished .partial; a mismatch deletes it and names the file. */
async function verify(
  partial: string,
  f: ManifestFile | RemoteFile,
  source: string,
  authority = 'the manifest',
): Promise<string> {
  const size = await sizeOf(partial);
  const d = size === f.size ? await digestOf(partial, f) : undefined;
  if (d && d.got === d.want) return d.kind;
  await rm(partial, { force: true });
  throw new PullError(
    !d
      ? `${f.name}: got ${size} bytes from ${source}, ${authority} says ${f.size}; refused (run pull again)`
      : `${f.name}: ${d.kind} ${d.got} does not match ${authority}'s ${d.want}; refused and deleted (the copy at ${source} is damaged or not this model)`,
  );
}

export async function pullModel(opts: PullOptions): Promise<PullReport> {
  await mkdir(opts.into, { recursive: true });
  if (isUrl(opts.from)) return pullFromUrl(opts);
  const st = await stat(opts.from).catch(() => undefined);
  if (!st) throw new PullError(`--from ${opts.from}: no such URL, directory or file`);
  if (st.isDirectory()) return pullFromDirectory(opts.from, opts);
  if (!/\.(tar|tar\.gz|tgz)$/i.test(opts.from))
    throw new PullError(`--from ${opts.from}: a file must be a .tar, .tar.gz or .tgz archive`);
  const scratch = await mkdtemp(path.join(tmpdir(), 'shenma-pull-'));
  try {
    await untar(opts.from, scratch);
    return await pullFromDirectory(scratch, opts);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

async function loadManifest(where: string, fetchImpl: typeof fetch): Promise<ManifestFile[]> {
  if (!isUrl(where)) {
    const text = await readFile(where, 'utf8').catch((err: NodeJS.ErrnoException) => {
      throw new PullError(`manifest ${where}: ${err.code === 'ENOENT' ? 'not found' : err.message}`);
    });
    return parseManifest(text, where);
  }
  const res = await fetchImpl(where, { signal: AbortSignal.timeout(60_000) }).catch((err: Error) => {
    throw new PullError(`manifest ${where} is not reachable: ${err.cause ?? err.message}`);
  });
  if (!res.ok) throw new PullError(`manifest ${where} answered ${res.status}`);
  return parseManifest(await res.text(), where);
}

async function pullFromUrl(opts: PullOptions): Promise<PullReport> {
  const fetchImpl = opts.fetch ?? fetch;
  const base = opts.from.replace(/\/+$/, '');
  const files = await loadManifest(opts.manifest ?? `${base}/${MANIFEST_NAME}`, fetchImpl);
  return downloadAll(
    files.map((f) => ({ ...f, url: `${base}/${f.name.split('/').map(encodeURIComponent).join('/')}` })),
    { into: opts.into, progress: opts.progress, fetch: fetchImpl },
  );
}

export interface DownloadOptions {
  into: string;
  progress: PullProgress;
  fetch?: typeof fetch;
  /** Sent with every request (a hub token); never printed. */
  headers?: Record<string, string>;
  /** Who vouches for the sizes and checksums, for error lines ("the hub"). */
  authority?: string;
}

/**
 * Each file into `into`: skipped when it is there and checks out, else downloaded to
 * NAME.partial (continuing a previous attempt with an HTTP Range request), verified, renamed.
 */
export async function downloadAll(files: RemoteFile[], opts: DownloadOptions): Promise<PullReport> {
  const fetchImpl = opts.fetch ?? fetch;
  let bytes = 0;
  for (const f of files) {
    const dest = path.join(opts.into, f.name);
    if (await alreadyThere(dest, f)) {
      opts.progress.finished(f.name, `already present, ${f.sha256 ? 'sha256' : 'git blob sha1'} ok`);
      continue;
    }
    await mkdir(path.dirname(dest), { recursive: true });
    const partial = `${dest}.partial`;
    const resumedFrom = await fetchToPartial(f, partial, fetchImpl, opts);
    const kind = await verify(partial, f, f.url, opts.authority);
    await rename(partial, dest);
    bytes += f.size;
    opts.progress.finished(
      f.name,
      resumedFrom > 0 && resumedFrom < f.size
        ? `${f.size} bytes, resumed at ${resumedFrom}, ${kind} ok`
        : `${f.size} bytes, ${kind} ok`,
    );
  }
  return { files: files.length, bytes, unverified: false };
}

/** Brings NAME.partial up to the full size; returns where it resumed (0 for a fresh start). */
async function fetchToPartial(
  f: RemoteFile,
  partial: string,
  fetchImpl: typeof fetch,
  opts: DownloadOptions,
): Promise<number> {
  let have = Math.max(0, await sizeOf(partial));
  if (have > f.size) {
    await truncate(partial, 0);
    have = 0;
  }
  if (have === f.size) return have;
  const res = await fetchImpl(f.url, {
    headers: { ...opts.headers, ...(have > 0 ? { range: `bytes=${have}-` } : {}) },
  }).catch((err: Error) => {
    throw new PullError(
      `${f.name}: ${f.url} is not reachable (${err.cause ?? err.message}); run pull again to resume`,
    );
  });
  if (res.status !== 200 && res.status !== 206) {
    await res.body?.cancel();
    throw new PullError(`${f.name}: ${f.url} answered ${res.status}`);
  }
  // 200 to a Range request, or a 206 for other bytes than asked: start over.
  const start = Number(/^bytes (\d+)-/.exec(res.headers.get('content-range') ?? '')?.[1] ?? 0);
  if (have > 0 && (res.status === 200 || start !== have)) {
    await truncate(partial, 0);
    have = 0;
    if (res.status === 206) {
      await res.body?.cancel();
      return fetchToPartial(f, partial, fetchImpl, opts);
    }
  }
  const resumedFrom = have;
  let done = have;
  const count = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      done += chunk.length;
      opts.progress.update(f.name, done, f.size);
      cb(null, chunk);
    },
  });
  const sink = createWriteStream(partial, { flags: 'a' });
  try {
    await pipeline(Readable.fromWeb(res.body as ReadableStream<Uint8Array>), count, sink);
  } catch (err) {
    // The bytes received so far are kept for the resume: let them reach the disk first.
    if (!sink.closed) await new Promise<void>((r) => sink.once('close', () => r()));
    throw new PullError(
      `${f.name}: the download stopped after ${done} of ${f.size} bytes (${(err as Error).message}); run pull again to resume`,
    );
  }
  return resumedFrom;
}

async function listFiles(root: string, dir = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(path.join(root, dir), { withFileTypes: true })) {
    const rel = dir ? `${dir}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await listFiles(root, rel)));
    else if (e.isFile() && rel !== MANIFEST_NAME) out.push(rel);
  }
  return out.sort();
}

async function pullFromDirectory(source: string, opts: PullOptions): Promise<PullReport> {
  const manifestPath = opts.manifest ?? path.join(source, MANIFEST_NAME);
  const hasManifest = isUrl(manifestPath) || (await sizeOf(manifestPath)) >= 0;
  const files: ManifestFile[] | string[] = hasManifest
    ? await loadManifest(manifestPath, opts.fetch ?? fetch)
    : await listFiles(source);
  let bytes = 0;
  for (const entry of files) {
    const name = typeof entry === 'string' ? entry : entry.name;
    const from = path.join(source, name);
    const dest = path.join(opts.into, name);
    if (typeof entry !== 'string' && (await alreadyThere(dest, entry))) {
      opts.progress.finished(name, 'already present, sha256 ok');
      continue;
    }
    const size = await sizeOf(from);
    if (size < 0) throw new PullError(`${name}: listed in the manifest but missing from ${opts.from}`);
    await mkdir(path.dirname(dest), { recursive: true });
    const partial = `${dest}.partial`;
    await copyFile(from, partial);
    opts.progress.update(name, size, size);
    if (typeof entry !== 'string') await verify(partial, entry, opts.from);
    await rename(partial, dest);
    bytes += size;
    opts.progress.finished(
      name,
      typeof entry === 'string' ? `${size} bytes, copied (no manifest to check)` : `${size} bytes, sha256 ok`,
    );
  }
  return { files: files.length, bytes, unverified: !hasManifest };
}

/** The system tar (GNU tar and bsdtar both refuse members that climb out with `..`). */
function untar(archive: string, into: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('tar', ['-xf', archive, '-C', into, '--no-same-owner'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (c: Buffer) => {
      err += c.toString();
    });
    child.once('error', (e) => reject(new PullError(`tar: ${e.message}`)));
    child.once('close', (code) =>
      code === 0
        ? resolve()
        : reject(
            new PullError(
              `${archive} could not be unpacked (tar exit ${code}): ${err.trim().split('\n').pop()}`,
            ),
          ),
    );
  });
}

/** A bar redrawn in place on a terminal; one plain line per finished file otherwise. */
export function consoleProgress(stream: NodeJS.WriteStream, log: (line: string) => void): PullProgress {
  let last = 0;
  return {
    update(file, done, total) {
      if (!stream.isTTY) return;
      const now = Date.now();
      if (now - last < 100 && done < total) return;
      last = now;
      const width = 30;
      const frac = total > 0 ? done / total : 1;
      const bar = '#'.repeat(Math.round(frac * width)).padEnd(width, '-');
      stream.write(
        `\r${file} [${bar}] ${(frac * 100).toFixed(0).padStart(3)}% ${mib(done)}/${mib(total)} MiB`,
      );
    },
    finished(file, how) {
      if (stream.isTTY) stream.write('\r\x1b[2K');
      log(`${file}: ${how}`);
    },
  };
}

const mib = (n: number) => (n / 1024 ** 2).toFixed(1);
