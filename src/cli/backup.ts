import path from 'node:path';
import { backup } from '../deploy/backup.js';
import { DEPLOY_OPTIONS, withDeployment } from './deploy-context.js';
import type { CliIO } from './io.js';
import { parseCommandArgs } from './io.js';

const USAGE = `Usage: shenma backup [--out DIR] [--config FILE] [--dir DIR]

Dumps every database through Compose, snapshots etcd (the gateway's routes), copies shenma.yaml
and the secrets file, and writes a manifest with checksums. The folder is mode 0700: it holds
the credentials. Default --out: backups/<time> beside shenma.yaml.`;

export async function run(argv: string[], io: CliIO): Promise<number> {
  const { values } = parseCommandArgs(argv, { ...DEPLOY_OPTIONS, out: { type: 'string' } });
  if (values.help) {
    io.out(USAGE);
    return 0;
  }
  return withDeployment(values, io, async ({ deployment, docker }) => {
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    const out = path.resolve(values.out ?? path.join(path.dirname(deployment.configFile), 'backups', stamp));
    io.out(`backup into ${out}`);
    const manifest = await backup({ docker, deployment, out, log: io.out });
    io.out(`done: ${manifest.files.length} files, checksums in ${path.join(out, 'manifest.json')}`);
    return 0;
  });
}
