import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { configLeaves, envNameFor } from './introspect.js';
import { configSchema, type ShenmaConfig } from './schema.js';

/** A config problem, already phrased for the operator: file, key path, what is wrong. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

const ENV_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/** Replaces ${VAR} and ${VAR:-default} in every string of the parsed YAML. */
function resolveEnvRefs(value: unknown, env: NodeJS.ProcessEnv, path: string[], missing: string[]): unknown {
  if (typeof value === 'string') {
    return value.replace(ENV_REF, (_m, name: string, fallback: string | undefined) => {
      const v = env[name];
      if (v !== undefined && v !== '') return v;
      if (fallback !== undefined) return fallback;
      missing.push(`${path.join('.')}: environment variable ${name} is not set`);
      return '';
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => resolveEnvRefs(v, env, [...path, String(i)], missing));
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, resolveEnvRefs(v, env, [...path, k], missing)]),
    );
  }
  return value;
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (!next || typeof next !== 'object' || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1]!] = value;
}

/** SHENMA_* variables override scalar keys; values are read as YAML scalars (numbers, booleans). */
function applyEnvOverrides(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): void {
  for (const leaf of configLeaves(configSchema)) {
    const v = env[envNameFor(leaf.path)];
    if (v === undefined) continue;
    let value: unknown = v;
    if (leaf.type === 'number' && v.trim() !== '' && !Number.isNaN(Number(v))) value = Number(v);
    if (leaf.type === 'boolean' && (v === 'true' || v === 'false')) value = v === 'true';
    if (leaf.type === 'array') {
      try {
        value = JSON.parse(v);
      } catch {
        throw new ConfigError(`${envNameFor(leaf.path)}: expected a JSON array`);
      }
    }
    setPath(raw, leaf.path, value);
  }
}

function formatIssues(source: string, issues: { path: PropertyKey[]; message: string }[]): string {
  const lines = issues.map((i) => `  ${i.path.map(String).join('.') || '(top level)'}: ${i.message}`);
  return `invalid configuration in ${source}:\n${lines.join('\n')}`;
}

/** Validates an already-parsed config object (e.g. from tests) and applies defaults. */
export function parseConfig(raw: unknown, source = 'config', env: NodeJS.ProcessEnv = {}): ShenmaConfig {
  const missing: string[] = [];
  const resolved = resolveEnvRefs(raw ?? {}, env, [], missing);
  if (missing.length > 0)
    throw new ConfigError(`invalid configuration in ${source}:\n  ${missing.join('\n  ')}`);
  if (!resolved || typeof resolved !== 'object' || Array.isArray(resolved)) {
    throw new ConfigError(`invalid configuration in ${source}: the top level must be a mapping`);
  }
  applyEnvOverrides(resolved as Record<string, unknown>, env);
  const result = configSchema.safeParse(resolved);
  if (!result.success) throw new ConfigError(formatIssues(source, result.error.issues));
  return result.data;
}

export function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): ShenmaConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${file}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(`${file} is not valid YAML:\n  ${doc.errors.map((e) => e.message).join('\n  ')}`);
  }
  return parseConfig(doc.toJS(), file, env);
}
