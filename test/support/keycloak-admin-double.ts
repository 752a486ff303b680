import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A TEST DOUBLE of the Keycloak admin REST paths @keycloak/keycloak-admin-client calls (Keycloak
 * cannot run here): the master realm's password grant for admin-cli, GET/POST/PUT of realms, and
 * a realm's clients (find by clientId, create, update, client secret). It keeps state, fills a
 * few defaults as Keycloak does, refuses a duplicate clientId with 409, and records writes.
 */

export interface KeycloakDouble {
  url: string;
  realms: Map<string, Record<string, unknown>>;
  clients: Map<string, Record<string, unknown>[]>;
  writes: string[];
  close(): Promise<void>;
}

const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');

export async function startKeycloakDouble(adminPassword: string): Promise<KeycloakDouble> {
  const realms = new Map<string, Record<string, unknown>>();
  const clients = new Map<string, Record<string, unknown>[]>();
  const writes: string[] = [];
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const send = (status: number, body?: unknown, location?: string) => {
      res
        .writeHead(status, { 'content-type': 'application/json', ...(location ? { location } : {}) })
        .end(body === undefined ? '' : JSON.stringify(body));
    };
    const base = `http://${req.headers.host}`;
    const url = new URL(req.url ?? '/', 'http://double');
    if (url.pathname === '/realms/master/protocol/openid-connect/token' && req.method === 'POST') {
      const form = new URLSearchParams(raw);
      if (
        form.get('username') !== 'admin' ||
        form.get('password') !== adminPassword ||
        form.get('client_id') !== 'admin-cli'
      )
        return send(401, { error: 'invalid_grant' });
      const exp = Math.floor(Date.now() / 1000) + 300;
      const token = `${b64({ alg: 'none' })}.${b64({ exp, sub: 'admin' })}.x`;
      return send(200, { access_token: token, refresh_token: token, expires_in: 300 });
    }
    if (req.headers.authorization?.startsWith('Bearer ') !== true)
      return send(401, { error: 'HTTP 401 Unauthorized' });
    const body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
    // The client posts to /admin/realms/ (trailing slash).
    if (url.pathname.replace(/\/$/, '') === '/admin/realms' && req.method === 'POST') {
      if (realms.has(String(body.realm)))
        return send(409, { errorMessage: `Conflict detected. See logs for details` });
      realms.set(String(body.realm), { id: randomUUID(), enabled: false, ...body });
      clients.set(String(body.realm), []);
      writes.push(`POST /admin/realms ${body.realm}`);
      // Keycloak answers a creation with the new object's URL.
      return send(201, undefined, `${base}/admin/realms/${body.realm}`);
    }
    const realmPath = /^\/admin\/realms\/([^/]+)(\/.*)?$/.exec(url.pathname);
    if (!realmPath) return send(404, { error: `not found: ${req.method} ${url.pathname}` });
    const name = decodeURIComponent(realmPath[1]!);
    const rest = (realmPath[2] ?? '').replace(/\/$/, '');
    const realm = realms.get(name);
    if (!realm) return send(404, { error: 'Realm not found.' });
    if (rest === '') {
      if (req.method === 'GET') return send(200, realm);
      if (req.method === 'PUT') {
        realms.set(name, { ...realm, ...body });
        writes.push(`PUT /admin/realms/${name}`);
        return send(204);
      }
    }
    const list = clients.get(name)!;
    if (rest === '/clients' && req.method === 'GET') {
      const id = url.searchParams.get('clientId');
      return send(200, id ? list.filter((c) => c.clientId === id) : list);
    }
    if (rest === '/clients' && req.method === 'POST') {
      if (list.some((c) => c.clientId === body.clientId))
        return send(409, { errorMessage: `Client ${body.clientId} already exists` });
      const id = randomUUID();
      list.push({ id, surrogateAuthRequired: false, fullScopeAllowed: true, ...body });
      writes.push(`POST clients ${body.clientId}`);
      return send(201, undefined, `${base}/admin/realms/${name}/clients/${id}`);
    }
    const clientPath = /^\/clients\/([^/]+)(\/client-secret)?$/.exec(rest);
    const client = clientPath ? list.find((c) => c.id === clientPath[1]) : undefined;
    if (!client) return send(404, { error: 'Could not find client' });
    if (clientPath![2] && req.method === 'GET') return send(200, { type: 'secret', value: client.secret });
    if (req.method === 'PUT') {
      Object.assign(client, body, { id: client.id });
      writes.push(`PUT clients ${client.clientId}`);
      return send(204);
    }
    return send(405, { error: 'method not allowed' });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    realms,
    clients,
    writes,
    close: () => new Promise((r) => server.close(() => r())),
  };
}
