import { type User, validatePassword, validateUserName } from '../identity/users.js';
import { type Column, formatDate, formatTable, toCliError, withAdmin } from './admin-client.js';
import { CliError, type CliIO, type CommandValues, runSubcommand, type Subcommand } from './io.js';
import { USAGE } from './usage.js';

const OPTIONS = {
  'password-stdin': { type: 'boolean' },
  'no-password': { type: 'boolean' },
  email: { type: 'string' },
} as const;

type Values = CommandValues<typeof OPTIONS>;

/** Which command-specific flags each subcommand takes, and how many positionals. */
const SUBCOMMANDS: Record<string, Subcommand<typeof OPTIONS, UsersIO>> = {
  add: { flags: ['password-stdin', 'no-password', 'email'], args: ['NAME'], run: runAdd },
  list: { flags: [], args: [], run: runList },
  disable: { flags: [], args: ['NAME'], run: (a, v, io) => runSetDisabled(a, v, io, true) },
  enable: { flags: [], args: ['NAME'], run: (a, v, io) => runSetDisabled(a, v, io, false) },
  passwd: { flags: ['password-stdin'], args: ['NAME'], run: runPasswd },
};

/** Asks for a secret without echoing it. */
export interface SecretPrompter {
  promptSecret(question: string): Promise<string>;
}

/**
 * CliIO has no notion of a terminal; tests (and embedders) may give one, or `null` for "standard
 * input is not a terminal". Absent, the process's own stdin is used when it is a TTY.
 */
export type UsersIO = CliIO & { terminal?: SecretPrompter | null };

export function run(argv: string[], io: UsersIO): Promise<number> {
  return runSubcommand('users', USAGE.users, OPTIONS, SUBCOMMANDS, argv, io);
}

async function runAdd([name]: string[], values: Values, io: UsersIO): Promise<number> {
  if (values['no-password'] && values['password-stdin']) {
    throw new CliError('--no-password and --password-stdin cannot be used together', 2);
  }
  const email = values.email;
  if (email !== undefined && !/^[^\s@]+@[^\s@]+$/.test(email)) {
    throw new CliError(`--email must look like name@host, got "${email}"`, 2);
  }
  // Refuse a bad name before asking for a password.
  check(() => validateUserName(name!));
  const password = values['no-password']
    ? undefined
    : await readNewPassword(io, values['password-stdin'] === true, true);
  const user = await withAdmin(values, io, (ops) =>
    ops.addUser({
      name: name!,
      ...(password !== undefined ? { password } : {}),
      ...(email !== undefined ? { email } : {}),
    }),
  );
  io.out(`Added user ${user.name} (${user.id}).`);
  if (!user.hasPassword) {
    io.out(`It has no password: it signs in with API tokens only (shenma tokens create ${user.name}).`);
  }
  return 0;
}

async function runList(_args: string[], values: Values, io: UsersIO): Promise<number> {
  const users = await withAdmin(values, io, (ops) => ops.listUsers());
  if (users.length === 0) {
    io.out('No users yet. Add one with: shenma users add NAME');
    return 0;
  }
  for (const line of formatTable(USER_COLUMNS, users)) io.out(line);
  return 0;
}

async function runSetDisabled(
  [name]: string[],
  values: Values,
  io: UsersIO,
  disabled: boolean,
): Promise<number> {
  const user = await withAdmin(values, io, (ops) => ops.setUserDisabled(name!, disabled));
  io.out(
    disabled
      ? `Disabled user ${user.name}: its password and API tokens no longer work.`
      : `Enabled user ${user.name}.`,
  );
  return 0;
}

async function runPasswd([name]: string[], values: Values, io: UsersIO): Promise<number> {
  check(() => validateUserName(name!));
  const password = await readNewPassword(io, values['password-stdin'] === true, false);
  await withAdmin(values, io, (ops) => ops.setPassword(name!, password));
  io.out(`Changed the password of ${name}.`);
  return 0;
}

/** Runs a validator from the identity module, its IdentityError becoming a one-line CLI error. */
function check(validate: () => void): void {
  try {
    validate();
  } catch (err) {
    throw toCliError(err);
  }
}

// ---------------------------------------------------------------------------------------------
// Passwords

async function readNewPassword(io: UsersIO, fromStdin: boolean, adding: boolean): Promise<string> {
  const password = fromStdin ? await passwordFromStdin(io) : await passwordFromTerminal(io, adding);
  check(() => validatePassword(password));
  return password;
}

/** The first line of standard input, without its line ending (so `echo pw |` works). */
async function passwordFromStdin(io: CliIO): Promise<string> {
  const text = await io.stdin();
  if (text === '') throw new CliError('--password-stdin: standard input is empty');
  return text.split('\n', 1)[0]!.replace(/\r$/, '');
}

async function passwordFromTerminal(io: UsersIO, adding: boolean): Promise<string> {
  const terminal = io.terminal !== undefined ? io.terminal : processTerminal();
  if (!terminal) {
    throw new CliError(
      'standard input is not a terminal, so the password cannot be asked for: ' +
        `pass it on standard input with --password-stdin${adding ? ', or add the user with --no-password' : ''}`,
    );
  }
  const first = await terminal.promptSecret('New password: ');
  check(() => validatePassword(first));
  const again = await terminal.promptSecret('Repeat the password: ');
  if (again !== first) throw new CliError('the two passwords differ; nothing was changed');
  return first;
}

function processTerminal(): SecretPrompter | null {
  return process.stdin.isTTY ? { promptSecret: promptWithoutEcho } : null;
}

/** Raw mode reads key by key, so nothing typed is echoed; the prompt goes to stderr, not stdout. */
function promptWithoutEcho(question: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(question);
  stdin.setRawMode(true);
  stdin.setEncoding('utf8');
  stdin.resume();
  return new Promise((resolve, reject) => {
    let value = '';
    const finish = (err?: Error) => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') return finish();
        if (ch === '\u0003') return finish(new CliError('interrupted', 130)); // Ctrl-C
        if (ch === '\u0004') return finish(value ? undefined : new CliError('no password given')); // Ctrl-D
        if (ch === '\u007f' || ch === '\b') value = [...value].slice(0, -1).join('');
        else if (ch === '\u0015')
          value = ''; // Ctrl-U
        else if (ch >= ' ') value += ch;
      }
    };
    stdin.on('data', onData);
  });
}

// ---------------------------------------------------------------------------------------------
// Output

const USER_COLUMNS: Column<User>[] = [
  { title: 'NAME', value: (u) => u.name },
  { title: 'EMAIL', value: (u) => u.email ?? '-' },
  { title: 'STATUS', value: (u) => (u.disabled ? 'disabled' : 'enabled') },
  { title: 'PASSWORD', value: (u) => (u.hasPassword ? 'yes' : 'no') },
  { title: 'CREATED', value: (u) => formatDate(u.createdAt) },
];
