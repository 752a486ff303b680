import { readFile } from 'node:fs/promises';
import type { ApisixSchemaDump } from './apisix-schema.js';
import type { DockerRunner } from './docker.js';
import type { AdminResponse, AdminTransport } from './reconcile.js';
import { APISIX_ADMIN_PORT } from './topology.js';

/**
 * The Admin API reached from inside the APISIX container (`docker compose exec apisix curl`),
 * so it is never published. The key is the container's own $APISIX_ADMIN_KEY: it never appears
 * in a command line on the host. Bodies go through stdin.
 */
export function composeExecTransport(docker: DockerRunner, schemaFile?: string): AdminTransport {
  const curl = async (script: string, input?: string) =>
    docker.compose(['exec', '-T', 'apisix', 'sh', '-c', script], {
      ...(input !== undefined ? { input } : {}),
      what: 'APISIX Admin API call (docker compose exec apisix curl)',
    });
  return {
    async request(method, path, body): Promise<AdminResponse> {
      if (!/^\/apisix\/admin\/[A-Za-z0-9_./-]+$/.test(path))
        throw new Error(`unexpected Admin API path ${path}`);
      const data = body !== undefined ? ` -H 'Content-Type: application/json' --data-binary @-` : '';
      const res = await curl(
        `curl -sS -X ${method} -H "X-API-KEY: $APISIX_ADMIN_KEY"${data} -w '\\n%{http_code}' 'http://127.0.0.1:${APISIX_ADMIN_PORT}${path}'`,
        body !== undefined ? JSON.stringify(body) : undefined,
      );
      const text = res.stdout.replace(/\n$/, '');
      const cut = text.lastIndexOf('\n');
      const status = Number(text.slice(cut + 1));
      const raw = cut >= 0 ? text.slice(0, cut) : '';
      let parsed: unknown = raw;
      try {
        parsed = JSON.parse(raw);
      } catch {}
      return { status: Number.isFinite(status) ? status : 0, body: parsed };
    },
    async schema(): Promise<ApisixSchemaDump> {
      if (schemaFile) return JSON.parse(await readFile(schemaFile, 'utf8')) as ApisixSchemaDump;
      const res = await curl('curl -sSf http://127.0.0.1:9090/v1/schema');
      return JSON.parse(res.stdout) as ApisixSchemaDump;
    },
  };
}
