import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { composeExecTransport } from '../deploy/admin-exec.js';
import { desiredGateway } from '../deploy/apisix-routes.js';
import { MANIFEST, type Manifest } from '../deploy/backup.js';
import { parseJsonLines } from '../deploy/preflight.js';
import { plan } from '../deploy/reconcile.js';
import { VERSION_STAMP } from '../deploy/up.js';
import { DEPLOY_OPTIONS, withDeployment } from './deploy-context.js';
import { type CliIO, parseCommandArgs } from './io.js';

const USAGE = `Usage: shenma status [--config FILE] [--dir DIR]

Services with their state, health and image, the Shenma version deployed, gateway drift, last backup.
Exit 1 when a service is not healthy or the gateway has drifted.`;

export async function run(argv: string[], io: CliIO): Promise<number> {
  const { values } = parseCommandArgs(argv, DEPLOY_OPTIONS);
  if (values.help) {
    io.out(USAGE);
    return 0;
  }
  return withDeployment(values, io, async ({ deployment: d, dir, docker }) => {
    let healthy = true;
    const ps = await docker.compose(['ps', '--all', '--format', 'json'], { what: 'docker compose ps' });
    const rows = parseJsonLines(ps.stdout);
    if (rows.length === 0) {
      io.out(`${d.config.deploy.project}: not running (shenma up starts it)`);
      return 1;
    }
    for (const c of rows) {
      const ok =
        c.State === 'running' && (c.Health === undefined || c.Health === '' || c.Health === 'healthy');
      healthy &&= ok;
      io.out(
        `${ok ? 'ok  ' : 'FAIL'} ${String(c.Service).padEnd(16)} ${String(c.State).padEnd(9)} ${String(c.Health || '-').padEnd(10)} ${c.Image ?? ''}`.trimEnd(),
      );
    }
    const version = await readFile(path.join(dir, VERSION_STAMP), 'utf8').then(
      (t) => t.trim(),
      () => 'unknown',
    );
    io.out(`deployed Shenma version: ${version}`);
    const drift = await plan(
      composeExecTransport(docker),
      desiredGateway(d.config, {
        gatewayClientSecret: d.secrets.OIDC_GATEWAY_CLIENT_SECRET,
        configDir: path.dirname(d.configFile),
      }),
    ).catch((err: Error) => err);
    if (drift instanceof Error) io.out(`gateway: cannot read the Admin API (${drift.message})`);
    else
      io.out(
        `gateway: ${drift.steps.length === 0 ? 'in sync' : `${drift.steps.length} difference(s); shenma routes diff shows them`}`,
      );
    io.out(`last backup: ${await lastBackup(path.join(path.dirname(d.configFile), 'backups'))}`);
    return healthy && !(drift instanceof Error) && drift.steps.length === 0 ? 0 : 1;
  });
}

async function lastBackup(dir: string): Promise<string> {
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const n of names.sort().reverse()) {
    const m = await readFile(path.join(dir, n, MANIFEST), 'utf8').then(
      (t) => JSON.parse(t) as Manifest,
      () => undefined,
    );
    if (m) return `${m.createdAt} (${path.join(dir, n)})`;
  }
  return 'none (shenma backup)';
}
