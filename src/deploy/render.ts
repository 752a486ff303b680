import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import type { ShenmaConfig } from '../config/schema.js';
import { type ComposeFile, enabledProfiles, renderCompose } from './compose.js';
import { renderApisixConfig } from './files/apisix-config.js';
import { renderContainerConfig } from './files/container-config.js';
import { renderDockerfile } from './files/dockerfile.js';
import { renderDataView, renderIndexTemplate } from './files/elastic.js';
import { renderDashboard, renderDashboardProvider, renderDatasources } from './files/grafana.js';
import { renderDeployRealm } from './files/keycloak.js';
import { deploymentDatabases, renderBootstrapScript, renderBootstrapSql } from './files/postgres.js';
import { renderAlertRules, renderPrometheusConfig } from './files/prometheus.js';
import { publicUrlProblem } from './public-url.js';
import { SECRET_NAMES, type Secrets } from './secrets.js';

/**
 * `shenma render`: the deploy folder, i.e. compose.yaml, every file it mounts, the Dockerfile
 * of Shenma's image, the files `up` provisions (Elasticsearch template, Kibana data view), and
 * the .env Compose reads the credentials from (0600). Nothing else.
 */

export class RenderError extends Error {
  override readonly name = 'RenderError';
}

export interface RenderedFile {
  content: string;
  /** 0o600 for files holding secrets, 0o755 for scripts, else 0o644. */
  mode: number;
}

export interface RenderOptions {
  /** The Shenma package root (the image's build context); default: this package. */
  packageRoot?: string;
  /** The deploy folder; the build context is written relative to it. */
  dir: string;
  /** The image tag; default the package's version. */
  version?: string;
}

/** src/deploy/render.ts and dist/deploy/render.js both sit two levels below the package root. */
export const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export function packageVersion(root = PACKAGE_ROOT): string {
  return (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }).version;
}

export function renderFiles(
  config: ShenmaConfig,
  raw: Record<string, unknown>,
  secrets: Secrets,
  opts: RenderOptions,
): { files: Map<string, RenderedFile>; compose: ComposeFile } {
  const problem = publicUrlProblem(config.publicUrl, config.deploy);
  if (problem) throw new RenderError(problem);
  const packageRoot = opts.packageRoot ?? PACKAGE_ROOT;
  const dir = path.resolve(opts.dir);
  const context = path.relative(dir, packageRoot) || '.';
  const containerConfig = renderContainerConfig(raw, config);
  const compose = renderCompose(config, {
    buildContext: context,
    dockerfile: path.relative(packageRoot, path.join(dir, 'Dockerfile')),
    version: opts.version ?? packageVersion(packageRoot),
    containerConfig,
  });
  const files = new Map<string, RenderedFile>();
  const text = (content: string, mode = 0o644) => ({ content, mode });
  const json = (value: unknown) => text(`${JSON.stringify(value, null, 2)}\n`);

  files.set(
    'compose.yaml',
    text(
      `# Rendered by \`shenma render\` from shenma.yaml; edit that and re-render.\n${stringify(compose, { lineWidth: 0, aliasDuplicateObjects: false })}`,
    ),
  );
  files.set('Dockerfile', text(renderDockerfile(config)));
  files.set('.env', text(renderEnvFile(config, secrets), 0o600));
  files.set('apisix/config.yaml', text(renderApisixConfig(config)));
  const dbs = deploymentDatabases();
  files.set('postgres/bootstrap.sql', text(renderBootstrapSql(dbs)));
  files.set('postgres/bootstrap.sh', text(renderBootstrapScript(dbs), 0o755));
  files.set('shenma/shenma.yaml', text(containerConfig));
  if (config.deploy.identity === 'keycloak')
    files.set('keycloak/realm-gw.json', json(renderDeployRealm(config)));
  if (config.deploy.ops.prometheus) {
    files.set('prometheus/prometheus.yml', text(renderPrometheusConfig(config)));
    files.set('prometheus/alerts.yml', text(renderAlertRules()));
  }
  if (config.deploy.ops.grafana) {
    files.set('grafana/provisioning/datasources/prometheus.yaml', text(renderDatasources()));
    files.set('grafana/provisioning/dashboards/shenma.yaml', text(renderDashboardProvider()));
    files.set('grafana/dashboards/shenma.json', json(renderDashboard()));
  }
  if (config.deploy.ops.elasticsearch)
    files.set('elasticsearch/index-template.json', json(renderIndexTemplate(config.elasticsearch.index)));
  if (config.deploy.ops.kibana)
    files.set('kibana/data-view.json', json(renderDataView(config.elasticsearch.index)));
  return { files, compose };
}

/** What Compose interpolates: the credentials, the project name and the enabled profiles. */
function renderEnvFile(config: ShenmaConfig, secrets: Secrets): string {
  const lines = [
    '# Rendered by `shenma render` from shenma.secrets.env. Mode 0600; never commit it.',
    `COMPOSE_PROJECT_NAME=${config.deploy.project}`,
    `COMPOSE_PROFILES=${enabledProfiles(config).join(',')}`,
    ...SECRET_NAMES.map((n) => `${n}=${secrets[n]}`),
  ];
  return `${lines.join('\n')}\n`;
}

/** Writes the folder; files it rendered before and no longer renders are removed. */
export async function writeRendered(dir: string, files: Map<string, RenderedFile>): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const written: string[] = [];
  for (const [rel, f] of files) {
    const target = path.join(dir, rel);
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(target, f.content, { mode: f.mode });
    await chmod(target, f.mode);
    written.push(rel);
  }
  for (const stale of await listFiles(dir)) {
    if (!files.has(stale) && isRenderedPath(stale)) await rm(path.join(dir, stale));
  }
  return written;
}

/** Only our subfolders are pruned; anything else the operator keeps there stays. */
const RENDERED_DIRS = [
  'apisix/',
  'postgres/',
  'shenma/',
  'keycloak/',
  'prometheus/',
  'grafana/',
  'elasticsearch/',
  'kibana/',
];
function isRenderedPath(rel: string): boolean {
  return RENDERED_DIRS.some((d) => rel.startsWith(d));
}

async function listFiles(dir: string, prefix = ''): Promise<string[]> {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const rel = `${prefix}${e.name}`;
    if (e.isDirectory()) out.push(...(await listFiles(path.join(dir, e.name), `${rel}/`)));
    else out.push(rel);
  }
  return out;
}
