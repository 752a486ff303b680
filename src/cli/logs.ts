import { DEPLOY_OPTIONS, withDeployment } from './deploy-context.js';
import { CliError, type CliIO, parseCommandArgs } from './io.js';

const USAGE = `Usage: shenma logs [SERVICE] [--follow] [--tail N] [--config FILE] [--dir DIR]

The stack's logs (docker compose logs), of one service or all.`;

export async function run(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    argv,
    { ...DEPLOY_OPTIONS, follow: { type: 'boolean', short: 'f' }, tail: { type: 'string' } },
    true,
  );
  if (values.help) {
    io.out(USAGE);
    return 0;
  }
  if (positionals.length > 1) throw new CliError(`unexpected argument "${positionals[1]}"`, 2);
  if (values.tail !== undefined && !/^\d+$/.test(values.tail))
    throw new CliError('--tail takes a number of lines', 2);
  return withDeployment(values, io, async ({ deployment, docker }) => {
    const service = positionals[0];
    const known = await docker.compose(['config', '--services'], { what: 'docker compose config' });
    if (service && !known.stdout.split('\n').includes(service))
      throw new CliError(
        `no service "${service}" in ${deployment.config.deploy.project}; services: ${known.stdout.trim().split('\n').join(', ')}`,
      );
    const r = await docker.compose(
      [
        'logs',
        '--no-color',
        '--tail',
        values.tail ?? '200',
        ...(values.follow ? ['--follow'] : []),
        ...(service ? [service] : []),
      ],
      { passthrough: true, what: 'docker compose logs' },
    );
    return r.code;
  });
}
