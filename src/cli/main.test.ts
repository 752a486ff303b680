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
