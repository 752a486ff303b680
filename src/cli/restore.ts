import path from 'node:path';
import { restore } from '../deploy/backup.js';
import { DEPLOY_OPTIONS, withDeployment } from './deploy-context.js';
import { CliError, type CliIO, parseCommandArgs } from './io.js';

const USAGE = `Usage: shenma restore BACKUP_DIR [--yes] [--config FILE] [--dir DIR]

Checks the backup (complete, checksums match), stops the stack, puts back shenma.yaml and the
secrets (the current ones are kept as *.before-restore, or *.before-restore.<time> when an earlier
restore left one), every database and the etcd snapshot, starts the stack and waits until every
service is healthy. It replaces the current data: --yes confirms.`;

export async function run(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    argv,
    { ...DEPLOY_OPTIONS, yes: { type: 'boolean' } },
    true,
  );
  if (values.help) {
    io.out(USAGE);
    return 0;
  }
  const [from, ...extra] = positionals;
  if (!from) throw new CliError(`missing the backup folder\n\n${USAGE}`, 2);
  if (extra.length > 0) throw new CliError(`unexpected argument "${extra[0]}"`, 2);
  if (!values.yes)
    throw new CliError(
      'restore replaces every database and the gateway configuration; run again with --yes to go ahead',
      2,
    );
  return withDeployment(values, io, async ({ deployment, docker }) => {
    await restore({ docker, deployment, from: path.resolve(from), log: io.out });
    io.out('restored; run shenma status to check');
    return 0;
  });
}
