import { readFile } from 'node:fs/promises';
import type { ApisixSchemaDump } from './apisix-schema.js';
import { type AdminResponse, type AdminTransport, ReconcileError } from './reconcile.js';

/**
 * The Admin API over HTTP, for a caller on the compose network (or wherever the operator has
 * made it reachable). The schema comes from a file or a Control API URL.
 */
export function httpTransport(opts: { adminUrl: string; key: string; schema: string }): AdminTransport {
  const base = opts.adminUrl.replace(/\/+$/, '');
  return {
    async request(method, path, body): Promise<AdminResponse> {
      let res: Response;
      try {
        res = await fetch(`${base}${path}`, {
          method,
          headers: {
            'x-api-key': opts.key,
            ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          },
          ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
          signal: AbortSignal.timeout(30_000),
        });
      } catch (err) {
        throw new ReconcileError(
          `APISIX Admin API at ${base} is not reachable: ${(err as Error).cause ?? (err as Error).message}`,
        );
      }
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {}
      return { status: res.status, body: parsed };
    },
    async schema(): Promise<ApisixSchemaDump> {
      if (/^https?:\/\//.test(opts.schema)) {
        const res = await fetch(opts.schema, { signal: AbortSignal.timeout(30_000) });
        if (!res.ok) throw new ReconcileError(`APISIX schema at ${opts.schema}: HTTP ${res.status}`);
        return (await res.json()) as ApisixSchemaDump;
      }
      return JSON.parse(await readFile(opts.schema, 'utf8')) as ApisixSchemaDump;
    },
  };
}
