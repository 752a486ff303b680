import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { DestinationStream } from 'pino';
import { parseConfig } from '../../src/config/load.js';
import type { ShenmaConfigInput } from '../../src/config/schema.js';
import { TokenStore, UserStore } from '../../src/identity/users.js';
import { type EmbeddedServer, startEmbedded } from '../../src/server/embedded.js';
import { createScratchDatabase, postgresReachable, type ScratchDatabase } from './postgres.js';

/**
 * Starts the embedded shape the way `shenma start` does, on a free port, with its own data
 * directory and (when PostgreSQL is there) its own database.
 */
/** Tests read JSON replies field by field; `any` keeps them short, the assertions check the shape. */
// biome-ignore lint/suspicious/noExplicitAny: test-only convenience, see above
export type JsonResponse = Omit<Response, 'json'> & { json(): Promise<any> };

export interface TestShenma {
  server: EmbeddedServer;
  url: string;
  /** The server's data directory (signing keys, embedded database). */
  dataDir: string;
  /** A personal API token of the user `tester`, sent by post/get unless a call sets its own auth. */
  token: string;
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<JsonResponse>;
  get(path: string, headers?: Record<string, string>): Promise<JsonResponse>;
  close(): Promise<void>;
}

export async function startTestShenma(
  config: ShenmaConfigInput,
  /** Where the JSON log lines go (at the configured level), for tests that read them. */
  opts: { logStream?: DestinationStream } = {},
): Promise<TestShenma> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'shenma-test-'));
  let scratch: ScratchDatabase | undefined;
  if (!config.database?.url && (await postgresReachable())) scratch = await createScratchDatabase('e2e');
  const parsed = parseConfig(
    { ...config, ...(scratch ? { database: { url: scratch.url } } : {}) },
    'test config',
  );
  const server = await startEmbedded({
    config: parsed,
    dataDir,
    port: 0,
    ...(opts.logStream
      ? { logStream: opts.logStream, logLevel: parsed.log.level }
      : { logLevel: process.env.SHENMA_TEST_LOG ?? 'silent' }),
  });
  const url = server.url;
  await new UserStore(server.db.db).add('tester', 'tester-password-1');
  const { secret: token } = await new TokenStore(server.db.db).create('tester', { name: 'tests' });
  const auth = (headers: Record<string, string>) =>
    'authorization' in headers || 'api-key' in headers || 'x-api-key' in headers
      ? headers
      : { authorization: `Bearer ${token}`, ...headers };
  return {
    server,
    url,
    dataDir,
    token,
    post: (p, body, headers = {}) =>
      fetch(url + p, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...auth(headers) },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      }),
    get: (p, headers = {}) => fetch(url + p, { headers: auth(headers) }),
    close: async () => {
      await server.close();
      await scratch?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export { extensionBody } from './extension-body.js';
