// Tests `shenma users` (src/cli/users.ts) on the three places its operations can run: the embedded
// database opened directly, a running embedded server (through its admin socket), and PostgreSQL.

import { link, lstat, mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedEmbeddedDatabase } from '../../test/support/embedded-template.js';
import {
  createScratchDatabase,
  postgresReachable,
  type ScratchDatabase,
} from '../../test/support/postgres.js';
import { dataDirExposure, reachableTempDir } from '../../test/support/temp-dir.js';
import { parseConfig } from '../config/load.js';
import { TokenStore, UserStore } from '../identity/users.js';
import { adminSocketPath, startAdminSocket } from '../server/admin-socket.js';
import { type EmbeddedServer, startEmbedded } from '../server/embedded.js';
import { acquireDataDirLock } from '../storage/data-dir-lock.js';
import { openDatabase } from '../storage/database.js';
import { main } from './main.js';
import type { SecretPrompter, UsersIO } from './users.js';

function captureIO(opts: { stdin?: string; terminal?: SecretPrompter | null; env?: NodeJS.ProcessEnv } = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const io: UsersIO = {
    out: (t) => out.push(t),
    err: (t) => err.push(t),
    env: opts.env ?? {},
    stdin: async () => opts.stdin ?? '',
    // Never the real terminal: without one, a test would hang waiting for a key.
    terminal: opts.terminal ?? null,
  };
  return { io, out, err };
}

async function shenma(argv: string[], opts: Parameters<typeof captureIO>[0] = {}) {
  const { io, out, err } = captureIO(opts);
  const code = await main(argv, io);
  return { code, out, err };
}

interface Stores {
  users: UserStore;
  tokens: TokenStore;
}

/** Where the commands run, and a way to look at the result as the server (or a new process) would. */
interface Target {
  argv: string[];
  viaServer: boolean;
  server?: EmbeddedServer;
  inspect<T>(fn: (stores: Stores) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function tempDir(): Promise<string> {
  const dir = reachableTempDir('shenma-users-');
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A config file of its own, so a ./shenma.yaml in the working directory cannot change the target. */
async function configFile(dir: string, text = '{}\n'): Promise<string> {
  const file = join(dir, 'shenma.yaml');
  await writeFile(file, text);
  return file;
}

async function embeddedTarget(): Promise<Target> {
  const dir = await tempDir();
  const dataDir = join(dir, 'data');
  await seedEmbeddedDatabase(dataDir);
  return {
    argv: ['--config', await configFile(dir), '--data-dir', dataDir],
    viaServer: false,
    // Opened and closed around each look: while open it holds the lock the CLI needs.
    inspect: async (fn) => {
      const database = await openDatabase({ dataDir });
      try {
        return await fn({ users: new UserStore(database.db), tokens: new TokenStore(database.db) });
      } finally {
        await database.close();
      }
    },
    close: async () => {},
  };
}

async function serverTarget(): Promise<Target> {
  const dir = await tempDir();
  const dataDir = join(dir, 'data');
  await seedEmbeddedDatabase(dataDir);
  const server = await startEmbedded({ config: parseConfig({}), dataDir, port: 0, logLevel: 'silent' });
  const stores = { users: new UserStore(server.db.db), tokens: new TokenStore(server.db.db) };
  return {
    argv: ['--config', await configFile(dir), '--data-dir', dataDir],
    viaServer: true,
    server,
    inspect: (fn) => fn(stores),
    close: () => server.close(),
  };
}

async function postgresTarget(): Promise<Target> {
  const dir = await tempDir();
  const scratch: ScratchDatabase = await createScratchDatabase('cliusers');
  const config = await configFile(dir, `database:\n  url: ${scratch.url}\n`);
  return {
    argv: ['--config', config, '--data-dir', join(dir, 'data')],
    viaServer: false,
    inspect: async (fn) => {
      const database = await openDatabase({ url: scratch.url, dataDir: '' });
      try {
        return await fn({ users: new UserStore(database.db), tokens: new TokenStore(database.db) });
      } finally {
        await database.close();
      }
    },
    close: () => scratch.drop(),
  };
}

/** A direct embedded-server start per command adds up on a cold data directory, more so on a busy CI machine. */
const SLOW = 60_000;

const havePostgres = await postgresReachable();
if (!havePostgres) console.warn('[users] SKIPPING the PostgreSQL target: no server at SHENMA_TEST_PG_URL');

describe.each([
  ['the embedded database, no server running', embeddedTarget, true],
  ['a running embedded server (admin socket)', serverTarget, true],
  ['PostgreSQL via --config database.url', postgresTarget, havePostgres],
] as const)(
  'shenma users on %s',
  (_label, setup, enabled) => {
    let t: Target;
    beforeAll(async () => {
      if (!enabled) return;
      t = await setup();
      cleanups.push(() => t.close());
    }, 60_000);

    it.skipIf(!enabled)(
      'adds a user with a password from stdin, visible at once to whoever holds the database',
      async () => {
        const r = await shenma(['users', 'add', 'alice', '--password-stdin', ...t.argv], {
          stdin: 'correct horse\n',
        });
        expect(r).toMatchObject({ code: 0 });
        expect(r.out).toEqual([expect.stringMatching(/^Added user alice \(usr_[\w-]+\)\.$/)]);
        if (t.viaServer) expect(r.err).toEqual([`(via the running server, pid ${process.pid})`]);
        else expect(r.err).toEqual([]);
        const user = await t.inspect((s) => s.users.checkPassword('alice', 'correct horse'));
        expect(user?.name).toBe('alice');
      },
      SLOW,
    );

    it.skipIf(!enabled)('adds a token-only user with --no-password and lists both', async () => {
      const r = await shenma([
        'users',
        'add',
        'bob',
        '--no-password',
        '--email',
        'bob@example.com',
        ...t.argv,
      ]);
      expect(r.code).toBe(0);
      expect(r.out[1]).toMatch(/no password.*shenma tokens create bob/);

      const list = await shenma(['users', 'list', ...t.argv]);
      expect(list.code).toBe(0);
      expect(list.out[0]).toMatch(/^NAME +EMAIL +STATUS +PASSWORD +CREATED$/);
      expect(list.out.slice(1)).toEqual([
        expect.stringMatching(/^alice +- +enabled +yes +\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
        expect.stringMatching(/^bob +bob@example\.com +enabled +no +\d{4}-/),
      ]);
      expect(list.out.join('\n')).not.toContain('scrypt');
    });

    it.skipIf(!enabled)(
      'refuses a duplicate, a bad name and a short password with one line, exit 1',
      async () => {
        const dup = await shenma(['users', 'add', 'alice', '--no-password', ...t.argv]);
        expect(dup.code).toBe(1);
        expect(dup.err.at(-1)).toBe('shenma users: user "alice" already exists');

        const bad = await shenma(['users', 'add', 'no spaces', '--no-password', ...t.argv]);
        expect(bad.code).toBe(1);
        expect(bad.err).toEqual([
          expect.stringMatching(/^shenma users: user name "no spaces" is not allowed/),
        ]);

        const short = await shenma(['users', 'add', 'carol', '--password-stdin', ...t.argv], {
          stdin: 'short\n',
        });
        expect(short.code).toBe(1);
        expect(short.err).toEqual(['shenma users: password must be at least 8 characters']);
        expect(await t.inspect((s) => s.users.findByName('carol'))).toBeUndefined();
      },
    );

    it.skipIf(!enabled)('disables and enables a user: its password stops and starts working', async () => {
      const off = await shenma(['users', 'disable', 'alice', ...t.argv]);
      expect(off.code).toBe(0);
      expect(off.out).toEqual(['Disabled user alice: its password and API tokens no longer work.']);
      expect(await t.inspect((s) => s.users.checkPassword('alice', 'correct horse'))).toBeUndefined();
      const list = await shenma(['users', 'list', ...t.argv]);
      expect(list.out[1]).toMatch(/^alice +- +disabled /);

      const on = await shenma(['users', 'enable', 'alice', ...t.argv]);
      expect(on.out).toEqual(['Enabled user alice.']);
      expect(await t.inspect((s) => s.users.checkPassword('alice', 'correct horse'))).toBeDefined();

      const missing = await shenma(['users', 'disable', 'nobody', ...t.argv]);
      expect(missing.code).toBe(1);
      expect(missing.err.at(-1)).toBe('shenma users: no user named "nobody"');
    });

    it.skipIf(!enabled)('changes a password (first line of stdin only, CRLF stripped)', async () => {
      const r = await shenma(['users', 'passwd', 'alice', '--password-stdin', ...t.argv], {
        stdin: 'battery staple\r\nignored second line\n',
      });
      expect(r.code).toBe(0);
      expect(r.out).toEqual(['Changed the password of alice.']);
      await t.inspect(async (s) => {
        expect(await s.users.checkPassword('alice', 'battery staple')).toBeDefined();
        expect(await s.users.checkPassword('alice', 'correct horse')).toBeUndefined();
      });
      const missing = await shenma(['users', 'passwd', 'nobody', '--password-stdin', ...t.argv], {
        stdin: 'long enough\n',
      });
      expect(missing.code).toBe(1);
      expect(missing.err.at(-1)).toBe('shenma users: no user named "nobody"');
    });

    it.skipIf(!enabled)('asks twice on a terminal, and refuses two different answers', async () => {
      const answers = ['terminal pw 1', 'terminal pw 1'];
      const asked: string[] = [];
      const terminal = {
        promptSecret: async (q: string) => {
          asked.push(q);
          return answers.shift()!;
        },
      };
      const ok = await shenma(['users', 'passwd', 'bob', ...t.argv], { terminal });
      expect(ok.code).toBe(0);
      expect(asked).toEqual(['New password: ', 'Repeat the password: ']);
      expect(await t.inspect((s) => s.users.checkPassword('bob', 'terminal pw 1'))).toBeDefined();

      answers.push('terminal pw 2', 'terminal pw 3');
      const differ = await shenma(['users', 'passwd', 'bob', ...t.argv], { terminal });
      expect(differ.code).toBe(1);
      expect(differ.err).toEqual(['shenma users: the two passwords differ; nothing was changed']);
    });
  },
  SLOW,
);

describe('shenma users argument handling', () => {
  it.each([
    [['users'], /missing subcommand/],
    [['users', 'frobnicate'], /unknown subcommand "frobnicate"/],
    [['users', 'add'], /users add: missing NAME/],
    [['users', 'list', 'extra'], /unexpected argument "extra"/],
    [['users', 'list', '--email', 'a@b'], /users list does not take --email/],
    [['users', 'add', 'x', '--no-password', '--password-stdin'], /cannot be used together/],
    [['users', 'add', 'x', '--no-password', '--email', 'nope'], /--email must look like name@host/],
    [['users', 'add', 'x', '--bogus'], /bogus/],
  ])('refuses %j with exit 2 and a one-line reason', async (argv, message) => {
    const r = await shenma(argv);
    expect(r.code).toBe(2);
    expect(r.err[0]).toMatch(/^shenma users: /);
    expect(r.err[0]).toMatch(message);
  });

  it('says to use --password-stdin when stdin is not a terminal', async () => {
    const dir = await tempDir();
    const r = await shenma(['users', 'add', 'dora', '--data-dir', dir], { terminal: null });
    expect(r.code).toBe(1);
    expect(r.err).toEqual([
      expect.stringMatching(/standard input is not a terminal.*--password-stdin.*--no-password/),
    ]);
  });

  it('prints usage for --help', async () => {
    const r = await shenma(['users', '--help']);
    expect(r.code).toBe(0);
    expect(r.out[0]).toMatch(/^Usage: shenma users <add\|list\|disable\|enable\|passwd>/);
  });
});

describe('the admin socket', () => {
  it(
    'is a 0600 socket while the server runs, and is removed when it stops',
    async () => {
      const dataDir = join(await tempDir(), 'data');
      const server = await startEmbedded({ config: parseConfig({}), dataDir, port: 0, logLevel: 'silent' });
      try {
        const info = await stat(adminSocketPath(dataDir));
        expect(info.isSocket()).toBe(true);
        expect(info.mode & 0o777).toBe(0o600);
        expect(dataDirExposure(dataDir)).toEqual([]);
      } finally {
        await server.close();
      }
      await expect(lstat(adminSocketPath(dataDir))).rejects.toMatchObject({ code: 'ENOENT' });
    },
    SLOW,
  );

  it(
    'replaces a socket left behind by a crashed server; the CLI meanwhile ignores the dead one',
    async () => {
      const dataDir = join(await tempDir(), 'data');
      // A dead socket file: bound by a server that is gone (the link outlives its close).
      await mkdir(dataDir, { recursive: true, mode: 0o700 });
      const scratch = join(dataDir, 'dead.sock');
      const dead = createServer();
      await new Promise<void>((resolve) => dead.listen(scratch, resolve));
      await link(scratch, adminSocketPath(dataDir));
      await new Promise((r) => dead.close(r));
      expect((await lstat(adminSocketPath(dataDir))).isSocket()).toBe(true);

      const direct = await shenma([
        'users',
        'list',
        '--data-dir',
        dataDir,
        '--config',
        await configFile(dataDir),
      ]);
      expect(direct).toMatchObject({ code: 0, err: [] });

      const database = await openDatabase({ dataDir });
      const log = { info: () => {}, warn: () => {}, error: () => {} };
      const socket = await startAdminSocket({
        dataDir,
        users: new UserStore(database.db),
        tokens: new TokenStore(database.db),
        log,
      });
      try {
        const via = await shenma([
          'users',
          'list',
          '--data-dir',
          dataDir,
          '--config',
          join(dataDir, 'shenma.yaml'),
        ]);
        expect(via.code).toBe(0);
        expect(via.err).toEqual([`(via the running server, pid ${process.pid})`]);
      } finally {
        await socket.close();
        await database.close();
      }
    },
    SLOW,
  );

  it('says what is happening when the database is held and nobody answers the socket', async () => {
    const dataDir = join(await tempDir(), 'data');
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    const lock = await acquireDataDirLock(dataDir);
    try {
      const r = await shenma(
        ['users', 'list', '--data-dir', dataDir, '--config', await configFile(dataDir)],
        {
          env: { SHENMA_ADMIN_WAIT_MS: '300' },
        },
      );
      expect(r.code).toBe(1);
      expect(r.err).toEqual([
        expect.stringMatching(
          new RegExp(
            `^shenma users: the embedded database in ${dataDir} is held by process ${process.pid}.*` +
              'there is no admin socket.*server still starting, a stuck server',
          ),
        ),
      ]);
    } finally {
      await lock.release();
    }
  });
});
