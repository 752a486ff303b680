import { BackupError } from '../deploy/backup.js';
import { DockerError, DockerRunner } from '../deploy/docker.js';
import { type Deployment, DeploymentError, loadDeployment } from '../deploy/load.js';
import { PreflightError } from '../deploy/preflight.js';
import { ReconcileError } from '../deploy/reconcile.js';
import { RenderError } from '../deploy/render.js';
import { SecretsError } from '../deploy/secrets.js';
import { UpError } from '../deploy/up.js';
import { CliError, type CliIO } from './io.js';
import { deployDir } from './render.js';

/** What the deployment commands share: the loaded deployment, its folder, one docker runner. */
export interface DeployContext {
  deployment: Deployment;
  dir: string;
  docker: DockerRunner;
}

export const DEPLOY_OPTIONS = {
  dir: { type: 'string' },
  verbose: { type: 'boolean' },
} as const;

const EXPECTED = [
  DeploymentError,
  SecretsError,
  RenderError,
  PreflightError,
  UpError,
  ReconcileError,
  DockerError,
  BackupError,
];

/** Runs `fn` with the deployment; the operator's expected failures become one CLI error line. */
export async function withDeployment(
  values: { config?: string | undefined; dir?: string | undefined; verbose?: boolean | undefined },
  io: CliIO,
  fn: (ctx: DeployContext) => Promise<number>,
): Promise<number> {
  try {
    const deployment = await loadDeployment(values.config, io.env);
    const dir = deployDir(values, deployment.configFile);
    const docker = new DockerRunner({ dir, verbose: !!values.verbose, log: io.err, env: io.env });
    return await fn({ deployment, dir, docker });
  } catch (err) {
    if (EXPECTED.some((E) => err instanceof E)) throw new CliError((err as Error).message);
    throw err;
  }
}
