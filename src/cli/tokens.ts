import type { ApiToken } from '../identity/users.js';
import { type Column, formatDate, formatTable, withAdmin } from './admin-client.js';
import { CliError, type CliIO, type CommandValues, runSubcommand, type Subcommand } from './io.js';
import { USAGE } from './usage.js';

const OPTIONS = {
  name: { type: 'string' },
  expires: { type: 'string' },
} as const;

type Values = CommandValues<typeof OPTIONS>;

/** Command-specific flags and positionals per subcommand (`optional` may be left out). */
const SUBCOMMANDS: Record<string, Subcommand<typeof OPTIONS, CliIO>> = {
  create: { flags: ['name', 'expires'], args: ['USER'], run: runCreate },
  list: { flags: [], args: ['USER'], optional: true, run: runList },
  revoke: { flags: [], args: ['ID'], run: runRevoke },
};

export function run(argv: string[], io: CliIO): Promise<number> {
  return runSubcommand('tokens', USAGE.tokens, OPTIONS, SUBCOMMANDS, argv, io);
}

async function runCreate([user]: string[], values: Values, io: CliIO): Promise<number> {
  if (values.name !== undefined && values.name.trim() === '')
    throw new CliError('--name must not be empty', 2);
  // Parsed before connecting, so a typo costs nothing; "now" is the moment the command runs.
  const expiresAt = values.expires === undefined ? undefined : parseExpiry(values.expires, new Date());
  const { secret, token } = await withAdmin(values, io, (ops) =>
    ops.createToken({
      user: user!,
      ...(values.name !== undefined ? { name: values.name } : {}),
      ...(expiresAt ? { expiresAt } : {}),
    }),
  );
  const expires = token.expiresAt ? `expires ${formatDate(token.expiresAt)}` : 'does not expire';
  io.out(`Created token ${token.id} "${token.name}" for ${token.userName} (${expires}).`);
  io.out(secret);
  io.out('Copy the secret above now: it will not be shown again.');
  return 0;
}

async function runList([user]: string[], values: Values, io: CliIO): Promise<number> {
  const tokens = await withAdmin(values, io, (ops) => ops.listTokens(user));
  if (tokens.length === 0) {
    io.out(user === undefined ? 'No tokens yet.' : `${user} has no tokens.`);
    return 0;
  }
  for (const line of formatTable(TOKEN_COLUMNS, tokens)) io.out(line);
  return 0;
}

async function runRevoke([id]: string[], values: Values, io: CliIO): Promise<number> {
  const result = await withAdmin(values, io, (ops) => ops.revokeToken(id!));
  if (result.status === 'not_found') throw new CliError(`no token with id "${id}" (see shenma tokens list)`);
  if (result.status === 'already_revoked') {
    io.out(`Token ${id} was already revoked (${formatDate(result.token.revokedAt)}).`);
  } else {
    io.out(`Revoked token ${id} "${result.token.name}" of ${result.token.userName}.`);
  }
  return 0;
}

/** The secret is deliberately not a column: only its hash is stored, and list never shows it. */
const TOKEN_COLUMNS: Column<ApiToken>[] = [
  { title: 'ID', value: (t) => t.id },
  { title: 'USER', value: (t) => t.userName },
  { title: 'NAME', value: (t) => t.name },
  { title: 'CREATED', value: (t) => formatDate(t.createdAt) },
  {
    title: 'EXPIRES',
    value: (t) =>
      t.expiresAt && t.expiresAt.getTime() <= Date.now()
        ? `${formatDate(t.expiresAt)} (expired)`
        : formatDate(t.expiresAt),
  },
  { title: 'LAST USED', value: (t) => formatDate(t.lastUsedAt) },
  { title: 'REVOKED', value: (t) => formatDate(t.revokedAt) },
];

const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
/** A date, or a date and time with an optional offset (no offset: UTC, to mean the same everywhere). */
const ISO_DATE = /^\d{4}-\d\d-\d\d(T\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)?)?$/;

/** `30d`, `12h`, `90m` from `now`, or an ISO date; must lie after `now`. Bad input exits 2. */
export function parseExpiry(text: string, now: Date): Date {
  const duration = /^(\d+)([mhd])$/.exec(text);
  let at: Date;
  if (duration) {
    const amount = Number(duration[1]);
    if (amount === 0) throw new CliError(`--expires ${text}: the duration must be more than zero`, 2);
    at = new Date(now.getTime() + amount * UNIT_MS[duration[2] as keyof typeof UNIT_MS]);
  } else if (ISO_DATE.test(text)) {
    const hasZone = /(Z|[+-]\d\d:\d\d)$/.test(text) && text.includes('T');
    at = new Date(text.includes('T') && !hasZone ? `${text}Z` : text);
  } else {
    throw new CliError(
      `--expires must be a duration like 30d, 12h or 90m, or an ISO date like 2030-01-31; got "${text}"`,
      2,
    );
  }
  if (Number.isNaN(at.getTime()) || (!duration && !isCalendarDate(text))) {
    throw new CliError(`--expires ${text}: not a real date`, 2);
  }
  if (at.getTime() <= now.getTime()) {
    throw new CliError(`--expires ${text}: ${formatDate(at)} is not in the future`, 2);
  }
  return at;
}

/** Date parsing rolls 2030-02-31 over to March; refuse it instead. */
function isCalendarDate(text: string): boolean {
  const [y, m, d] = text.slice(0, 10).split('-').map(Number) as [number, number, number];
  const date = new Date(Date.UTC(y, m - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
}
