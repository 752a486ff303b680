import { DockerError, DockerRunner } from '../deploy/docker.js';
import { DeploymentError, loadDeployment } from '../deploy/load.js';
import { PreflightError } from '../deploy/preflight.js';
import { ReconcileError } from '../deploy/reconcile.js';
import { RenderError } from '../deploy/render.js';
import { SecretsError } from '../deploy/secrets.js';
import { SmokeError } from '../deploy/smoke.js';
import { UpError, up } from '../deploy/up.js';
import { CliError, type CliIO, parseCommandArgs } from './io.js';
import { deployDir } from './render.js';

const USAGE = `Usage: shenma up [--config FILE] [--dir DIR] [--verbose] [--skip-smoke] [--models-from SOURCE]

Preflight, render, start every service and wait until each is healthy, bootstrap the databases,
migrate, reconcile the gateway, provision Elasticsearch and Kibana, smoke-test the public URL
(a throwaway user and API token, one completion and one chat answer, then cleaned up),
then print what to put in the IDE. Re-run it after editing shenma.yaml or upgrading Shenma.

  --dir DIR       Deployment folder (default deploy/ beside the config file)
  --verbose       Print every docker command
  --skip-smoke    Skip the smoke test (the public URL is only reachable from elsewhere)
  --models-from SOURCE
                  With deploy.localModels: where missing weights are pulled from this time
                  (hub, a mirror URL, a directory or a tarball), instead of
                  deploy.localModels.pull.from`;

export async function run(argv: string[], io: CliIO): Promise<number> {
  const { values } = parseCommandArgs(argv, {
    dir: { type: 'string' },
    verbose: { type: 'boolean' },
    'skip-smoke': { type: 'boolean' },
    'models-from': { type: 'string' },
  });
  if (values.help) {
    io.out(USAGE);
    return 0;
  }
  try {
    const deployment = await loadDeployment(values.config, io.env);
    const dir = deployDir(values, deployment.configFile);
    const docker = new DockerRunner({ dir, verbose: !!values.verbose, log: io.err, env: io.env });
    await up({
      deployment,
      docker,
      dir,
      out: io.out,
      env: io.env,
      skipSmoke: !!values['skip-smoke'],
      ...(values['models-from'] !== undefined ? { modelsFrom: values['models-from'] } : {}),
    });
    return 0;
  } catch (err) {
    if (
      err instanceof DeploymentError ||
      err instanceof SecretsError ||
      err instanceof RenderError ||
      err instanceof PreflightError ||
      err instanceof UpError ||
      err instanceof SmokeError ||
      err instanceof ReconcileError ||
      err instanceof DockerError
    )
      throw new CliError(err.message);
    throw err;
  }
}
