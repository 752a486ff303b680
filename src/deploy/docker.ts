import { spawn } from 'node:child_process';
import path from 'node:path';

/**
 * Every docker call goes through here: `docker compose` on the rendered folder (so Compose reads
 * its .env), the exact command printed with --verbose, and a failure turned into one line that
 * says what failed and the last thing docker said.
 */

export class DockerError extends Error {
  override readonly name = 'DockerError';
  constructor(
    message: string,
    readonly code: number | null,
    readonly stderr: string,
  ) {
    super(message);
  }
}

export interface DockerResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  input?: string;
  allowFailure?: boolean;
  /** What the call does, for the error line. */
  what?: string;
  /** Let docker write to our stdout/stderr directly instead of capturing. */
  passthrough?: boolean;
  /** Extra environment for this call (secrets handed to `-e NAME` without putting them on argv). */
  env?: Record<string, string>;
  /** Each line of stdout as it comes (long jobs such as a weights pull), besides capturing it. */
  onLine?: (line: string) => void;
}

export interface DockerRunnerOptions {
  /** The rendered deploy folder (compose.yaml and .env). */
  dir: string;
  verbose?: boolean;
  log?: (line: string) => void;
  /** The docker executable (default `docker` on PATH). */
  bin?: string;
  env?: NodeJS.ProcessEnv;
}

/** Shell-style quoting for the printed command only; nothing is run through a shell. */
function quote(arg: string): string {
  return /^[A-Za-z0-9_./:=@,+-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`;
}

/** A line that says what failed, as Docker and Compose word their errors. */
const TELLING = /\b(error|unknown (command|flag|shorthand flag)|cannot|denied|no such|not found|invalid)\b/i;

/**
 * The line of Docker's output worth showing: the first that says what failed, else the last.
 * Docker often ends with advice ("Run 'docker --help' for more information") below the reason.
 */
export function tellingLine(text: string): string {
  const lines = text
    .trim()
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const line = lines.find((l) => TELLING.test(l)) ?? lines.at(-1) ?? '';
  // docker without the Compose v2 plugin: the reason names neither Compose nor the fix.
  if (/unknown command:? "?docker compose|'compose' is not a docker command/i.test(line)) {
    return `${line} (the Docker Compose v2 plugin is not installed: install docker-compose-plugin)`;
  }
  return line;
}

export class DockerRunner {
  readonly dir: string;
  readonly #opts: DockerRunnerOptions;

  constructor(opts: DockerRunnerOptions) {
    this.dir = path.resolve(opts.dir);
    this.#opts = opts;
  }

  /** `docker <args>`; rejects with a one-line DockerError unless `allowFailure`. */
  async docker(args: string[], opts: RunOptions = {}): Promise<DockerResult> {
    const bin = this.#opts.bin ?? 'docker';
    if (this.#opts.verbose) this.#opts.log?.(`$ ${[bin, ...args].map(quote).join(' ')}`);
    const result = await new Promise<DockerResult>((resolve, reject) => {
      const child = spawn(bin, args, {
        env: { ...(this.#opts.env ?? process.env), ...opts.env },
        // Passthrough (logs -f): the operator sees docker's own output as it comes.
        stdio: opts.passthrough ? ['pipe', 'inherit', 'inherit'] : ['pipe', 'pipe', 'pipe'],
      });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let pending = '';
      child.stdout?.on('data', (c: Buffer) => {
        out.push(c);
        if (!opts.onLine) return;
        const lines = (pending + c.toString('utf8')).split('\n');
        pending = lines.pop() ?? '';
        for (const l of lines) opts.onLine(l);
      });
      child.stdout?.on('end', () => {
        if (opts.onLine && pending) opts.onLine(pending);
      });
      child.stderr?.on('data', (c: Buffer) => err.push(c));
      child.once('error', (e: NodeJS.ErrnoException) =>
        reject(
          new DockerError(
            e.code === 'ENOENT'
              ? `${bin} is not installed or not on PATH (install Docker Engine with the Compose plugin)`
              : `${bin}: ${e.message}`,
            null,
            '',
          ),
        ),
      );
      child.once('close', (code) =>
        resolve({
          code: code ?? 1,
          stdout: Buffer.concat(out).toString('utf8'),
          stderr: Buffer.concat(err).toString('utf8'),
        }),
      );
      child.stdin?.on('error', () => {});
      child.stdin?.end(opts.input ?? '');
    });
    if (result.code !== 0 && !opts.allowFailure) {
      const said = tellingLine(result.stderr) || tellingLine(result.stdout) || 'no output';
      throw new DockerError(
        `${opts.what ?? `${bin} ${args.slice(0, 3).join(' ')}`} failed (exit ${result.code}): ${said}`,
        result.code,
        result.stderr,
      );
    }
    return result;
  }

  /** `docker compose --project-directory DIR -f DIR/compose.yaml <args>`. */
  compose(args: string[], opts: RunOptions = {}): Promise<DockerResult> {
    return this.docker(
      ['compose', '--project-directory', this.dir, '-f', path.join(this.dir, 'compose.yaml'), ...args],
      {
        ...opts,
        what:
          opts.what ??
          `docker compose ${args
            .filter((a) => !a.startsWith('-'))
            .slice(0, 2)
            .join(' ')}`,
      },
    );
  }
}
