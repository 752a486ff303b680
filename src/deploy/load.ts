import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { ConfigError, envReferences, parseConfig, yamlValue } from '../config/load.js';
import type { ShenmaConfig } from '../config/schema.js';
import { readSecrets, SECRETS_FILE, type Secrets } from './secrets.js';

/**
 * What every deployment command starts from: shenma.yaml as written (raw, ${NAME} references
 * kept) and validated, and the secrets file beside it. Model keys referenced as ${NAME} need not
 * be set on the machine that renders: containers resolve them.
 */

export class DeploymentError extends Error {
  override readonly name = 'DeploymentError';
}

export interface Deployment {
  configFile: string;
  config: ShenmaConfig;
  raw: Record<string, unknown>;
  secretsFile: string;
  secrets: Secrets;
}

export async function loadDeployment(
  configPath: string | undefined,
  env: NodeJS.ProcessEnv,
): Promise<Deployment> {
  const configFile = path.resolve(configPath ?? env.SHENMA_CONFIG ?? 'shenma.yaml');
  if (!existsSync(configFile))
    throw new DeploymentError(`config file ${configFile} does not exist; run \`shenma init\` first`);
  let text: string;
  try {
    text = readFileSync(configFile, 'utf8');
  } catch (err) {
    throw new DeploymentError(
      `cannot read config file ${configFile}: ${(err as NodeJS.ErrnoException).code ?? err}`,
    );
  }
  const doc = parseDocument(text);
  if (doc.errors.length > 0)
    throw new DeploymentError(`${configFile} is not valid YAML: ${doc.errors[0]!.message}`);
  let raw: Record<string, unknown>;
  try {
    raw = (yamlValue(doc, configFile) ?? {}) as Record<string, unknown>;
  } catch (err) {
    throw err instanceof ConfigError ? new DeploymentError(err.message) : err;
  }
  const refs = envReferences(raw).map((r) => r.name);
  let config: ShenmaConfig;
  try {
    config = parseConfig(
      raw,
      configFile,
      Object.fromEntries(refs.map((r) => [r, env[r] || 'resolved-in-container'])),
    );
  } catch (err) {
    if (err instanceof ConfigError) throw new DeploymentError(err.message);
    throw err;
  }
  const secretsFile = path.join(path.dirname(configFile), SECRETS_FILE);
  const secrets = await readSecrets(secretsFile);
  return { configFile, config, raw, secretsFile, secrets };
}
