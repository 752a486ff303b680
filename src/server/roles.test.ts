import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import {
  createScratchDatabase,
  postgresReachable,
  type ScratchDatabase,
} from '../../test/support/postgres.js';
import { reachableTempDir } from '../../test/support/temp-dir.js';
import { main } from '../cli/main.js';
import { parseConfig } from '../config/load.js';
import { type EmbeddedServer, parseRoleList, startEmbedded } from './embedded.js';

/** A deployed service runs `shenma start --roles …`: only those roles' routes answer. */

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function serve(roles: Parameters<typeof parseRoleList>[0]): Promise<EmbeddedServer> {
  const dataDir = reachableTempDir('shenma-roles-');
  let scratch: ScratchDatabase | undefined;
  if (await postgresReachable()) scratch = await createScratchDatabase('roles');
  const server = await startEmbedded({
    config: parseConfig({ ...(scratch ? { database: { url: scratch.url } } : {}) }),
    dataDir,
    port: 0,
    logLevel: 'silent',
    roles: parseRoleList(roles),
  });
  cleanups.push(async () => {
    await server.close();
    await scratch?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });
  return server;
}

describe('start --roles', () => {
  it('a completion-only process answers completion routes and health, not chat or login', async () => {
    const s = await serve('completion');
    // Served (and guarded): no credentials → 401, not 404.
    expect((await fetch(`${s.url}/v2/completions`, { method: 'POST' })).status).toBe(401);
    expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${s.url}/metrics`)).status).toBe(200);
    // Not served here.
    expect((await fetch(`${s.url}/v1/chat/completions`, { method: 'POST' })).status).toBe(404);
    expect((await fetch(`${s.url}/realms/gw/.well-known/openid-configuration`)).status).toBe(404);
    expect((await fetch(`${s.url}/captcha`)).status).toBe(404);
  });

  it('an identity + kaptcha process answers discovery and captchas, not completions', async () => {
    const s = await serve('identity,kaptcha');
    const discovery = await fetch(`${s.url}/realms/gw/.well-known/openid-configuration`);
    expect(discovery.status).toBe(200);
    expect(((await discovery.json()) as { issuer: string }).issuer).toMatch(/\/realms\/gw$/);
    expect((await fetch(`${s.url}/captcha`)).status).toBe(200);
    expect((await fetch(`${s.url}/v2/completions`, { method: 'POST' })).status).toBe(404);
  });

  it('refuses an unknown role, naming it and the choices', async () => {
    const errors: string[] = [];
    const code = await main(['start', '--roles', 'completion,gateway'], {
      out: () => {},
      err: (t) => errors.push(t),
      env: {},
      stdin: async () => '',
    });
    expect(code).toBe(2);
    expect(errors.join('\n')).toMatch(/unknown role "gateway"; choose from identity, completion, chat/);
    expect(() => parseRoleList(' , ')).toThrow(/no role given/);
  });
});
