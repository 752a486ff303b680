import path from 'node:path';
import { composeExecTransport } from '../deploy/admin-exec.js';
import { httpTransport } from '../deploy/admin-http.js';
import { desiredGateway, redact } from '../deploy/apisix-routes.js';
import { ApisixValidator } from '../deploy/apisix-schema.js';
import { DockerError, DockerRunner } from '../deploy/docker.js';
import { DeploymentError, loadDeployment } from '../deploy/load.js';
import { type AdminTransport, apply, describePlan, plan, ReconcileError } from '../deploy/reconcile.js';
import { SecretsError } from '../deploy/secrets.js';
import { CliError, type CliIO, parseCommandArgs } from './io.js';
import { deployDir } from './render.js';

const USAGE = `Usage: shenma routes <diff|sync|export> [options]

The APISIX gateway's routes and upstreams, derived from Shenma's route table.
  export   Print the desired objects as JSON (secrets masked)
  diff     Print what sync would change; exit 1 when the gateway has drifted
  sync     Create, update and delete (only Shenma-labelled objects) until the gateway matches

By default the Admin API is reached inside the running stack (docker compose exec apisix), so
it is never published. Options:
  --admin-url URL    Talk to the Admin API directly (key from shenma.secrets.env)
  --schema FILE|URL  APISIX schema dump (default: the running APISIX's /v1/schema)
  --dir DIR          Deployment folder (default deploy/)
  --verbose          Print every docker command`;

const OPTIONS = {
  'admin-url': { type: 'string' },
  schema: { type: 'string' },
  dir: { type: 'string' },
  verbose: { type: 'boolean' },
} as const;

export async function run(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, OPTIONS, true);
  if (values.help) {
    io.out(USAGE);
    return 0;
  }
  const [sub, ...extra] = positionals;
  if (!sub || !['diff', 'sync', 'export'].includes(sub))
    throw new CliError(`expected diff, sync or export\n\n${USAGE}`, 2);
  if (extra.length > 0) throw new CliError(`unexpected argument "${extra[0]}"`, 2);
  const adminUrl = values['admin-url'];
  if (adminUrl !== undefined && !/^https?:\/\/[^/]/.test(adminUrl)) {
    throw new CliError(
      `--admin-url must be an http(s) URL such as http://127.0.0.1:9180, not "${adminUrl}"`,
      2,
    );
  }
  try {
    const d = await loadDeployment(values.config, io.env);
    const desired = desiredGateway(d.config, {
      gatewayClientSecret: d.secrets.OIDC_GATEWAY_CLIENT_SECRET,
      configDir: path.dirname(d.configFile),
    });
    if (sub === 'export') {
      io.out(JSON.stringify(desired.map(redact), null, 2));
      return 0;
    }
    const transport: AdminTransport = values['admin-url']
      ? httpTransport({
          adminUrl: values['admin-url'],
          key: d.secrets.APISIX_ADMIN_KEY,
          schema: values.schema ?? new URL('/v1/schema', values['admin-url']).toString(),
        })
      : composeExecTransport(
          new DockerRunner({ dir: deployDir(values, d.configFile), verbose: !!values.verbose, log: io.err }),
          values.schema,
        );
    return await reconcileGateway(transport, desired, sub === 'sync', io);
  } catch (err) {
    if (
      err instanceof DeploymentError ||
      err instanceof SecretsError ||
      err instanceof ReconcileError ||
      err instanceof DockerError
    )
      throw new CliError(err.message);
    throw err;
  }
}

/** diff: prints the plan, 1 on drift. sync: applies it, prints each change, 0 when done. */
export async function reconcileGateway(
  transport: AdminTransport,
  desired: Parameters<typeof plan>[1],
  write: boolean,
  io: Pick<CliIO, 'out'>,
): Promise<number> {
  const p = await plan(transport, desired);
  if (!write) {
    for (const line of describePlan(p)) io.out(line);
    return p.steps.length > 0 ? 1 : 0;
  }
  if (p.steps.length === 0) {
    io.out(
      `gateway up to date: ${p.unchanged} object(s) unchanged, ${p.foreign} not managed by Shenma left alone`,
    );
    return 0;
  }
  const validator = new ApisixValidator(await transport.schema());
  await apply(transport, desired, p, validator, (s) => io.out(`${s.action}d ${s.kind}/${s.id}`));
  io.out(
    `gateway synced: ${p.steps.length} change(s), ${p.unchanged} unchanged, ${p.foreign} not managed by Shenma left alone`,
  );
  return 0;
}
