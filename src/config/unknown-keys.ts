import type { z } from 'zod';
import { configLeaves, envNameFor, unwrap } from './introspect.js';

/**
 * A mistyped key (`maxConcurency:`) would otherwise be dropped by validation and do nothing,
 * so every key of the file and every SHENMA_* variable is checked against the schema, with the
 * nearest known name suggested.
 */

export interface UnknownKey {
  /** Path of the unknown key itself, e.g. ['models', '0', 'maxConcurency']. */
  path: string[];
  suggestion?: string;
}

interface Def {
  type: string;
  shape?: Record<string, z.ZodType>;
  element?: z.ZodType;
  valueType?: z.ZodType;
}

function def(s: z.ZodType): Def {
  return (s as unknown as { _zod: { def: Def } })._zod.def;
}

/** Edit distance, case-insensitive: typos and wrong capitalisation are both near. */
function distance(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  let prev = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const row = [i];
    for (let j = 1; j <= y.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (x[i - 1] === y[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[y.length]!;
}

/** The known name nearest to `name`, when it is near enough to be what was meant. */
export function nearest(name: string, known: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const k of known) {
    const d = distance(name, k);
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  const limit = Math.max(2, Math.floor(name.length / 3));
  return bestDistance <= limit ? best : undefined;
}

/** Keys of `value` that `schema` does not define, at any depth (lists and maps included). */
export function unknownKeys(schema: z.ZodType, value: unknown, path: string[] = []): UnknownKey[] {
  const { inner } = unwrap(schema);
  const d = def(inner);
  if (d.type === 'array' && d.element && Array.isArray(value)) {
    return value.flatMap((v, i) => unknownKeys(d.element!, v, [...path, String(i)]));
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) return [];
  if (d.type === 'record' && d.valueType) {
    return Object.entries(value).flatMap(([k, v]) => unknownKeys(d.valueType!, v, [...path, k]));
  }
  if (d.type !== 'object' || !d.shape) return [];
  const shape = d.shape;
  const out: UnknownKey[] = [];
  for (const [key, child] of Object.entries(value)) {
    const known = shape[key];
    if (known) {
      out.push(...unknownKeys(known, child, [...path, key]));
      continue;
    }
    const suggestion = nearest(key, Object.keys(shape));
    out.push({ path: [...path, key], ...(suggestion ? { suggestion } : {}) });
  }
  return out;
}

/**
 * SHENMA_* variables that are not config keys: read by the CLI itself, by the embedded database
 * (SHENMA_CLUSTERS_DIR: where state lives, like the data directory), or by the test suite.
 * Anything else starting with SHENMA_ must name a config key.
 */
export const NON_CONFIG_ENV = new Set([
  'SHENMA_CONFIG',
  'SHENMA_DATA_DIR',
  'SHENMA_ADMIN_WAIT_MS',
  'SHENMA_CLUSTERS_DIR',
  // The embedded provider's signing keys, shared by replicas (identity/keys.ts).
  'SHENMA_OIDC_SIGNING_KEYS',
]);
const NON_CONFIG_ENV_PREFIX = 'SHENMA_TEST_';

/** SHENMA_* variables that name no config key, each with the nearest variable that does. */
export function unknownEnvVariables(
  schema: z.ZodType,
  env: NodeJS.ProcessEnv,
  /** Variables the config file references as ${NAME}: they are its own, whatever their names. */
  referenced: ReadonlySet<string> = new Set(),
): { name: string; suggestion?: string }[] {
  const known = new Set(configLeaves(schema).map((l) => envNameFor(l.path)));
  const out: { name: string; suggestion?: string }[] = [];
  for (const name of Object.keys(env)) {
    if (!name.startsWith('SHENMA_') || known.has(name) || NON_CONFIG_ENV.has(name)) continue;
    if (referenced.has(name)) continue;
    if (name.startsWith(NON_CONFIG_ENV_PREFIX)) continue;
    const suggestion = nearest(name, [...known, ...NON_CONFIG_ENV]);
    out.push({ name, ...(suggestion ? { suggestion } : {}) });
  }
  return out;
}
