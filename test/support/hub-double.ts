import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A TEST DOUBLE of a Hugging Face–compatible hub (huggingface.co cannot be reached from tests),
 * playing only the documented download paths `shenma models pull --model` uses:
 *   GET /api/models/{id}/revision/{rev}         -> { id, sha }
 *   GET /api/models/{id}/tree/{sha}?recursive=true -> [{ type, oid, size, path, lfs? }], paged with
 *                                                   a `Link: <...>; rel="next"` header
 *   GET /{id}/resolve/{rev}/{path}              -> small files directly; LFS files by a 302 to
 *                                                   a content-addressed /cdn/{sha256} path that
 *                                                   honours Range
 * Errors carry `X-Error-Code` as the hub's do: RepoNotFound (401 without a token), GatedRepo (401),
 * RevisionNotFound (404). Tests can cut the next download of a file halfway, or serve bytes
 * other than the listing's checksum says.
 */

export interface HubRepo {
  commit: string;
  files: Record<string, Buffer>;
  /** Paths stored with LFS (checked by sha256); the rest by git blob sha1. */
  lfs: string[];
  /** Only this Bearer token may read it. */
  gatedToken?: string;
}

export interface HubRequest {
  path: string;
  range: string;
  authorization: string;
}

export interface HubDouble {
  url: string;
  repos: Map<string, HubRepo>;
  requests: HubRequest[];
  /** Cut the next download of this path after half of the bytes asked for. */
  cutNext?: string;
  /** Serve these bytes instead of the real ones for this path (a damaged mirror). */
  corrupt: Map<string, Buffer>;
  pageSize: number;
  close(): Promise<void>;
}

export const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
export const gitBlobSha1 = (b: Buffer) =>
  createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
}

export async function startHubDouble(): Promise<HubDouble> {
  const hub = { repos: new Map(), requests: [], corrupt: new Map(), pageSize: 2 } as unknown as HubDouble;

  /** The repo, or an error answer as the hub words it; undefined when answered. */
  const access = (req: IncomingMessage, res: ServerResponse, id: string): HubRepo | undefined => {
    const repo = hub.repos.get(id);
    const auth = req.headers.authorization ?? '';
    if (!repo) {
      sendJson(
        res,
        401,
        { error: 'Repository Not Found for url.' },
        {
          'x-error-code': 'RepoNotFound',
        },
      );
      return undefined;
    }
    if (repo.gatedToken && auth !== `Bearer ${repo.gatedToken}`) {
      sendJson(
        res,
        401,
        { error: `Access to model ${id} is restricted.` },
        {
          'x-error-code': 'GatedRepo',
        },
      );
      return undefined;
    }
    return repo;
  };

  const serveBytes = (req: IncomingMessage, res: ServerResponse, name: string, body: Buffer) => {
    const range = req.headers.range ?? '';
    const start = Number(/^bytes=(\d+)-$/.exec(range)?.[1] ?? 0);
    const part = body.subarray(start);
    res.writeHead(range ? 206 : 200, {
      'content-length': part.length,
      'accept-ranges': 'bytes',
      ...(range ? { 'content-range': `bytes ${start}-${body.length - 1}/${body.length}` } : {}),
    });
    if (hub.cutNext === name) {
      hub.cutNext = undefined;
      // Half the bytes, then the connection drops: a flaky link or a Ctrl-C.
      res.write(part.subarray(0, Math.floor(part.length / 2)), () => res.socket?.destroy());
      return;
    }
    res.end(part);
  };

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://hub');
    const p = decodeURIComponent(url.pathname);
    hub.requests.push({
      path: `${p}${url.search}`,
      range: req.headers.range ?? '',
      authorization: req.headers.authorization ?? '',
    });
    let m = /^\/api\/models\/(.+)\/revision\/([^/]+)$/.exec(p);
    if (m) {
      const repo = access(req, res, m[1]!);
      if (!repo) return;
      if (m[2] !== 'main' && m[2] !== repo.commit)
        return sendJson(
          res,
          404,
          { error: `Invalid rev id: ${m[2]}` },
          {
            'x-error-code': 'RevisionNotFound',
          },
        );
      return sendJson(res, 200, { id: m[1], sha: repo.commit, siblings: [] });
    }
    m = /^\/api\/models\/(.+)\/tree\/([^/]+)$/.exec(p);
    if (m) {
      const repo = access(req, res, m[1]!);
      if (!repo) return;
      if (m[2] !== repo.commit && m[2] !== 'main')
        return sendJson(res, 404, { error: 'Invalid rev id' }, { 'x-error-code': 'RevisionNotFound' });
      const entries: unknown[] = [];
      const dirs = new Set<string>();
      for (const name of Object.keys(repo.files).sort()) {
        const parts = name.split('/');
        for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
      }
      for (const d of [...dirs].sort())
        entries.push({ type: 'directory', oid: 'f'.repeat(40), size: 0, path: d });
      for (const [name, body] of Object.entries(repo.files).sort(([a], [b]) => a.localeCompare(b))) {
        if (repo.lfs.includes(name)) {
          const pointer = Buffer.from(
            `version https://git-lfs.github.com/spec/v1\noid sha256:${sha256(body)}\nsize ${body.length}\n`,
          );
          entries.push({
            type: 'file',
            oid: gitBlobSha1(pointer),
            size: body.length,
            path: name,
            lfs: { oid: sha256(body), size: body.length, pointerSize: pointer.length },
          });
        } else entries.push({ type: 'file', oid: gitBlobSha1(body), size: body.length, path: name });
      }
      const from = Number(url.searchParams.get('cursor') ?? 0);
      const page = entries.slice(from, from + hub.pageSize);
      const headers: Record<string, string> = {};
      if (from + hub.pageSize < entries.length)
        headers.link = `<${hub.url}/api/models/${m[1]}/tree/${m[2]}?recursive=true&cursor=${from + hub.pageSize}>; rel="next"`;
      return sendJson(res, 200, page, headers);
    }
    m = /^\/cdn\/([0-9a-f]{64})$/.exec(p);
    if (m) {
      for (const repo of hub.repos.values())
        for (const [name, body] of Object.entries(repo.files))
          if (sha256(body) === m[1]) return serveBytes(req, res, name, hub.corrupt.get(name) ?? body);
      return void res.writeHead(404).end();
    }
    m = /^\/(.+)\/resolve\/([^/]+)\/(.+)$/.exec(p);
    if (m) {
      const repo = access(req, res, m[1]!);
      if (!repo) return;
      const body = repo.files[m[3]!];
      if (!body) return sendJson(res, 404, { error: 'Entry not found' }, { 'x-error-code': 'EntryNotFound' });
      if (repo.lfs.includes(m[3]!))
        return void res
          .writeHead(302, { location: `/cdn/${sha256(body)}`, 'x-linked-etag': `"${sha256(body)}"` })
          .end();
      return serveBytes(req, res, m[3]!, hub.corrupt.get(m[3]!) ?? body);
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  hub.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  hub.close = () => new Promise<void>((r) => server.close(() => r()));
  return hub;
}
