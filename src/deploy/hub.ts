import { mkdir } from 'node:fs/promises';
import {
  downloadAll,
  PullError,
  type PullProgress,
  type PullReport,
  type RemoteFile,
} from './models-pull.js';

/**
 * Model weights by model id from a Hugging Face–compatible hub (huggingface.co, or a mirror that
 * serves the same HTTP API, such as the ones HF_ENDPOINT points at). Uses the hub's documented
 * paths only:
 *   GET {endpoint}/api/models/{id}/revision/{revision}        -> { sha } (the commit to pin)
 *   GET {endpoint}/api/models/{id}/tree/{sha}?recursive=true  -> [{ type, path, size, oid, lfs? }]
 *       (more pages behind a `Link: <...>; rel="next"` header)
 *   GET {endpoint}/{id}/resolve/{sha}/{path}                  -> the bytes (large files redirect)
 * Every file is checked against what the listing says: LFS files by `lfs.oid` (sha256), small
 * files by `oid` (the git blob id). Errors the hub names in `X-Error-Code` (RepoNotFound,
 * GatedRepo, RevisionNotFound) become one line that says what to do.
 */

export const DEFAULT_HUB = 'https://huggingface.co';

export interface HubPullOptions {
  /** `owner/name` (or a bare `name`), as the hub shows it. */
  model: string;
  into: string;
  endpoint: string;
  revision?: string;
  /** Access token for gated or private models; sent as a Bearer header, never printed. */
  token?: string;
  progress: PullProgress;
  fetch?: typeof fetch;
  /** Also fetch other weight formats when the model ships safetensors (default: skip them). */
  allFiles?: boolean;
}

export interface HubPullReport extends PullReport {
  /** The commit every file came from. */
  commit: string;
  /** Files left out: other weight formats next to safetensors. */
  skipped: string[];
}

/** The hub's rule for repository names: letters, digits, `.`, `_`, `-`; no `--`/`..`; <= 96. */
const NAME = /^(?!.*(?:--|\.\.))[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?$/;

export function checkModelId(id: string): void {
  const parts = id.split('/');
  if (parts.length > 2 || !parts.every((p) => NAME.test(p)))
    throw new PullError(
      `"${id}" is not a hub model id: expected owner/name (letters, digits, ".", "_", "-"), e.g. Qwen/Qwen2.5-Coder-1.5B`,
    );
}

/** vLLM loads safetensors when a model has them; the same weights in these formats are dead weight. */
const OTHER_WEIGHT_FORMATS = /\.(bin|pt|pth|ckpt|h5|msgpack|ot|onnx)$/i;

interface TreeEntry {
  type?: string;
  path?: string;
  size?: number;
  oid?: string;
  lfs?: { oid?: string; size?: number };
}

class Hub {
  readonly #fetch: typeof fetch;
  readonly #headers: Record<string, string>;
  constructor(
    readonly endpoint: string,
    readonly model: string,
    readonly token: string | undefined,
    fetchImpl: typeof fetch,
  ) {
    this.#fetch = fetchImpl;
    this.#headers = token ? { authorization: `Bearer ${token}` } : {};
  }

  async get(url: string, what: string, revision?: string): Promise<Response> {
    const res = await this.#fetch(url, {
      headers: { accept: 'application/json', ...this.#headers },
      signal: AbortSignal.timeout(60_000),
    }).catch((err: Error) => {
      throw new PullError(
        `the hub at ${this.endpoint} is not reachable (${err.cause ?? err.message}); check deploy.localModels.pull.endpoint / --endpoint, or pull from a mirror or a directory`,
      );
    });
    if (res.ok) return res;
    const code = res.headers.get('x-error-code') ?? '';
    const said = (await res.text().catch(() => '')).slice(0, 200);
    const tokenHint = this.token
      ? 'the token given may not read it'
      : 'if it is private, give a token (HF_TOKEN)';
    if (code === 'RepoNotFound' || (res.status === 404 && !code && !revision))
      throw new PullError(`the hub at ${this.endpoint} has no model "${this.model}" (${tokenHint})`);
    if (code === 'GatedRepo')
      throw new PullError(
        `"${this.model}" is gated: accept its terms on the hub with your account, then give that account's token (HF_TOKEN)${this.token ? '; the token given has no access yet' : ''}`,
      );
    if (code === 'RevisionNotFound' || (res.status === 404 && revision))
      throw new PullError(`"${this.model}" has no revision "${revision}" on ${this.endpoint}`);
    if (res.status === 401 || res.status === 403)
      throw new PullError(
        `the hub refused ${what} for "${this.model}" (${res.status}${said ? `: ${said}` : ''}); ${tokenHint}`,
      );
    throw new PullError(
      `${what} for "${this.model}": ${url} answered ${res.status}${said ? `: ${said}` : ''}`,
    );
  }

  async json<T>(url: string, what: string, revision?: string): Promise<{ body: T; res: Response }> {
    const res = await this.get(url, what, revision);
    const text = await res.text();
    try {
      return { body: JSON.parse(text) as T, res };
    } catch {
      throw new PullError(`${what} for "${this.model}": ${url} did not answer JSON (is it a hub?)`);
    }
  }
}

/** The `rel="next"` target of a Link header, if any. */
function nextLink(header: string | null): string | undefined {
  for (const part of (header ?? '').split(',')) {
    const m = /<([^>]+)>\s*;\s*rel="?next"?/i.exec(part);
    if (m) return m[1];
  }
  return undefined;
}

function checkEntry(e: TreeEntry, i: number): RemoteFile & { path: string } {
  const name = String(e.path ?? '');
  const parts = name.split('/');
  if (!name || name.startsWith('/') || parts.some((p) => p === '' || p === '.' || p === '..'))
    throw new PullError(`the hub listed a file "${name}" (entry ${i}) outside the model folder; refused`);
  const sha256 = e.lfs?.oid?.toLowerCase();
  const size = e.lfs?.size ?? e.size;
  if (!Number.isSafeInteger(size) || (size as number) < 0)
    throw new PullError(`the hub listed ${name} without a size; refused`);
  if (sha256 !== undefined ? !/^[0-9a-f]{64}$/.test(sha256) : !/^[0-9a-f]{40}$/i.test(e.oid ?? ''))
    throw new PullError(`the hub listed ${name} without a checksum (lfs.oid or oid); refused`);
  return {
    path: name,
    name,
    size: size as number,
    url: '',
    ...(sha256 !== undefined ? { sha256 } : { gitSha1: (e.oid as string).toLowerCase() }),
  };
}

/** The commit `revision` points at and every file in it, with sizes and checksums. */
export async function listHubFiles(opts: {
  model: string;
  endpoint: string;
  revision?: string;
  token?: string;
  fetch?: typeof fetch;
}): Promise<{ commit: string; files: RemoteFile[] }> {
  checkModelId(opts.model);
  const endpoint = opts.endpoint.replace(/\/+$/, '');
  if (!/^https?:\/\//i.test(endpoint))
    throw new PullError(`hub endpoint "${opts.endpoint}" must be an http(s) URL`);
  const revision = opts.revision ?? 'main';
  const hub = new Hub(endpoint, opts.model, opts.token, opts.fetch ?? fetch);
  const { body: info } = await hub.json<{ sha?: string }>(
    `${endpoint}/api/models/${opts.model}/revision/${encodeURIComponent(revision)}`,
    'model info',
    revision,
  );
  const commit = info.sha;
  if (typeof commit !== 'string' || !/^[0-9a-f]{40}$/i.test(commit))
    throw new PullError(`the hub's model info for "${opts.model}" has no commit sha`);

  const files: RemoteFile[] = [];
  let url: string | undefined = `${endpoint}/api/models/${opts.model}/tree/${commit}?recursive=true`;
  for (let page = 0; url; page++) {
    if (page > 1000) throw new PullError(`the hub's file list for "${opts.model}" does not end`);
    const { body, res }: { body: unknown; res: Response } = await hub.json<unknown>(url, 'file list');
    if (!Array.isArray(body))
      throw new PullError(`the hub's file list for "${opts.model}" is not a list (is ${endpoint} a hub?)`);
    for (const [i, e] of (body as TreeEntry[]).entries()) {
      if (e.type !== 'file') continue;
      const f = checkEntry(e, i);
      f.url = `${endpoint}/${opts.model}/resolve/${commit}/${f.name.split('/').map(encodeURIComponent).join('/')}`;
      files.push(f);
    }
    const next = nextLink(res.headers.get('link'));
    url = next ? new URL(next, endpoint).toString() : undefined;
  }
  if (files.length === 0) throw new PullError(`"${opts.model}" at ${revision} has no files`);
  return { commit, files: files.sort((a, b) => a.name.localeCompare(b.name)) };
}

export async function pullFromHub(opts: HubPullOptions): Promise<HubPullReport> {
  const { commit, files } = await listHubFiles(opts);
  const hasSafetensors = files.some((f) => f.name.endsWith('.safetensors'));
  const skipped =
    hasSafetensors && !opts.allFiles ? files.filter((f) => OTHER_WEIGHT_FORMATS.test(f.name)) : [];
  const wanted = files.filter((f) => !skipped.includes(f));
  await mkdir(opts.into, { recursive: true });
  const report = await downloadAll(wanted, {
    into: opts.into,
    progress: opts.progress,
    ...(opts.fetch ? { fetch: opts.fetch } : {}),
    headers: opts.token ? { authorization: `Bearer ${opts.token}` } : {},
    authority: 'the hub',
  });
  return { ...report, commit, skipped: skipped.map((f) => f.name) };
}
