import { doctor } from '../deploy/doctor.js';
import { DEPLOY_OPTIONS, withDeployment } from './deploy-context.js';
import { type CliIO, parseCommandArgs } from './io.js';

const USAGE = `Usage: shenma doctor [--config FILE] [--dir DIR]

Checks the running stack from outside and inside: the public URL, the identity provider's issuer
and redirect URLs, the issuer the services verify, each role's readiness (models, database), the
TLS certificate's expiry, the public extension client secret. Exit 1 when a check fails.`;

export async function run(argv: string[], io: CliIO): Promise<number> {
  const { values } = parseCommandArgs(argv, DEPLOY_OPTIONS);
  if (values.help) {
    io.out(USAGE);
    return 0;
  }
  return withDeployment(values, io, async ({ deployment, docker, dir }) => {
    const findings = await doctor({ deployment, docker, dir });
    for (const f of findings) io.out(`${f.verdict.toUpperCase().padEnd(4)} ${f.check}: ${f.detail}`);
    return findings.some((f) => f.verdict === 'fail') ? 1 : 0;
  });
}
