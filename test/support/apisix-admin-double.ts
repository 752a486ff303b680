import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type ApisixKind, type ApisixSchemaDump, ApisixValidator } from '../../src/deploy/apisix-schema.js';
import { fixturePath } from './fixtures.js';

/**
 * A TEST DOUBLE of APISIX's Admin API (APISIX cannot run here): a stateful in-memory store
 * behind the documented v3 paths, answering as APISIX 3.x does. It requires the X-API-KEY,
 * validates every PUT body with APISIX's published schema (the same validator reconcile uses),
 * fills defaults APISIX fills (so callers must tolerate them), refuses a route whose upstream_id
 * does not exist and an upstream still used by a route, lists as `{total, list: [{key, value}]}`,
 * and serves the schema dump at /v1/schema like the Control API. It records every write.
 */

export const APISIX_SCHEMA_FIXTURE = fixturePath('apisix/schema.json');

export interface AdminDouble {
  url: string;
  schemaUrl: string;
  key: string;
  store: Record<ApisixKind, Map<string, Record<string, unknown>>>;
  writes: { method: string; path: string }[];
  /** The next PUT to this kind/id answers this status and message. */
  failNext(kind: ApisixKind, id: string, status: number, message: string): void;
  close(): Promise<void>;
}

const DEFAULTS: Record<ApisixKind, Record<string, unknown>> = {
  routes: { priority: 0, status: 1 },
  upstreams: { hash_on: 'vars', scheme: 'http', pass_host: 'pass' },
  ssls: { type: 'server', status: 1 },
};

export async function startAdminDouble(key = 'double-admin-key-0123456789'): Promise<AdminDouble> {
  const schemaText = readFileSync(APISIX_SCHEMA_FIXTURE, 'utf8');
  const validator = new ApisixValidator(JSON.parse(schemaText) as ApisixSchemaDump);
  const store: AdminDouble['store'] = { routes: new Map(), upstreams: new Map(), ssls: new Map() };
  const writes: AdminDouble['writes'] = [];
  const failures = new Map<string, { status: number; message: string }>();
  let clock = 1_700_000_000;

  const server: Server = createServer(async (req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const url = new URL(req.url ?? '/', 'http://double');
    if (url.pathname === '/v1/schema') return void res.writeHead(200).end(schemaText);
    if (req.headers['x-api-key'] !== key) return send(401, { message: 'failed to check token' });
    const m = /^\/apisix\/admin\/(routes|upstreams|ssls)(?:\/([^/]+))?$/.exec(url.pathname);
    if (!m) return send(404, { error_msg: '404 Route Not Found' });
    const kind = m[1] as ApisixKind;
    const id = m[2] ? decodeURIComponent(m[2]) : undefined;
    const items = store[kind];
    if (req.method === 'GET' && !id) {
      const list = [...items.values()].map((value) => ({
        key: `/apisix/${kind}/${value.id}`,
        value,
        createdIndex: 1,
        modifiedIndex: 1,
      }));
      // APISIX encodes an empty list as an empty JSON object (an empty Lua table).
      return send(200, { total: list.length, list: list.length > 0 ? list : {} });
    }
    if (!id) return send(405, { error_msg: 'not supported' });
    if (req.method === 'GET') {
      const v = items.get(id);
      return v
        ? send(200, { key: `/apisix/${kind}/${id}`, value: v })
        : send(404, { message: 'Key not found' });
    }
    writes.push({ method: req.method ?? '', path: url.pathname });
    const planned = failures.get(`${kind}/${id}`);
    if (planned) {
      failures.delete(`${kind}/${id}`);
      return send(planned.status, { error_msg: planned.message });
    }
    if (req.method === 'DELETE') {
      if (!items.has(id)) return send(404, { message: 'Key not found' });
      if (kind === 'upstreams') {
        const user = [...store.routes.values()].find((r) => r.upstream_id === id);
        if (user)
          return send(400, {
            error_msg: `can not delete this upstream, route [${user.id}] is still using it now`,
          });
      }
      items.delete(id);
      return send(200, { deleted: '1', key: `/apisix/${kind}/${id}` });
    }
    if (req.method === 'PUT') {
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        return send(400, { error_msg: 'invalid request body' });
      }
      const problems = validator.validate(kind, body);
      if (problems.length > 0)
        return send(400, { error_msg: `invalid configuration: ${problems.join('; ')}` });
      if (kind === 'routes' && body.upstream_id && !store.upstreams.has(String(body.upstream_id)))
        return send(400, { error_msg: `failed to fetch upstream info by upstream id [${body.upstream_id}]` });
      const before = items.get(id);
      const value = {
        ...DEFAULTS[kind],
        ...body,
        id,
        create_time: (before?.create_time as number) ?? clock,
        update_time: ++clock,
      };
      items.set(id, value);
      return send(before ? 200 : 201, { key: `/apisix/${kind}/${id}`, value });
    }
    return send(405, { error_msg: 'method not allowed' });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    schemaUrl: `${url}/v1/schema`,
    key,
    store,
    writes,
    failNext: (kind, id, status, message) => failures.set(`${kind}/${id}`, { status, message }),
    close: () => new Promise((r) => server.close(() => r())),
  };
}
