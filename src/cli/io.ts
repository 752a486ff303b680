import { type ParseArgsConfig, parseArgs } from 'node:util';

/** A user-facing CLI failure: printed as one line, no stack trace. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/** File-system failures an operator causes and can fix, in words. */
export const FILE_PROBLEMS: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
  ENOTDIR: 'a part of the path is not a directory',
  EEXIST: 'something else is already there',
  EISDIR: 'it is a directory',
  ENOENT: 'no such file or directory',
};

/**
 * What went wrong, as one line for the operator, when `err` is a failure of the machine rather
 * than of Shenma: a path that cannot be written or read, a host name that does not resolve, a
 * prompt ended with Ctrl-C or Ctrl-D. Undefined for anything else (a bug keeps its stack trace).
 */
export function operatorProblem(err: unknown): { message: string; exitCode: number } | undefined {
  const e = err as NodeJS.ErrnoException & { hostname?: unknown; dest?: unknown };
  if (!e || typeof e !== 'object') return undefined;
  const problem = e.code ? FILE_PROBLEMS[e.code] : undefined;
  if (problem && typeof e.path === 'string') {
    const target = typeof e.dest === 'string' ? `${e.path} -> ${e.dest}` : e.path;
    return { message: `cannot ${e.syscall ?? 'use'} ${target}: ${problem}`, exitCode: 1 };
  }
  if ((e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN') && typeof e.hostname === 'string') {
    return { message: `cannot resolve the host name "${e.hostname}"`, exitCode: 1 };
  }
  // readline's question() ends this way on Ctrl-C and Ctrl-D.
  if (e.name === 'AbortError' && e.code === 'ABORT_ERR') return { message: 'interrupted', exitCode: 130 };
  return undefined;
}

export interface CliIO {
  out(text: string): void;
  err(text: string): void;
  env: NodeJS.ProcessEnv;
  /** Reads all of standard input (for --password-stdin and the like). */
  stdin(): Promise<string>;
}

export function processIO(): CliIO {
  return {
    out: (t) => process.stdout.write(`${t}\n`),
    err: (t) => process.stderr.write(`${t}\n`),
    env: process.env,
    stdin: async () => {
      const chunks: Buffer[] = [];
      for await (const c of process.stdin) chunks.push(c as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    },
  };
}

/** Options every command accepts. */
export const COMMON_OPTIONS = {
  config: { type: 'string' },
  'data-dir': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies NonNullable<ParseArgsConfig['options']>;

/** parseArgs with the common options added and its errors turned into CliErrors (exit 2). */
export function parseCommandArgs<O extends NonNullable<ParseArgsConfig['options']>>(
  argv: string[],
  options: O,
  allowPositionals = false,
) {
  try {
    return parseArgs({
      args: argv,
      options: { ...COMMON_OPTIONS, ...options },
      allowPositionals,
      strict: true,
    });
  } catch (err) {
    throw new CliError((err as Error).message, 2);
  }
}

export type CommandValues<O extends NonNullable<ParseArgsConfig['options']>> = ReturnType<
  typeof parseCommandArgs<O>
>['values'];

/** One subcommand: the command-specific flags it takes, its positionals, and what it runs. */
export interface Subcommand<O extends NonNullable<ParseArgsConfig['options']>, IO extends CliIO> {
  flags: (keyof O)[];
  args: string[];
  /** The positionals may be left out. */
  optional?: boolean;
  run: (args: string[], values: CommandValues<O>, io: IO) => Promise<number>;
}

/**
 * `shenma <command> <subcommand> ...`: prints usage for --help, refuses an unknown subcommand, a
 * flag the subcommand does not take, and missing or extra positionals (exit 2), then runs it.
 */
export async function runSubcommand<O extends NonNullable<ParseArgsConfig['options']>, IO extends CliIO>(
  command: string,
  usage: string,
  options: O,
  subcommands: Record<string, Subcommand<O, IO>>,
  argv: string[],
  io: IO,
): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, options, true);
  if ((values as { help?: boolean }).help) {
    io.out(usage);
    return 0;
  }
  const [name, ...args] = positionals;
  if (!name) throw new CliError(`missing subcommand\n\n${usage}`, 2);
  const sub = Object.hasOwn(subcommands, name) ? subcommands[name] : undefined;
  if (!sub) throw new CliError(`unknown subcommand "${name}"\n\n${usage}`, 2);
  for (const flag of Object.keys(options) as (keyof O & string)[]) {
    if ((values as Record<string, unknown>)[flag] !== undefined && !sub.flags.includes(flag)) {
      throw new CliError(`${command} ${name} does not take --${flag}`, 2);
    }
  }
  if (args.length < sub.args.length && !sub.optional) {
    throw new CliError(`${command} ${name}: missing ${sub.args.join(' ')}`, 2);
  }
  if (args.length > sub.args.length) throw new CliError(`unexpected argument "${args[sub.args.length]}"`, 2);
  return sub.run(args, values, io);
}
