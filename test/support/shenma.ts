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

/** The body the Zhuge Shenma extension 1.2.x sends to /v2/completions (docs/protocol.md §4.2). */
export function extensionBody(prefix: string, suffix: string, extra: Record<string, unknown> = {}) {
  const lines = prefix.split('\n');
  const linePrefix = lines[lines.length - 1] ?? '';
  const lineSuffix = suffix.split('\n')[0] ?? '';
  return {
    headers: {
      ide: 'vscode',
      'ide-version': '1.2.0',
      'ide-real-version': '1.98.2',
      'host-ip': '10.0.0.5',
      'api-key': 'eyJhbGciOi.x.y',
    },
    model: 'fastertransformer',
    temperature: 0.1,
    stop: [],
    completion_id: '7-3fa85f6457174562',
    prompt_options: { prefix, suffix, cursor_line_prefix: linePrefix, cursor_line_suffix: lineSuffix },
    language_id: 'python',
    beta_mode: false,
    calculate_hide_score: {
      is_whitespace_after_cursor: lineSuffix.trim() === '',
      prefix,
      document_length: prefix.length + suffix.length,
      prompt_end_pos: prefix.length,
      previous_label: 0,
      previous_label_timestamp: Date.now() - 3600,
    },
    file_project_path: '',
    project_path: '',
    code_path: '',
    user_id: '',
    git_path: '',
    repo: 'myproject',
    ...extra,
  };
}
