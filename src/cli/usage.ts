/**
 * Every command's help, in a module that imports nothing: `shenma <command> --help` answers
 * from here without loading the command (the server, the database driver), so it is fast and
 * prints nothing else.
 */

/** The end of `shenma users --help` and `shenma tokens --help`: how the commands reach the data. */
export const ADMIN_HELP_FOOTER = [
  'While `shenma start` runs on the same data directory, the commands go through its admin socket',
  '(<data-dir>/admin.sock); otherwise they open the database themselves.',
  '',
  'Options:',
  '  --data-dir DIR   Data directory (default: $SHENMA_DATA_DIR or .shenma)',
  '  --config FILE    Configuration file; its database.url selects PostgreSQL',
].join('\n');

export const USAGE = {
  start: `Usage: shenma start [--config FILE] [--port N] [--host ADDR] [--data-dir DIR] [--roles LIST]

Runs every Shenma role in one process on one port (default 9080): the embedded shape.
--roles completion,chat,... runs only those roles (what each deployed service runs).
Without --config, ./shenma.yaml is used and written with commented defaults if missing.

  --host ADDR   Address to listen on (default 127.0.0.1, server.host). 0.0.0.0 lets teammates
                on other machines in; publicUrl then defaults to this machine's first
                non-loopback address, printed at start as the IDE base URL.
  --port N      Port (default 9080, server.port); 0 picks a free one.

Logs are JSON lines on stdout. Ctrl-C lets chat answers in flight finish (server.drainMs),
a second Ctrl-C stops at once.`,
  db: [
    'Usage: shenma db <migrate|status> [options]',
    '',
    '  migrate   Apply pending database migrations',
    '  status    List migrations and whether each is applied',
    '',
    'Options:',
    '  --database-url URL   PostgreSQL to use (default: database.url from the config or',
    '                       $SHENMA_DATABASE_URL, else the embedded database in the data directory)',
    '  --data-dir DIR       Data directory of the embedded database (default: $SHENMA_DATA_DIR or .shenma)',
    '  --config FILE        Configuration file (default: ./shenma.yaml if it exists)',
  ].join('\n'),
  keys: [
    'Usage: shenma keys rotate [options]',
    '',
    '  rotate   Add a new signing key for the embedded OpenID provider; it signs from the next',
    '           start on. The previous keys stay published so tokens they signed still verify.',
    '',
    'Options:',
    '  --data-dir DIR   Data directory holding the keys (default: $SHENMA_DATA_DIR or .shenma)',
  ].join('\n'),
  render: [
    'Usage: shenma render [keycloak-realm] [options]',
    '',
    '  (no target)      The docker compose deployment folder (--dir, default deploy/): compose.yaml,',
    "                   every file it mounts, the Dockerfile of Shenma's image and the .env (0600)",
    '                   with the credentials from shenma.secrets.env',
    '  keycloak-realm   Keycloak realm import (JSON) for the deployed shape: realm, lifespans,',
    '                   brute-force protection and the IDE client with its secret; no users',
    '',
    'Options:',
    '  --dir DIR        Deployment folder (default deploy/ beside the config file)',
    '  --out FILE       Write to FILE (mode 0600: it holds the client secret) instead of stdout',
    '  --config FILE    Configuration file (default: ./shenma.yaml if it exists)',
  ].join('\n'),
  users: [
    'Usage: shenma users <add|list|disable|enable|passwd> [options]',
    '',
    '  add NAME [--password-stdin | --no-password] [--email E]   Add a user',
    '  list                                                       List users',
    '  disable NAME / enable NAME                                 Refuse / allow its logins and tokens',
    '  passwd NAME [--password-stdin]                             Set its password',
    '',
    'Passwords are read from the terminal (asked twice, not echoed), or with --password-stdin from the',
    'first line of standard input. --no-password adds a user who can only use API tokens',
    '(shenma tokens create NAME).',
    '',
    ADMIN_HELP_FOOTER,
  ].join('\n'),
  tokens: [
    'Usage: shenma tokens <create|list|revoke> [options]',
    '',
    '  create USER [--name N] [--expires D]   Create a personal API token; prints its secret once',
    '  list [USER]                            List tokens (never their secrets)',
    '  revoke ID                              Revoke a token at once',
    '',
    '--expires takes a duration from now (30d, 12h, 90m) or an ISO date (2030-01-31 or',
    '2030-01-31T18:00:00Z); without it the token does not expire.',
    '',
    ADMIN_HELP_FOOTER,
  ].join('\n'),
} as const;

export type CommandName = keyof typeof USAGE;
