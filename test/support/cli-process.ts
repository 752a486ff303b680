import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * `shenma ...` as its own process, run from the source with tsx, the way an operator runs the
 * CLI: stdout and stderr collected, `waitFor` a line, `exited` for the exit code.
 */

const ROOT = path.resolve(import.meta.dirname, '../..');
// Absolute, because the CLI runs in a scratch directory where `tsx` would not resolve.
const TSX_LOADER = pathToFileURL(path.join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
export const CLI_ENTRY = path.join(ROOT, 'src/cli/run.ts');

export interface CliProcess {
  child: ChildProcess;
  /** The exit code, or the signal's name when it was killed. */
  exited: Promise<number | string>;
  /**
   * Resolves with the first match in stdout; rejects if the process exits or `ms` pass first. The
   * default is generous: it guards against a hang, it does not measure speed (a busy machine is slow).
   */
  waitFor(re: RegExp, ms?: number): Promise<RegExpMatchArray>;
  output(): { out: string; err: string };
  /** stdout parsed as JSON log lines (lines that are not JSON are returned as { text }). */
  logLines(): Record<string, unknown>[];
}

const running = new Set<ChildProcess>();

/** Stops every CLI process a test left running (for afterAll). */
export function killAllCliProcesses(): void {
  for (const c of running) c.kill('SIGKILL');
}

export function runCli(
  args: string[],
  cwd: string,
  env: Record<string, string> = {},
  input?: string,
  /** A command the CLI runs under, e.g. setpriv to drop privileges. */
  wrapper: readonly string[] = [],
): CliProcess {
  const command = [process.execPath, '--import', TSX_LOADER, CLI_ENTRY, ...args];
  const [file, ...rest] = [...wrapper, ...command] as [string, ...string[]];
  const child = spawn(file, rest, {
    cwd,
    env: { ...process.env, ...env },
    stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  running.add(child);
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
    child.on('exit', (code, signal) => {
      running.delete(child);
      resolve(code ?? signal ?? -1);
    }),
  );
  const waitFor = async (re: RegExp, ms = 180_000): Promise<RegExpMatchArray> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = out.match(re);
      if (m) return m;
      if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
        throw new Error(`did not see ${re} (exit ${child.exitCode}); stdout:\n${out}\nstderr:\n${err}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const logLines = () =>
    out
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => {
        try {
          return JSON.parse(l) as Record<string, unknown>;
        } catch {
          return { text: l };
        }
      });
  return { child, exited, waitFor, output: () => ({ out, err }), logLines };
}

/** `shenma users add` + `shenma tokens create` against a data directory; returns the token. */
export async function createUserToken(user: string, dataDir: string, cwd: string): Promise<string> {
  const add = runCli(
    ['users', 'add', user, '--password-stdin', '--data-dir', dataDir],
    cwd,
    {},
    'pw 123456789\n',
  );
  if ((await add.exited) !== 0) throw new Error(`users add failed: ${add.output().err}`);
  const create = runCli(['tokens', 'create', user, '--data-dir', dataDir], cwd);
  if ((await create.exited) !== 0) throw new Error(`tokens create failed: ${create.output().err}`);
  const token = /^(shm_[\w-]+)$/m.exec(create.output().out)?.[1];
  if (!token) throw new Error(`no token in: ${create.output().out}`);
  return token;
}
