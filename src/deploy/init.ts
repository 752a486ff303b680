import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { type Document, isMap, parseDocument } from 'yaml';
import { IDENTITY_PROVIDERS, type IdentityProvider } from '../config/deploy.js';
import { ConfigError, envReferences, parseConfig, yamlValue } from '../config/load.js';
import { FIM_FAMILIES, MODEL_KINDS, type ShenmaConfig } from '../config/schema.js';
import { publicUrlProblem } from './public-url.js';
import { type EnsuredSecrets, ensureSecrets, SECRETS_FILE } from './secrets.js';

/**
 * `shenma init`: the operator's answers become shenma.yaml (merged into an existing file, its
 * comments kept) and every credential is generated into the secrets file. Re-running keeps the
 * secrets and changes only the keys it is given.
 */

export interface InitAnswers {
  publicUrl?: string;
  completionModelUrl?: string;
  completionModel?: string;
  completionModelKind?: string;
  completionFamily?: string;
  completionApiKeyEnv?: string;
  chatModelUrl?: string;
  chatModel?: string;
  chatModelKind?: string;
  chatApiKeyEnv?: string;
  identity?: string;
  tlsCert?: string;
  tlsKey?: string;
  localModels?: boolean;
}

export class InitError extends Error {
  override readonly name = 'InitError';
}

export const GITIGNORE_LINES = [SECRETS_FILE, 'deploy/.env', 'deploy/secrets/', '.shenma/', 'backups/'];

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The local vLLM services' addresses inside the compose network. */
export const LOCAL_MODEL_URLS = {
  completion: 'http://vllm-completion:8000/v1',
  chat: 'http://vllm-chat:8000/v1',
} as const;

function check(a: InitAnswers): void {
  if (a.identity !== undefined && !(IDENTITY_PROVIDERS as readonly string[]).includes(a.identity))
    throw new InitError(`--identity must be ${IDENTITY_PROVIDERS.join(' or ')}, got "${a.identity}"`);
  for (const [flag, v] of [
    ['--completion-model-kind', a.completionModelKind],
    ['--chat-model-kind', a.chatModelKind],
  ] as const) {
    if (v !== undefined && !(MODEL_KINDS as readonly string[]).includes(v))
      throw new InitError(`${flag} must be one of ${MODEL_KINDS.join(', ')}, got "${v}"`);
  }
  if (a.completionFamily !== undefined && !(FIM_FAMILIES as readonly string[]).includes(a.completionFamily))
    throw new InitError(
      `--completion-family must be one of ${FIM_FAMILIES.join(', ')}, got "${a.completionFamily}"`,
    );
  for (const [flag, v] of [
    ['--completion-api-key-env', a.completionApiKeyEnv],
    ['--chat-api-key-env', a.chatApiKeyEnv],
  ] as const) {
    if (v !== undefined && !ENV_NAME.test(v))
      throw new InitError(
        `${flag} takes the NAME of an environment variable holding the key (written as \${NAME}), got "${v}"`,
      );
  }
  if ((a.tlsCert === undefined) !== (a.tlsKey === undefined))
    throw new InitError('--tls-cert and --tls-key go together');
}

/** Sets `path` in the document only when a value was given, keeping everything else as written. */
function setIfGiven(doc: Document, keyPath: (string | number)[], value: unknown): void {
  if (value !== undefined) doc.setIn(keyPath, value);
}

function modelIndex(doc: Document, role: 'completion' | 'chat'): number | undefined {
  const models = doc.get('models');
  if (!models || typeof models !== 'object' || !('items' in models)) return undefined;
  const items = (models as { items: unknown[] }).items;
  const i = items.findIndex((m) => {
    if (!isMap(m)) return false;
    const roles = m.get('roles');
    const list =
      roles && typeof roles === 'object' && 'toJSON' in roles
        ? (roles as { toJSON(): unknown }).toJSON()
        : roles;
    return Array.isArray(list) ? list.includes(role) : role === 'completion';
  });
  return i < 0 ? undefined : i;
}

function applyModel(doc: Document, role: 'completion' | 'chat', a: InitAnswers): void {
  const c = role === 'completion';
  const url = a.localModels ? LOCAL_MODEL_URLS[role] : c ? a.completionModelUrl : a.chatModelUrl;
  const model = c ? a.completionModel : a.chatModel;
  const kind = a.localModels ? 'openai' : c ? a.completionModelKind : a.chatModelKind;
  const keyEnv = c ? a.completionApiKeyEnv : a.chatApiKeyEnv;
  if (url === undefined && model === undefined && kind === undefined && keyEnv === undefined) return;
  let i = modelIndex(doc, role);
  if (i === undefined) {
    if (!doc.has('models')) doc.set('models', doc.createNode([]));
    const name = c ? 'coder' : 'chat';
    (doc.get('models') as { add(v: unknown): void }).add(
      doc.createNode({ name, kind: 'openai', url: url ?? '', roles: [role] }),
    );
    i = modelIndex(doc, role)!;
    doc.setIn([c ? 'completion' : 'chat', 'model'], name);
  }
  setIfGiven(doc, ['models', i, 'url'], url);
  setIfGiven(doc, ['models', i, 'kind'], kind);
  setIfGiven(doc, ['models', i, 'model'], a.localModels && model === undefined ? undefined : model);
  if (keyEnv !== undefined) doc.setIn(['models', i, 'apiKey'], `\${${keyEnv}}`);
  if (c) {
    const family =
      a.completionFamily ?? (doc.getIn(['models', i, 'family']) === undefined ? 'qwen2.5-coder' : undefined);
    setIfGiven(doc, ['models', i, 'family'], family);
  }
}

export interface InitResult {
  configFile: string;
  secretsFile: string;
  createdConfig: boolean;
  config: ShenmaConfig;
  secrets: EnsuredSecrets;
  gitignore: string;
}

/**
 * The TLS files must be there and be PEM now: `routes` reads them at every sync, and a wrong path
 * found there is found late.
 */
async function checkTlsFiles(configFile: string, a: InitAnswers): Promise<void> {
  for (const [flag, file, marker] of [
    ['--tls-cert', a.tlsCert, 'CERTIFICATE'],
    ['--tls-key', a.tlsKey, 'PRIVATE KEY'],
  ] as const) {
    if (file === undefined) continue;
    const resolved = path.resolve(path.dirname(configFile), file);
    let text: string;
    try {
      text = await readFile(resolved, 'utf8');
    } catch (err) {
      throw new InitError(
        `${flag} ${resolved}: cannot read it (${(err as NodeJS.ErrnoException).code ?? err})`,
      );
    }
    if (!text.includes(`-----BEGIN `) || !text.includes(marker)) {
      throw new InitError(`${flag} ${resolved}: not a PEM file holding a ${marker.toLowerCase()}`);
    }
  }
}

export async function initDeployment(configFile: string, a: InitAnswers): Promise<InitResult> {
  check(a);
  await checkTlsFiles(configFile, a);
  const createdConfig = !existsSync(configFile);
  const text = createdConfig
    ? '# Shenma configuration for the docker compose deployment, written by `shenma init`.\n# Credentials live in shenma.secrets.env (never in this file).\n'
    : await readFile(configFile, 'utf8');
  const doc: Document = parseDocument(text);
  if (doc.errors.length > 0)
    throw new InitError(`${configFile} is not valid YAML: ${doc.errors[0]!.message}`);
  if (doc.contents === null) doc.contents = doc.createNode({});
  if (!isMap(doc.contents)) throw new InitError(`${configFile}: the top level must be a mapping`);

  setIfGiven(doc, ['publicUrl'], a.publicUrl?.replace(/\/+$/, ''));
  applyModel(doc, 'completion', a);
  applyModel(doc, 'chat', a);
  setIfGiven(doc, ['deploy', 'identity'], a.identity as IdentityProvider | undefined);
  if (a.tlsCert !== undefined)
    doc.setIn(['deploy', 'tls'], doc.createNode({ cert: a.tlsCert, key: a.tlsKey }));
  if (a.localModels !== undefined) doc.setIn(['deploy', 'localModels', 'enabled'], a.localModels);

  // Validate what will be written; ${VAR} references are checked for shape, not for being set here.
  let raw: Record<string, unknown>;
  try {
    raw = yamlValue(doc, configFile) as Record<string, unknown>;
  } catch (err) {
    throw err instanceof ConfigError ? new InitError(err.message) : err;
  }
  const refs = envReferences(raw).map((r) => r.name);
  let config: ShenmaConfig;
  try {
    config = parseConfig(raw, configFile, { ...Object.fromEntries(refs.map((r) => [r, 'set-at-run-time'])) });
  } catch (err) {
    if (err instanceof ConfigError) throw new InitError(err.message);
    throw err;
  }
  const problem = publicUrlProblem(config.publicUrl, config.deploy);
  if (problem) throw new InitError(problem);
  if (!config.models.some((m) => m.roles.includes('completion')))
    throw new InitError('no completion model: pass --completion-model-url URL (or --local-models)');

  const dir = path.dirname(configFile);
  const secretsFile = path.join(dir, SECRETS_FILE);
  const secrets = await ensureSecrets(secretsFile);
  await writeFile(configFile, doc.toString({ lineWidth: 0 }));
  const gitignore = path.join(dir, '.gitignore');
  await ensureGitignore(gitignore);
  return { configFile, secretsFile, createdConfig, config, secrets, gitignore };
}

/** Adds the secret-bearing paths to .gitignore, keeping whatever else it lists. */
async function ensureGitignore(file: string): Promise<void> {
  const have = existsSync(file) ? await readFile(file, 'utf8') : '';
  const lines = new Set(have.split('\n').map((l) => l.trim()));
  const missing = GITIGNORE_LINES.filter((l) => !lines.has(l));
  if (missing.length === 0) return;
  const head =
    have === ''
      ? '# Written by `shenma init`: credentials and runtime state stay out of git.\n'
      : have.endsWith('\n')
        ? ''
        : '\n';
  await writeFile(file, `${have}${head}${missing.join('\n')}\n`);
}
