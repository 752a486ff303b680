import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import { TokenStore, UserStore } from '../src/identity/users.js';
import { startEmbedded } from '../src/server/embedded.js';
import { type FakeModel, startFakeModel } from './fake-model/server.js';

/**
 * Issue #7 item 2: answered chats lost from the usage ledger across restarts. The ledger was keyed
 * on the request id, which is the client's x-request-id (repeatable) or the server's counter
 * (req-1, req-2, … again after every start), and a duplicate was silently ignored. Three starts of
 * the embedded server on one data directory, chats each time, some repeating a client request id:
 * every answered chat must have its own row.
 */

let fake: FakeModel;
const dataDir = mkdtempSync(path.join(tmpdir(), 'shenma-restart-'));

beforeAll(async () => {
  fake = await startFakeModel();
});
afterAll(async () => {
  await fake?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const config = () =>
  parseConfig(
    { models: [{ name: 'assistant', kind: 'openai', url: `${fake.url}/v1`, roles: ['chat'] }] },
    'test config',
  );

describe('usage ledger across restarts', () => {
  it('keeps a row for every answered chat over three restarts, repeated client request ids included', async () => {
    let token = '';
    let answered = 0;
    const requestIds: string[] = [];
    for (let start = 0; start < 3; start++) {
      const server = await startEmbedded({ config: config(), dataDir, port: 0, logLevel: 'silent' });
      try {
        if (start === 0) {
          await new UserStore(server.db.db).add('tester', 'tester-password-1');
          token = (await new TokenStore(server.db.db).create('tester', { name: 'tests' })).secret;
        }
        for (let i = 0; i < 6; i++) {
          // Every other chat repeats one client-chosen id, as a client with a fixed id would.
          const headers: Record<string, string> = {
            'content-type': 'application/json',
            authorization: `Bearer ${token}`,
            ...(i % 2 === 0 ? { 'x-request-id': 'client-fixed-id' } : {}),
          };
          const res = await fetch(`${server.url}/v1/chat/completions`, {
            method: 'POST',
            headers,
            body: JSON.stringify({
              model: 'assistant',
              messages: [{ role: 'user', content: `q ${start}-${i}` }],
            }),
          });
          expect(res.status).toBe(200);
          await res.json();
          answered += 1;
          requestIds.push(res.headers.get('x-request-id') ?? '');
        }
      } finally {
        await server.close();
      }
    }
    // Server-made request ids never repeat across starts.
    const serverMade = requestIds.filter((id) => id !== 'client-fixed-id');
    expect(new Set(serverMade).size).toBe(serverMade.length);

    const server = await startEmbedded({ config: config(), dataDir, port: 0, logLevel: 'silent' });
    try {
      const rows = await server.db.db
        .selectFrom('usage_ledger')
        .select(['entry_id', 'request_id', 'status'])
        .execute();
      expect(rows).toHaveLength(answered);
      expect(rows.every((r) => r.status === 'ok')).toBe(true);
      expect(new Set(rows.map((r) => r.entry_id)).size).toBe(answered);
      expect(rows.filter((r) => r.request_id === 'client-fixed-id')).toHaveLength(9);
    } finally {
      await server.close();
    }
  }, 120_000);
});
