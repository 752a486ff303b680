import { createInterface } from 'node:readline/promises';
import { DEPLOY_OPTIONS, withDeployment } from './deploy-context.js';
import { CliError, type CliIO, parseCommandArgs } from './io.js';

const USAGE = `Usage: shenma down [--volumes [--yes]] [--config FILE] [--dir DIR]

Stops and removes the stack's containers and network; the data (volumes) stays.
  --volumes   Also delete every volume: databases, etcd, Redis, Prometheus, Elasticsearch.
              Asks for the project name first (or --yes on a non-interactive run).`;

export async function run(argv: string[], io: CliIO): Promise<number> {
  const { values } = parseCommandArgs(argv, {
    ...DEPLOY_OPTIONS,
    volumes: { type: 'boolean' },
    yes: { type: 'boolean' },
  });
  if (values.help) {
    io.out(USAGE);
    return 0;
  }
  return withDeployment(values, io, async ({ deployment, docker }) => {
    const project = deployment.config.deploy.project;
    if (values.volumes && !values.yes) {
      if (!process.stdin.isTTY)
        throw new CliError('--volumes deletes all data; confirm with --yes (no terminal to ask on)', 2);
      const rl = createInterface({ input: process.stdin, output: process.stdout });
      const answer = await rl.question(
        `This deletes every database, the gateway store and all metrics. Type "${project}" to go ahead: `,
      );
      rl.close();
      if (answer.trim() !== project) {
        io.out('nothing deleted');
        return 1;
      }
    }
    await docker.compose(['down', '--remove-orphans', ...(values.volumes ? ['--volumes'] : [])], {
      what: 'docker compose down',
    });
    io.out(
      values.volumes
        ? `stopped ${project} and deleted its volumes`
        : `stopped ${project}; data kept (shenma up starts it again)`,
    );
    return 0;
  });
}
