import { readFileSync } from 'node:fs';
import { type Document, parseDocument } from 'yaml';
import type { z } from 'zod';
import { configLeaves, envNameFor } from './introspect.js';
import { configSchema, type ShenmaConfig } from './schema.js';
import { unknownEnvVariables, unknownKeys } from './unknown-keys.js';

/** A config problem, already phrased for the operator: file, key path, what is wrong. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

const ENV_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

export interface EnvReference {
  name: string;
  /** Every reference to it has a fallback (${NAME:-...}): the config does without it. */
  optional: boolean;
}

/** The variables a config value (a parsed document, or its text) references as ${NAME}, by name. */
export function envReferences(value: unknown): EnvReference[] {
  const text = typeof value === 'string' ? value : JSON.stringify(value ?? null);
  const optional = new Map<string, boolean>();
  for (const [, name, fallback] of text.matchAll(ENV_REF)) {
    optional.set(name!, (optional.get(name!) ?? true) && fallback !== undefined);
  }
  return [...optional]
    .map(([name, opt]) => ({ name, optional: opt }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** What resolving the references found: unset variables, every name used, whole-value references. */
interface EnvRefs {
  missing: { path: string[]; name: string }[];
  /** Every variable the file references (such a SHENMA_* variable is the file's, not unknown). */
  used: Set<string>;
  /** Paths whose whole value was one reference: a number or boolean key may take its text. */
  whole: Set<string>;
}

const WHOLE_REF = /^\$\{[A-Za-z_][A-Za-z0-9_]*(?::-[^}]*)?\}$/;

/** Replaces ${VAR} and ${VAR:-default} in every string of the parsed YAML. */
function resolveEnvRefs(value: unknown, env: NodeJS.ProcessEnv, path: string[], refs: EnvRefs): unknown {
  if (typeof value === 'string') {
    if (WHOLE_REF.test(value)) refs.whole.add(path.join('.'));
    return value.replace(ENV_REF, (_m, name: string, fallback: string | undefined) => {
      refs.used.add(name);
      const v = env[name];
      if (v !== undefined && v !== '') return v;
      if (fallback !== undefined) return fallback;
      refs.missing.push({ path, name });
      return '';
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => resolveEnvRefs(v, env, [...path, String(i)], refs));
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, resolveEnvRefs(v, env, [...path, k], refs)]),
    );
  }
  return value;
}

/** Text as the number or boolean a key of that type takes; undefined when it is not one. */
function scalarFor(type: string, text: string): number | boolean | undefined {
  const t = text.trim();
  if (type === 'number' && t !== '' && !Number.isNaN(Number(t))) return Number(t);
  if (type === 'boolean' && (t === 'true' || t === 'false')) return t === 'true';
  return undefined;
}

/**
 * A referenced value where the schema wants a number or a boolean (`port: ${PORT:-9080}`): read
 * as environment overrides are. Returns whether anything changed.
 */
function coerceWholeRefs(
  resolved: Record<string, unknown>,
  issues: readonly z.core.$ZodIssue[],
  whole: Set<string>,
): boolean {
  let changed = false;
  for (const issue of issues) {
    if (issue.code !== 'invalid_type' || !whole.has(issue.path.map(String).join('.'))) continue;
    const keys = issue.path.map(String);
    let parent: unknown = resolved;
    for (const k of keys.slice(0, -1)) parent = (parent as Record<string, unknown> | undefined)?.[k];
    if (!parent || typeof parent !== 'object') continue;
    const holder = parent as Record<string, unknown>;
    const text = holder[keys[keys.length - 1]!];
    if (typeof text !== 'string') continue;
    const scalar = scalarFor(issue.expected, text);
    if (scalar !== undefined) {
      holder[keys[keys.length - 1]!] = scalar;
      changed = true;
    }
  }
  return changed;
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

/** One problem, with where it came from: a key of the file or an environment variable. */
interface Problem {
  /** Key path in the config, e.g. models.0.url ('' for the top level). */
  path: string;
  message: string;
  /** Set when the value came from this SHENMA_* variable rather than the file. */
  env?: string;
}

/**
 * SHENMA_* variables override scalar keys; values are read as YAML scalars (numbers, booleans).
 * Returns which config paths each variable set, so a bad value is blamed on the variable.
 */
function applyEnvOverrides(
  raw: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
  problems: Problem[],
): Map<string, string> {
  const applied = new Map<string, string>();
  for (const leaf of configLeaves(configSchema)) {
    const name = envNameFor(leaf.path);
    const v = env[name];
    if (v === undefined) continue;
    let value: unknown = scalarFor(leaf.type, v) ?? v;
    if (leaf.type === 'array') {
      try {
        value = JSON.parse(v);
      } catch {
        problems.push({ path: leaf.path.join('.'), message: 'expected a JSON array', env: name });
        continue;
      }
    }
    setPath(raw, leaf.path, value);
    applied.set(leaf.path.join('.'), name);
  }
  return applied;
}

function describeProblem(p: Problem): string {
  if (p.env) return `  ${p.env} (environment variable${p.path ? `, ${p.path}` : ''}): ${p.message}`;
  return `  ${p.path || '(top level)'}: ${p.message}`;
}

/** Every problem at once, file problems first: fixing one per restart is slow. */
function configError(source: string, problems: Problem[]): ConfigError {
  const fromFile = problems.filter((p) => !p.env);
  const fromEnv = problems.filter((p) => p.env);
  const where =
    fromFile.length === 0
      ? 'from environment variables'
      : fromEnv.length === 0
        ? `in ${source}`
        : `in ${source} and environment variables`;
  return new ConfigError(
    `invalid configuration ${where}:\n${[...fromFile, ...fromEnv].map(describeProblem).join('\n')}`,
  );
}

/** The SHENMA_* variable that set `path` or one of its parents, if any. */
function envFor(path: string, applied: Map<string, string>): string | undefined {
  for (const [p, name] of applied) if (path === p || path.startsWith(`${p}.`)) return name;
  return undefined;
}

/** Validates an already-parsed config object (e.g. from tests) and applies defaults. */
export function parseConfig(raw: unknown, source = 'config', env: NodeJS.ProcessEnv = {}): ShenmaConfig {
  const problems: Problem[] = [];
  const refs: EnvRefs = { missing: [], used: new Set(), whole: new Set() };
  const { missing } = refs;
  const resolved = resolveEnvRefs(raw ?? {}, env, [], refs);
  for (const m of missing) {
    const state = env[m.name] === '' ? 'is empty' : 'is not set';
    problems.push({
      path: m.path.join('.'),
      message: `environment variable ${m.name} ${state} (write \${${m.name}:-} to make it optional)`,
    });
  }
  if (!resolved || typeof resolved !== 'object' || Array.isArray(resolved)) {
    throw new ConfigError(`invalid configuration in ${source}: the top level must be a mapping`);
  }
  for (const u of unknownKeys(configSchema, resolved)) {
    const key = u.path[u.path.length - 1]!;
    problems.push({
      path: u.path.join('.'),
      message: `unknown key "${key}"${u.suggestion ? `; did you mean \`${u.suggestion}\`?` : ''}`,
    });
  }
  for (const u of unknownEnvVariables(configSchema, env, refs.used)) {
    problems.push({
      path: '',
      env: u.name,
      message: `names no configuration key${u.suggestion ? `; did you mean ${u.suggestion}?` : ''}`,
    });
  }
  const applied = applyEnvOverrides(resolved as Record<string, unknown>, env, problems);
  let result = configSchema.safeParse(resolved);
  if (
    !result.success &&
    coerceWholeRefs(resolved as Record<string, unknown>, result.error.issues, refs.whole)
  ) {
    result = configSchema.safeParse(resolved);
  }
  if (!result.success) {
    for (const issue of result.error.issues) {
      const path = issue.path.map(String).join('.');
      // A missing variable already explains the empty value it left behind.
      if (missing.some((m) => m.path.join('.') === path)) continue;
      const fromEnv = envFor(path, applied);
      problems.push({ path, message: issue.message, ...(fromEnv ? { env: fromEnv } : {}) });
    }
  }
  if (problems.length > 0 || !result.success) throw configError(source, problems);
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
  return parseConfig(yamlValue(doc, file), file, env);
}

/**
 * The document's value. yaml refuses, while building it, what parsing let through: an alias
 * expanded too often (a "billion laughs" file) is a config problem, not a crash.
 */
export function yamlValue(doc: Document, file: string): unknown {
  try {
    return doc.toJS();
  } catch (err) {
    throw new ConfigError(`${file} is not usable YAML: ${(err as Error).message}`);
  }
}
