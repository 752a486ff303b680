import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { composeExecTransport } from './admin-exec.js';
import { desiredGateway } from './apisix-routes.js';
import { ApisixValidator } from './apisix-schema.js';
import { backup } from './backup.js';
import { enabledProfiles, keycloakConsoleUrl, MODELS_PULL_SERVICE } from './compose.js';
import { DockerError, type DockerRunner } from './docker.js';
import type { Deployment } from './load.js';
import { PreflightError, parseJsonLines, preflight, unsetReferences } from './preflight.js';
import { apply, plan } from './reconcile.js';
import { packageVersion, renderFiles, writeRendered } from './render.js';
import { SECRET_NAMES } from './secrets.js';
import { smokeTest } from './smoke.js';
import { publicBase } from './topology.js';

/**
 * `shenma up`: preflight, render, start and wait for every healthcheck, then bootstrap the
 * databases, migrate, reconcile the gateway, provision the ops services, smoke-test the public
 * URL and say what to put in the IDE. Every step is idempotent; re-running after editing
 * shenma.yaml or installing a newer Shenma is the upgrade.
 */

export class UpError extends Error {
  override readonly name = 'UpError';
}

export interface UpOptions {
  deployment: Deployment;
  docker: DockerRunner;
  dir: string;
  out: (line: string) => void;
  /** Checks the public URL; the default fetches it. */
  fetch?: typeof fetch;
  /** Skip the smoke test (e.g. the public URL is only reachable from elsewhere). */
  skipSmoke?: boolean;
  /** Where missing local-model weights come from, instead of deploy.localModels.pull.from. */
  modelsFrom?: string;
  /** Where ${NAME} references (the hub token) are read. */
  env?: NodeJS.ProcessEnv;
}

const LOG_LINES = 20;
export const VERSION_STAMP = '.shenma-version';

export async function up(opts: UpOptions): Promise<void> {
  const { deployment: d, docker, out } = opts;
  const { files, compose } = renderFiles(d.config, d.raw, d.secrets, { dir: opts.dir });

  const unset = unsetReferences(
    files.get('shenma/shenma.yaml')!.content,
    SECRET_NAMES,
    opts.env ?? process.env,
  );
  if (unset.length > 0) {
    const names = unset.join(', ');
    throw new PreflightError(
      `${d.configFile} references ${names}, not set in this environment; the containers get ${unset.length > 1 ? 'them' : 'it'} from the environment of \`shenma up\`: export ${names} and run it again (or write \${${unset[0]}:-} where empty will do)`,
    );
  }
  out('preflight: checking the Docker engine, Compose, ports, CPU, memory, disk and clock');
  const report = await preflight(docker, d.config, compose);
  out(`  Docker ${report.engine}, Compose ${report.compose}`);
  for (const w of report.warnings) out(`  warning: ${w}`);

  const previous = await readFile(path.join(opts.dir, VERSION_STAMP), 'utf8').then(
    (t) => t.trim(),
    () => undefined,
  );
  const version = packageVersion();
  if (previous && previous !== version) {
    // The running stack is the old version: back it up before anything changes.
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    const target = path.join(path.dirname(d.configFile), 'backups', `pre-upgrade-${previous}-${stamp}`);
    out(`upgrade: ${previous} -> ${version}; backing up first into ${target}`);
    await backup({ docker, deployment: d, out: target, log: out });
  }
  await writeRendered(opts.dir, files);
  out(`render: ${files.size} files in ${opts.dir}`);

  if (d.config.deploy.localModels.enabled)
    await ensureWeights(d, docker, out, opts.env ?? process.env, opts.modelsFrom);

  const profiles = enabledProfiles(d.config).flatMap((p) => ['--profile', p]);
  if (d.config.deploy.ops.elasticsearch) {
    // Kibana signs in to Elasticsearch as kibana_system and is not healthy until it can, so
    // that user's password is set, on Elasticsearch alone, before the rest starts.
    out('ops: starting Elasticsearch first; index template and kibana_system password');
    try {
      await docker.compose([...profiles, 'up', '-d', '--wait', 'elasticsearch'], {
        what: 'starting Elasticsearch',
      });
    } catch (err) {
      if (!(err instanceof DockerError)) throw err;
      throw new UpError(await explainUnhealthy(docker, err));
    }
    await esRequest(
      docker,
      'PUT',
      `/_index_template/${d.config.elasticsearch.index}`,
      files.get('elasticsearch/index-template.json')!.content,
    );
    await esRequest(
      docker,
      'POST',
      '/_security/user/kibana_system/_password',
      JSON.stringify({ password: d.secrets.KIBANA_SYSTEM_PASSWORD }),
    );
  }
  out('start: docker compose up -d --wait (waits for every healthcheck)');
  try {
    await docker.compose([...profiles, 'up', '-d', '--build', '--remove-orphans', '--wait'], {
      what: 'docker compose up',
    });
  } catch (err) {
    if (!(err instanceof DockerError)) throw err;
    throw new UpError(await explainUnhealthy(docker, err));
  }
  await lockImages(docker, opts.dir);

  const bootstrap = await docker.compose(
    ['exec', '-T', 'postgres', 'sh', '/docker-entrypoint-initdb.d/10-shenma-bootstrap.sh'],
    {
      what: 'database bootstrap',
    },
  );
  const created = bootstrap.stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('created '));
  if (created.length === 0)
    out('database: every role and database was already there; passwords set from the secrets');
  for (const c of created) out(`database: ${c}`);
  out('database: migrations');
  await docker.compose(
    [
      'run',
      '--rm',
      '--no-deps',
      '-T',
      'completion',
      'db',
      'migrate',
      '--config',
      '/etc/shenma/shenma.yaml',
      '--data-dir',
      '/var/lib/shenma',
    ],
    { what: 'shenma db migrate' },
  );

  out('gateway: reconciling APISIX routes and upstreams');
  const transport = composeExecTransport(docker);
  const desired = desiredGateway(d.config, {
    gatewayClientSecret: d.secrets.OIDC_GATEWAY_CLIENT_SECRET,
    configDir: path.dirname(d.configFile),
  });
  const steps = await plan(transport, desired);
  if (steps.steps.length > 0)
    await apply(transport, desired, steps, new ApisixValidator(await transport.schema()));
  out(
    `  ${steps.steps.length} change(s), ${steps.unchanged} unchanged, ${steps.foreign} not managed by Shenma left alone`,
  );

  if (d.config.deploy.identity === 'keycloak') {
    out('identity: reconciling the Keycloak realm and clients');
    const sync = await docker.compose(
      [
        'run',
        '--rm',
        '--no-deps',
        '-T',
        '-e',
        'KEYCLOAK_ADMIN_PASSWORD',
        '-e',
        'OIDC_GATEWAY_CLIENT_SECRET',
        'completion',
        'keycloak',
        'sync',
        '--config',
        '/etc/shenma/shenma.yaml',
      ],
      {
        what: 'Keycloak realm sync',
        env: {
          KEYCLOAK_ADMIN_PASSWORD: d.secrets.KEYCLOAK_ADMIN_PASSWORD,
          OIDC_GATEWAY_CLIENT_SECRET: d.secrets.OIDC_GATEWAY_CLIENT_SECRET,
        },
      },
    );
    for (const line of sync.stdout.trim().split('\n').filter(Boolean)) out(line);
  }

  if (d.config.deploy.ops.kibana) {
    out('ops: Kibana data view');
    await esRequest(
      docker,
      'POST',
      '/api/data_views/data_view',
      files.get('kibana/data-view.json')!.content,
      'http://kibana:5601',
    );
  }

  if (opts.skipSmoke) out('smoke test: skipped (--skip-smoke)');
  else await smokeTest({ config: d.config, docker, fetch: opts.fetch ?? fetch, out });
  await writeFile(path.join(opts.dir, VERSION_STAMP), `${version}\n`);
  printNextSteps(d, out);
}

/**
 * vLLM with missing weights only fails its healthcheck after a long start period, so look first:
 * each local model's folder in the `models` volume must hold a config.json. What is missing is
 * pulled into the volume by the models-pull job (`shenma models pull` in a one-off container)
 * from deploy.localModels.pull.from (or --models-from); what is there is left alone.
 */
async function ensureWeights(
  d: Deployment,
  docker: DockerRunner,
  out: (l: string) => void,
  env: NodeJS.ProcessEnv,
  fromOverride: string | undefined,
): Promise<void> {
  out('local models: checking the weights in the models volume');
  for (const role of ['completion', 'chat'] as const) {
    const model = d.config.deploy.localModels[role];
    const dir = model.startsWith('/') ? model : `/models/${model}`;
    if (await hasWeights(docker, role, dir)) {
      out(`  ${role}: ${dir} is there`);
      continue;
    }
    if (model.startsWith('/'))
      throw new UpError(
        `the models volume lacks ${dir}/config.json for the ${role} model; deploy.localModels.${role} is a path, so there is nothing to pull by name: put the weights there (docker compose run models-pull models pull --from ... --into ${dir}) or name a hub model id`,
      );
    const from = fromOverride ?? d.config.deploy.localModels.pull.from;
    out(`  ${role}: ${dir} is missing; pulling ${model} from ${describeSource(d, from)}`);
    await pullWeights(d, docker, out, env, model, from);
    if (!(await hasWeights(docker, role, dir)))
      throw new UpError(
        `pulled ${model} into the models volume, but ${dir}/config.json is still missing: the source does not hold this model as a folder named ${model} with a config.json`,
      );
    out(`  ${role}: pulled ${model} into ${dir}`);
  }
}

async function hasWeights(docker: DockerRunner, role: string, dir: string): Promise<boolean> {
  const res = await docker.compose(
    ['run', '--rm', '--no-deps', '-T', '--entrypoint', 'test', `vllm-${role}`, '-f', `${dir}/config.json`],
    { allowFailure: true, what: `weights check for vllm-${role}` },
  );
  return res.code === 0;
}

function describeSource(d: Deployment, from: string): string {
  const pull = d.config.deploy.localModels.pull;
  if (from === 'hub') return `the hub at ${pull.endpoint} (revision ${pull.revision})`;
  return from;
}

/** `${NAME}` or `${NAME:-fallback}` as written in shenma.yaml: the token is read from here. */
function hubToken(d: Deployment, env: NodeJS.ProcessEnv): string | undefined {
  const raw = (d.raw.deploy as Record<string, Record<string, Record<string, unknown>>> | undefined)
    ?.localModels?.pull?.token;
  if (raw === undefined || raw === null) return undefined;
  const m = /^\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}$/.exec(String(raw));
  if (!m)
    throw new UpError(
      'deploy.localModels.pull.token must be an environment reference such as ${HF_TOKEN}, not the token itself (shenma.yaml is not a secrets file)',
    );
  const value = env[m[1]!] || m[3];
  if (value === undefined)
    throw new UpError(
      `deploy.localModels.pull.token refers to ${m[1]}, which is not set here; set it (or write \${${m[1]}:-} if the models are not gated)`,
    );
  return value || undefined;
}

async function pullWeights(
  d: Deployment,
  docker: DockerRunner,
  out: (l: string) => void,
  env: NodeJS.ProcessEnv,
  model: string,
  from: string,
): Promise<void> {
  const pull = d.config.deploy.localModels.pull;
  const flags: string[] = [];
  const callEnv: Record<string, string> = {};
  let args: string[];
  if (from === 'hub') {
    args = [
      '--model',
      model,
      '--endpoint',
      pull.endpoint,
      '--revision',
      pull.revision,
      '--into',
      `/models/${model}`,
    ];
    const token = hubToken(d, env);
    if (token) {
      // Handed to the container by name: the value stays off the command line.
      flags.push('-e', 'HF_TOKEN');
      callEnv.HF_TOKEN = token;
    }
  } else if (/^https?:\/\//i.test(from)) {
    args = ['--from', `${from.replace(/\/+$/, '')}/${model}`, '--into', `/models/${model}`];
  } else {
    const source = path.resolve(path.dirname(d.configFile), from);
    const st = await stat(source).catch(() => undefined);
    if (!st) throw new UpError(`deploy.localModels.pull.from: ${source} does not exist on this host`);
    if (st.isDirectory()) {
      if (!(await stat(path.join(source, model)).catch(() => undefined))?.isDirectory())
        throw new UpError(
          `deploy.localModels.pull.from: ${source} has no folder ${model}/ (a directory source holds one folder per model id)`,
        );
      flags.push('-v', `${source}:/source:ro`);
      args = ['--from', `/source/${model}`, '--into', `/models/${model}`];
    } else {
      // A tarball holds MODEL/... folders: unpacked at the volume's top.
      flags.push('-v', `${path.dirname(source)}:/source:ro`);
      args = ['--from', `/source/${path.basename(source)}`, '--into', '/models'];
    }
  }
  await docker
    .compose(
      [
        '--profile',
        MODELS_PULL_SERVICE,
        'run',
        '--rm',
        '--no-deps',
        '-T',
        ...flags,
        MODELS_PULL_SERVICE,
        'models',
        'pull',
        ...args,
      ],
      { what: `pulling ${model} into the models volume`, env: callEnv, onLine: (l) => out(`    ${l}`) },
    )
    .catch((err: unknown) => {
      if (err instanceof DockerError)
        throw new UpError(
          `${err.message}\nfix that (or set deploy.localModels.pull / --models-from), then run shenma up again: what was downloaded is kept and resumed`,
        );
      throw err;
    });
}

/** The failing service, its health, and its last log lines: one message that says what to fix. */
async function explainUnhealthy(docker: DockerRunner, err: DockerError): Promise<string> {
  const ps = await docker.compose(['ps', '--all', '--format', 'json'], { allowFailure: true });
  const bad = parseJsonLines(ps.stdout).filter(
    (c) => c.Health === 'unhealthy' || (c.State !== 'running' && c.State !== undefined),
  );
  if (bad.length === 0) return `docker compose up failed: ${err.message}`;
  const parts: string[] = [];
  for (const c of bad) {
    const service = String(c.Service ?? c.Name);
    const logs = await docker.compose(['logs', '--no-color', '--tail', String(LOG_LINES), service], {
      allowFailure: true,
    });
    const lines = (logs.stdout + logs.stderr)
      .trim()
      .split('\n')
      .slice(-LOG_LINES)
      .map((l) => `    ${l}`);
    parts.push(
      `service ${service} did not become healthy (state ${c.State}${c.Health ? `, health ${c.Health}` : ''}); its last log lines:\n${lines.join('\n')}`,
    );
  }
  return `${parts.join('\n')}\nfix it, then run shenma up again (shenma logs ${String(bad[0]!.Service ?? '')} shows more)`;
}

/**
 * Pins what was pulled: image reference -> the registry digest it resolved to
 * (`repo@sha256:...`, from `docker image inspect`'s RepoDigests: what another host can pull to
 * get the very same bytes), in deploy/images.lock. An image built here (Shenma's own) has no
 * registry digest; its local image id is recorded instead.
 */
async function lockImages(docker: DockerRunner, dir: string): Promise<void> {
  const res = await docker.compose(['images', '--format', 'json'], { allowFailure: true });
  const lock: Record<string, string> = {};
  for (const i of parseJsonLines(res.stdout)) {
    if (!i.Repository || !i.Tag || !i.ID) continue;
    const ref = `${i.Repository}:${i.Tag}`;
    if (lock[ref]) continue;
    const inspect = await docker.docker(['image', 'inspect', '--format', '{{json .RepoDigests}}', ref], {
      allowFailure: true,
    });
    const digests = (() => {
      try {
        return JSON.parse(inspect.stdout) as unknown;
      } catch {
        return undefined;
      }
    })();
    const repoDigest = Array.isArray(digests)
      ? (digests as string[]).find((x) => typeof x === 'string' && /@sha256:[0-9a-f]{64}$/.test(x))
      : undefined;
    lock[ref] = repoDigest ?? String(i.ID);
  }
  await writeFile(path.join(dir, 'images.lock'), `${JSON.stringify(lock, null, 2)}\n`);
}

/** Runs inside the elasticsearch container (it has curl and $ELASTIC_PASSWORD); body via stdin. */
async function esRequest(
  docker: DockerRunner,
  method: string,
  p: string,
  body: string,
  base = 'http://127.0.0.1:9200',
) {
  const res = await docker.compose(
    [
      'exec',
      '-T',
      'elasticsearch',
      'sh',
      '-c',
      `curl -sS -f -u "elastic:$ELASTIC_PASSWORD" -X ${method} -H 'Content-Type: application/json' -H 'kbn-xsrf: shenma' --data-binary @- '${base}${p}'`,
    ],
    { input: body, what: `${method} ${p}` },
  );
  return res.stdout;
}

function printNextSteps(d: Deployment, out: (l: string) => void): void {
  const base = publicBase(d.config);
  const c = d.config.deploy;
  out('');
  out('Shenma is up.');
  out(`  IDE (Zhuge Shenma extension): set the server base URL to ${base}`);
  out(`  OpenAI-compatible clients: base URL ${base}/v1 with a personal API token`);
  out(
    c.identity === 'keycloak'
      ? `  Users: create them in Keycloak's admin console, ${keycloakConsoleUrl(d.config)}/admin/ (user admin, password KEYCLOAK_ADMIN_PASSWORD in ${d.secretsFile})`
      : '  Users: docker compose exec identity node /app/bin/shenma.js users add NAME (then tokens create NAME)',
  );
  if (c.ops.grafana)
    out(
      `  Grafana: http://${c.consoleAddress}:${c.ports.grafana} (admin, GRAFANA_ADMIN_PASSWORD in ${d.secretsFile})`,
    );
  if (c.ops.kibana)
    out(
      `  Kibana: http://${c.consoleAddress}:${c.ports.kibana} (elastic, ELASTIC_PASSWORD in ${d.secretsFile})`,
    );
}
