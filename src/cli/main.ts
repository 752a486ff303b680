import { readFileSync } from 'node:fs';
import { CliError, type CliIO, operatorProblem, processIO } from './io.js';
import { type CommandName, USAGE } from './usage.js';

/** One file per command; each exports `run(argv, io)` and owns its own flags. */
const COMMANDS: Record<string, { summary: string; load: () => Promise<{ run: CommandRun }> }> = {
  start: { summary: 'Run every role (or --roles LIST) in one process', load: () => import('./start.js') },
  init: {
    summary: 'Deployment: write shenma.yaml and generate every credential',
    load: () => import('./init.js'),
  },
  up: {
    summary: 'Deployment: preflight, render, start healthy, bootstrap, reconcile, smoke test',
    load: () => import('./up.js'),
  },
  status: {
    summary: 'Deployment: services, health, version, gateway drift, last backup',
    load: () => import('./status.js'),
  },
  doctor: {
    summary: 'Deployment: public URL, issuer, redirect URLs, readiness, certificate',
    load: () => import('./doctor.js'),
  },
  backup: {
    summary: 'Deployment: dump databases, etcd, config and secrets with a manifest',
    load: () => import('./backup.js'),
  },
  restore: {
    summary: 'Deployment: restore a backup (stop, restore in order, start, verify)',
    load: () => import('./restore.js'),
  },
  down: {
    summary: 'Deployment: stop the stack (--volumes also deletes its data)',
    load: () => import('./down.js'),
  },
  logs: { summary: 'Deployment: the stack logs, of one service or all', load: () => import('./logs.js') },
  keycloak: {
    summary: 'Deployment: keycloak sync (realm and clients through the admin API)',
    load: () => import('./keycloak.js'),
  },
  db: { summary: 'Database migrations: db migrate | db status', load: () => import('./db.js') },
  keys: { summary: 'OpenID signing keys: keys rotate', load: () => import('./keys.js') },
  render: {
    summary: 'Deployment folder (compose.yaml and its files), or render keycloak-realm',
    load: () => import('./render.js'),
  },
  routes: {
    summary: 'Gateway (APISIX) routes from the route table: routes diff | sync | export',
    load: () => import('./routes.js'),
  },
  models: {
    summary: 'Model weights for local models: models pull --from URL|DIR|TARBALL',
    load: () => import('./models.js'),
  },
  users: { summary: 'Users: users add | list | disable | enable | passwd', load: () => import('./users.js') },
  tokens: {
    summary: 'Personal API tokens: tokens create | list | revoke',
    load: () => import('./tokens.js'),
  },
};

export type CommandRun = (argv: string[], io: CliIO) => Promise<number>;

function usage(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`);
  return [
    'Usage: shenma <command> [options]',
    '',
    'Commands:',
    ...lines,
    '',
    'Every command accepts --config FILE and --data-dir DIR; shenma <command> --help tells more.',
    'shenma --version prints the version.',
  ].join('\n');
}

/** The version in package.json (the same file from src/cli and from dist/cli). */
export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

export async function main(argv: string[], io: CliIO = processIO()): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-V' || name === 'version') {
    io.out(`shenma ${version()}`);
    return 0;
  }
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    io.out(usage());
    return name ? 0 : 2;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!command) {
    io.err(`shenma: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  // Help comes from a module that loads nothing else: fast, and no library prints a warning.
  // The deployment commands load nothing heavy and answer --help themselves.
  if ((rest.includes('--help') || rest.includes('-h')) && Object.hasOwn(USAGE, name)) {
    io.out(USAGE[name as CommandName]);
    return 0;
  }
  try {
    const { run } = await command.load();
    return await run(rest, io);
  } catch (err) {
    if (err instanceof CliError) {
      io.err(`shenma ${name}: ${err.message}`);
      return err.exitCode;
    }
    const problem = operatorProblem(err);
    if (problem) {
      io.err(`shenma ${name}: ${problem.message}`);
      return problem.exitCode;
    }
    throw err;
  }
}
