import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../test/support/cli-process.js';
import { reachableTempDir } from '../../test/support/temp-dir.js';
import type { CliIO } from './io.js';
import { main } from './main.js';
import { USAGE } from './usage.js';

function memoryIO(): CliIO & { outText(): string; errText(): string } {
  let out = '';
  let err = '';
  return {
    out: (t) => {
      out += `${t}\n`;
    },
    err: (t) => {
      err += `${t}\n`;
    },
    env: {},
    stdin: async () => '',
    outText: () => out,
    errText: () => err,
  };
}

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));

describe('shenma --version', () => {
  it.each(['--version', '-V', 'version'])('%s prints the package version', async (flag) => {
    const io = memoryIO();
    expect(await main([flag], io)).toBe(0);
    expect(io.outText()).toBe(`shenma ${pkg.version}\n`);
  });
});

describe('shenma <command> --help', () => {
  it.each(Object.keys(USAGE))('%s --help prints its usage and nothing else', async (name) => {
    const io = memoryIO();
    expect(await main([name, '--help'], io)).toBe(0);
    expect(io.outText()).toBe(`${USAGE[name as keyof typeof USAGE]}\n`);
    expect(io.errText()).toBe('');
  });

  it('answers without loading the command: no library notice on stderr', async () => {
    // `start` loads the whole server (oidc-provider warns about the runtime on import).
    const run = runCli(['start', '--help'], process.cwd());
    expect(await run.exited).toBe(0);
    expect(run.output().err).toBe('');
    expect(run.output().out).toBe(`${USAGE.start}\n`);
  });

  it('a PGlite data directory stops `shenma start` and `shenma users` with the one-line way out, no stack trace', async () => {
    const dir = reachableTempDir('shenma-cli-pglite-');
    try {
      mkdirSync(path.join(dir, 'pgdata'), { mode: 0o700 });
      writeFileSync(path.join(dir, 'pgdata', 'PG_VERSION'), '17\n');
      for (const args of [
        ['start', '--data-dir', dir, '--port', '0'],
        ['users', 'list', '--data-dir', dir],
      ]) {
        const run = runCli(args, dir);
        expect(await run.exited, args.join(' ')).toBe(1);
        const text = run.output().out + run.output().err;
        expect(text, args.join(' ')).toMatch(/PGlite.*docs\/embedded-database\.md/s);
        expect(text, args.join(' ')).not.toMatch(/\n\s+at /);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('what the machine or the operator got wrong is one line, never a stack trace', () => {
  const scratch = () => {
    const d = reachableTempDir('shenma-cli-problems-');
    return d;
  };

  /** Runs the command in-process; a stack trace would be an uncaught throw, not exit 1. */
  async function oneLine(argv: string[], cwd?: string): Promise<string> {
    const io = memoryIO();
    const before = process.cwd();
    if (cwd) process.chdir(cwd);
    try {
      const code = await main(argv, io);
      expect(code, io.errText()).not.toBe(0);
    } finally {
      process.chdir(before);
    }
    const err = io.errText();
    expect(err).not.toMatch(/\n\s+at /);
    expect(err.trim().split('\n')).toHaveLength(1);
    return err;
  }

  it('a path where a directory must go, or a directory where a file must', async () => {
    const dir = scratch();
    const file = path.join(dir, 'a-file');
    writeFileSync(file, 'x');
    writeFileSync(path.join(dir, 'shenma.yaml'), 'models: []\n');
    expect(
      await oneLine(['users', 'list', '--data-dir', file, '--config', path.join(dir, 'shenma.yaml')]),
    ).toMatch(new RegExp(`^shenma users: cannot mkdir ${file}: something else is already there`));
    expect(await oneLine(['routes', 'export', '--config', dir])).toMatch(
      /^shenma routes: cannot read config file .*: EISDIR/,
    );
    rmSync(dir, { recursive: true, force: true });
  });

  it('a config file that is not a mapping, or that expands aliases without end', async () => {
    const dir = scratch();
    const list = path.join(dir, 'list.yaml');
    writeFileSync(list, '- a\n- b\n');
    expect(
      await oneLine(['init', '--non-interactive', '--config', list, '--public-url', 'https://s.example.com']),
    ).toContain(`${list}: the top level must be a mapping`);
    const bomb = path.join(dir, 'bomb.yaml');
    const lines = ['a: &a [x, x, x, x, x, x, x, x, x]'];
    for (let i = 0; i < 9; i++)
      lines.push(`${'bcdefghij'[i]}: &${'bcdefghij'[i]} [${Array(9).fill(`*${'abcdefghi'[i]}`).join(', ')}]`);
    writeFileSync(bomb, `${lines.join('\n')}\n`);
    expect(await oneLine(['users', 'list', '--config', bomb, '--data-dir', path.join(dir, 'd')])).toContain(
      'is not usable YAML',
    );
    rmSync(dir, { recursive: true, force: true });
  });

  it('TLS files that are not there, or not PEM, are refused by init', async () => {
    const dir = scratch();
    const notPem = path.join(dir, 'cert.txt');
    writeFileSync(notPem, 'hello');
    const init = (cert: string) =>
      oneLine([
        'init',
        '--non-interactive',
        '--config',
        path.join(dir, 'shenma.yaml'),
        '--public-url',
        'https://s.example.com',
        '--tls-cert',
        cert,
        '--tls-key',
        cert,
      ]);
    expect(await init('/nonexistent/cert.pem')).toContain(
      '--tls-cert /nonexistent/cert.pem: cannot read it (ENOENT)',
    );
    expect(await init(notPem)).toContain(`--tls-cert ${notPem}: not a PEM file holding a certificate`);
    rmSync(dir, { recursive: true, force: true });
  });

  it('an --admin-url that is not a URL', async () => {
    expect(await oneLine(['routes', 'diff', '--admin-url', 'notaurl'])).toContain(
      '--admin-url must be an http(s) URL',
    );
  });
});
