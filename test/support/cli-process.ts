import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * `shenma …` as its own process, from the CLI source through tsx, the way the CLI tests run it:
 * output collected, a wait for a line, the exit code.
 */

const ROOT = path.resolve(import.meta.dirname, '../..');
// Absolute, because the CLI runs in a scratch directory where `tsx` would not resolve.
const TSX_LOADER = pathToFileURL(path.join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;

export interface ShenmaProcess {
  child: ChildProcess;
  exited: Promise<number | string>;
  waitFor(re: RegExp, ms?: number): Promise<RegExpMatchArray>;
  output(): { out: string; err: string };
}

export function spawnShenma(
  args: string[],
  cwd: string,
  env: Record<string, string> = {},
  input?: string,
  /** A command the CLI runs under, e.g. setpriv to drop privileges. */
  wrapper: readonly string[] = [],
): ShenmaProcess {
  const command = [process.execPath, '--import', TSX_LOADER, path.join(ROOT, 'src/cli/run.ts'), ...args];
  const [file, ...rest] = [...wrapper, ...command] as [string, ...string[]];
  const child = spawn(file, rest, {
    cwd,
    env: { ...process.env, ...env },
    stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  if (input !== undefined) child.stdin!.end(input);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => {
    out += d;
  });
  child.stderr!.on('data', (d) => {
    err += d;
  });
  const exited = new Promise<number | string>((resolve) =>
    child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)),
  );
  const waitFor = async (re: RegExp, ms = 30_000): Promise<RegExpMatchArray> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = out.match(re);
      if (m) return m;
      if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
        throw new Error(`did not see ${re} (exit ${child.exitCode}); stdout:\n${out}\nstderr:\n${err}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  return { child, exited, waitFor, output: () => ({ out, err }) };
}

/** `shenma users add` + `shenma tokens create` against a data directory; returns the token. */
export async function createUserToken(user: string, dataDir: string, cwd: string): Promise<string> {
  const add = spawnShenma(
    ['users', 'add', user, '--password-stdin', '--data-dir', dataDir],
    cwd,
    {},
    'pw 123456789\n',
  );
  if ((await add.exited) !== 0) throw new Error(`users add failed: ${add.output().err}`);
  const create = spawnShenma(['tokens', 'create', user, '--data-dir', dataDir], cwd);
  if ((await create.exited) !== 0) throw new Error(`tokens create failed: ${create.output().err}`);
  const token = /^(shm_[\w-]+)$/m.exec(create.output().out)?.[1];
  if (!token) throw new Error(`no token in: ${create.output().out}`);
  return token;
}
