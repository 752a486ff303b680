import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../test/support/cli-process.js';
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
});
