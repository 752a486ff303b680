import { readFile } from 'node:fs/promises';
import type { ApisixSchemaDump } from './apisix-schema.js';
import type { DockerRunner } from './docker.js';
import { type AdminResponse, type AdminTransport, ReconcileError } from './reconcile.js';
import { APISIX_ADMIN_PORT } from './topology.js';

/** APISIX's Control API port (apisix/config.yaml: loopback only). */
const APISIX_CONTROL_PORT = 9090;

/**
 * The Admin API reached from inside the APISIX container, so it is never published. APISIX's
 * image has no curl (apache/apisix#11531: removed on purpose), so the request is plain HTTP/1.0
 * over bash's /dev/tcp: bash writes the request line and headers, `cat` the body from stdin, and
 * the server, answering HTTP/1.0, closes the connection after its reply, which `cat` prints. The
 * key is the container's own $APISIX_ADMIN_KEY: it never appears in a command line on the host.
 */

/** bash -c SCRIPT METHOD PATH LENGTH: an Admin API request, its body from stdin. */
export function adminRequestScript(port = APISIX_ADMIN_PORT): string {
  return [
    `exec 3<>/dev/tcp/127.0.0.1/${port} || exit 1`,
    `printf '%s %s HTTP/1.0\\r\\nHost: 127.0.0.1\\r\\nX-API-KEY: %s\\r\\nContent-Type: application/json\\r\\nContent-Length: %s\\r\\n\\r\\n' "$0" "$1" "$APISIX_ADMIN_KEY" "$2" >&3`,
    'cat >&3',
    'cat <&3',
  ].join('\n');
}

/** bash -c SCRIPT: the Control API's schema dump (it answers on the container's loopback only). */
export function schemaRequestScript(port = APISIX_CONTROL_PORT): string {
  return [
    `exec 3<>/dev/tcp/127.0.0.1/${port} || exit 1`,
    `printf 'GET /v1/schema HTTP/1.0\\r\\nHost: 127.0.0.1\\r\\n\\r\\n' >&3`,
    'cat <&3',
  ].join('\n');
}

/** Status and body of a raw HTTP/1.x response (HTTP/1.0 answers are never chunked). */
export function parseRawResponse(raw: string, what: string): { status: number; body: string } {
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(raw);
  const headerEnd = raw.indexOf('\r\n\r\n');
  if (!status || headerEnd < 0) {
    throw new ReconcileError(`${what}: no HTTP response (${JSON.stringify(raw.slice(0, 80))})`);
  }
  return { status: Number(status[1]), body: raw.slice(headerEnd + 4) };
}

export function composeExecTransport(docker: DockerRunner, schemaFile?: string): AdminTransport {
  const bash = (script: string, args: string[], input?: string) =>
    docker.compose(['exec', '-T', 'apisix', 'bash', '-c', script, ...args], {
      input: input ?? '',
      what: 'APISIX Admin API call (docker compose exec apisix)',
    });
  return {
    async request(method, path, body): Promise<AdminResponse> {
      if (!/^\/apisix\/admin\/[A-Za-z0-9_./-]+$/.test(path))
        throw new Error(`unexpected Admin API path ${path}`);
      const text = body !== undefined ? JSON.stringify(body) : '';
      const res = await bash(adminRequestScript(), [method, path, String(Buffer.byteLength(text))], text);
      const { status, body: raw } = parseRawResponse(res.stdout, `APISIX Admin API ${method} ${path}`);
      let parsed: unknown = raw;
      try {
        parsed = JSON.parse(raw);
      } catch {}
      return { status, body: parsed };
    },
    async schema(): Promise<ApisixSchemaDump> {
      if (schemaFile) return JSON.parse(await readFile(schemaFile, 'utf8')) as ApisixSchemaDump;
      const res = await bash(schemaRequestScript(), []);
      const { status, body } = parseRawResponse(res.stdout, 'APISIX Control API /v1/schema');
      if (status !== 200) throw new ReconcileError(`APISIX Control API /v1/schema answered ${status}`);
      return JSON.parse(body) as ApisixSchemaDump;
    },
  };
}
