// Tests `shenma tokens` (src/cli/tokens.ts) on the embedded database opened directly, on a running
// embedded server (through its admin socket) and on PostgreSQL, plus --expires parsing.

import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedEmbeddedDatabase } from '../../test/support/embedded-template.js';
import { createScratchDatabase, postgresReachable } from '../../test/support/postgres.js';
import { reachableTempDir } from '../../test/support/temp-dir.js';
import { parseConfig } from '../config/load.js';
import { TokenStore, UserStore } from '../identity/users.js';
import { type EmbeddedServer, startEmbedded } from '../server/embedded.js';
import { openDatabase } from '../storage/database.js';
import type { CliIO } from './io.js';
import { main } from './main.js';
import { parseExpiry } from './tokens.js';

async function shenma(argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIO = { out: (t) => out.push(t), err: (t) => err.push(t), env: {}, stdin: async () => '' };
  const code = await main(argv, io);
  return { code, out, err };
}

interface Stores {
  users: UserStore;
  tokens: TokenStore;
}

interface Target {
  argv: string[];
  server?: EmbeddedServer;
  /** Looks at the database as the server (or the next process) would. */
  inspect<T>(fn: (stores: Stores) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function tempDir(config = '{}\n'): Promise<{ dir: string; config: string }> {
  const dir = reachableTempDir('shenma-tokens-');
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  // Its own config file, so a ./shenma.yaml in the working directory cannot change the target.
  await writeFile(join(dir, 'shenma.yaml'), config);
  return { dir, config: join(dir, 'shenma.yaml') };
}

async function withDatabase<T>(open: Parameters<typeof openDatabase>[0], fn: (s: Stores) => Promise<T>) {
  const database = await openDatabase(open);
  try {
    return await fn({ users: new UserStore(database.db), tokens: new TokenStore(database.db) });
  } finally {
    await database.close();
  }
}

async function embeddedTarget(): Promise<Target> {
  const { dir, config } = await tempDir();
  const dataDir = join(dir, 'data');
  await seedEmbeddedDatabase(dataDir);
  return {
    argv: ['--config', config, '--data-dir', dataDir],
    inspect: (fn) => withDatabase({ dataDir }, fn),
    close: async () => {},
  };
}

async function serverTarget(): Promise<Target> {
  const { dir, config } = await tempDir();
  const dataDir = join(dir, 'data');
  await seedEmbeddedDatabase(dataDir);
  const server = await startEmbedded({ config: parseConfig({}), dataDir, port: 0, logLevel: 'silent' });
  const stores = { users: new UserStore(server.db.db), tokens: new TokenStore(server.db.db) };
  return {
    argv: ['--config', config, '--data-dir', dataDir],
    server,
    inspect: (fn) => fn(stores),
    close: () => server.close(),
  };
}

async function postgresTarget(): Promise<Target> {
  const scratch = await createScratchDatabase('clitokens');
  const { dir, config } = await tempDir(`database:\n  url: ${scratch.url}\n`);
  return {
    argv: ['--config', config, '--data-dir', join(dir, 'data')],
    inspect: (fn) => withDatabase({ url: scratch.url, dataDir: '' }, fn),
    close: () => scratch.drop(),
  };
}

const SLOW = 60_000;
const havePostgres = await postgresReachable();
if (!havePostgres) console.warn('[tokens] SKIPPING the PostgreSQL target: no server at SHENMA_TEST_PG_URL');

describe.each([
  ['the embedded database, no server running', embeddedTarget, true],
  ['a running embedded server (admin socket)', serverTarget, true],
  ['PostgreSQL via --config database.url', postgresTarget, havePostgres],
] as const)(
  'shenma tokens on %s',
  (_label, setup, enabled) => {
    let t: Target;
    let secret: string;
    let id: string;
    beforeAll(async () => {
      if (!enabled) return;
      t = await setup();
      cleanups.push(() => t.close());
      expect((await shenma(['users', 'add', 'alice', '--no-password', ...t.argv])).code).toBe(0);
    }, SLOW);

    it.skipIf(!enabled)('creates a token and prints its secret once, with a warning', async () => {
      const before = Date.now();
      const r = await shenma([
        'tokens',
        'create',
        'alice',
        '--name',
        'laptop',
        '--expires',
        '30d',
        ...t.argv,
      ]);
      expect(r.code).toBe(0);
      expect(r.out).toEqual([
        expect.stringMatching(
          /^Created token tok_[0-9a-f]+ "laptop" for alice \(expires \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\)\.$/,
        ),
        expect.stringMatching(/^shm_[\w-]{40,}$/),
        'Copy the secret above now: it will not be shown again.',
      ]);
      if (t.server) expect(r.err).toEqual([`(via the running server, pid ${process.pid})`]);
      secret = r.out[1]!;
      id = /tok_[0-9a-f]+/.exec(r.out[0]!)![0];

      const found = await t.inspect((s) => s.tokens.verify(secret));
      expect(found?.user.name).toBe('alice');
      const expires = found!.token.expiresAt!.getTime();
      expect(expires).toBeGreaterThanOrEqual(before + 30 * 86_400_000 - 1000);
      expect(expires).toBeLessThanOrEqual(Date.now() + 30 * 86_400_000 + 1000);
    });

    it.skipIf(!enabled)('the server takes the token at once, and refuses a request without one', async () => {
      if (!t.server) return;
      const post = (headers: Record<string, string>) =>
        fetch(`${t.server!.url}/v1/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body: JSON.stringify({ prompt: 'x = ', max_tokens: 4 }),
        });
      expect((await post({})).status).toBe(401);
      // No model is configured, so past auth it fails otherwise; only a 401 would mean "unknown token".
      expect((await post({ authorization: `Bearer ${secret}` })).status).not.toBe(401);
    });

    it.skipIf(!enabled)('lists tokens, all or one user’s, and never a secret', async () => {
      const second = await shenma(['tokens', 'create', 'alice', ...t.argv]);
      expect(second.out[0]).toMatch(/"default" for alice \(does not expire\)\.$/);
      const all = await shenma(['tokens', 'list', ...t.argv]);
      expect(all.code).toBe(0);
      expect(all.out[0]).toMatch(/^ID +USER +NAME +CREATED +EXPIRES +LAST USED +REVOKED$/);
      expect(all.out[1]).toMatch(new RegExp(`^${id} +alice +laptop +\\d{4}-\\S+ +\\d{4}-\\S+ +- +-$`));
      expect(all.out[2]).toMatch(/^tok_[0-9a-f]+ +alice +default +\d{4}-\S+ +- +- +-$/);
      expect(all.out.join('\n')).not.toContain('shm_');

      const mine = await shenma(['tokens', 'list', 'alice', ...t.argv]);
      expect(mine.out).toEqual(all.out);
      const nobody = await shenma(['tokens', 'list', 'nobody', ...t.argv]);
      expect(nobody.code).toBe(1);
      expect(nobody.err.at(-1)).toBe('shenma tokens: no user named "nobody"');
    });

    it.skipIf(!enabled)('refuses a token for an unknown user', async () => {
      const r = await shenma(['tokens', 'create', 'nobody', ...t.argv]);
      expect(r.code).toBe(1);
      expect(r.err.at(-1)).toBe('shenma tokens: no user named "nobody"');
    });

    it.skipIf(!enabled)(
      'revokes a token: it stops verifying at once; revoking twice is harmless',
      async () => {
        const r = await shenma(['tokens', 'revoke', id, ...t.argv]);
        expect(r.code).toBe(0);
        expect(r.out).toEqual([`Revoked token ${id} "laptop" of alice.`]);
        expect(await t.inspect((s) => s.tokens.verify(secret))).toBeUndefined();
        if (t.server) {
          const res = await fetch(`${t.server.url}/v1/completions`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${secret}` },
            body: JSON.stringify({ prompt: 'x = ' }),
          });
          expect(res.status).toBe(401);
        }

        const again = await shenma(['tokens', 'revoke', id, ...t.argv]);
        expect(again.code).toBe(0);
        expect(again.out[0]).toMatch(new RegExp(`^Token ${id} was already revoked \\(\\d{4}-`));
        const list = await shenma(['tokens', 'list', ...t.argv]);
        expect(list.out[1]).toMatch(new RegExp(`^${id} .* \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ$`));

        const unknown = await shenma(['tokens', 'revoke', 'tok_000000000000', ...t.argv]);
        expect(unknown.code).toBe(1);
        expect(unknown.err.at(-1)).toMatch(/no token with id "tok_000000000000"/);
      },
    );

    it.skipIf(!enabled)('a disabled user’s tokens stop verifying', async () => {
      const r = await shenma(['tokens', 'create', 'alice', '--name', 'ci', ...t.argv]);
      const live = r.out[1]!;
      expect(await t.inspect((s) => s.tokens.verify(live))).toBeDefined();
      expect((await shenma(['users', 'disable', 'alice', ...t.argv])).code).toBe(0);
      expect(await t.inspect((s) => s.tokens.verify(live))).toBeUndefined();
    });
  },
  SLOW,
);

describe('--expires', () => {
  const now = new Date('2030-06-15T12:00:00Z');
  it.each([
    ['30d', '2030-07-15T12:00:00.000Z'],
    ['12h', '2030-06-16T00:00:00.000Z'],
    ['90m', '2030-06-15T13:30:00.000Z'],
    ['2031-01-31', '2031-01-31T00:00:00.000Z'],
    ['2030-06-15T18:30', '2030-06-15T18:30:00.000Z'],
    ['2030-06-15T18:30:00Z', '2030-06-15T18:30:00.000Z'],
    ['2030-06-15T18:30:00+02:00', '2030-06-15T16:30:00.000Z'],
  ])('reads %s', (text, iso) => {
    expect(parseExpiry(text, now).toISOString()).toBe(iso);
  });

  it.each([
    ['0d', /more than zero/],
    ['30', /a duration like 30d/],
    ['2w', /a duration like 30d/],
    ['tomorrow', /a duration like 30d/],
    ['2030-02-31', /not a real date/],
    ['2030-06-15', /is not in the future/],
    ['2020-01-01T00:00:00Z', /is not in the future/],
  ])('refuses %s with exit 2', (text, message) => {
    expect(() => parseExpiry(text, now)).toThrow(message);
    expect(() => parseExpiry(text, now)).toThrow(expect.objectContaining({ exitCode: 2 }));
  });

  it('is checked before anything is opened', async () => {
    const r = await shenma([
      'tokens',
      'create',
      'alice',
      '--expires',
      'soon',
      '--data-dir',
      '/nonexistent/x',
    ]);
    expect(r.code).toBe(2);
    expect(r.err).toEqual([expect.stringMatching(/^shenma tokens: --expires must be a duration/)]);
  });
});

describe('shenma tokens argument handling', () => {
  it.each([
    [['tokens'], /missing subcommand/],
    [['tokens', 'mint'], /unknown subcommand "mint"/],
    [['tokens', 'create'], /tokens create: missing USER/],
    [['tokens', 'revoke'], /tokens revoke: missing ID/],
    [['tokens', 'list', 'a', 'b'], /unexpected argument "b"/],
    [['tokens', 'revoke', 'x', '--expires', '1d'], /tokens revoke does not take --expires/],
    [['tokens', 'create', 'x', '--name', ' '], /--name must not be empty/],
  ])('refuses %j with exit 2', async (argv, message) => {
    const r = await shenma(argv);
    expect(r.code).toBe(2);
    expect(r.err[0]).toMatch(/^shenma tokens: /);
    expect(r.err[0]).toMatch(message);
  });
});
