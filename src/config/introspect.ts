import type { z } from 'zod';

/**
 * Walks the config schema so that env overrides, the generated shenma.yaml and the docs all
 * come from the one schema instead of hand-kept lists.
 */

export interface ConfigLeaf {
  path: string[];
  type: 'string' | 'number' | 'boolean' | 'enum' | 'array' | 'other';
  description?: string;
  defaultValue?: unknown;
  options?: readonly string[];
}

interface Def {
  type: string;
  innerType?: z.ZodType;
  defaultValue?: unknown;
  shape?: Record<string, z.ZodType>;
  entries?: Record<string, string>;
}

function def(s: z.ZodType): Def {
  return (s as unknown as { _zod: { def: Def } })._zod.def;
}

/** Peels default/prefault/optional wrappers, keeping the first description and default seen. */
export function unwrap(schema: z.ZodType): {
  inner: z.ZodType;
  description?: string;
  defaultValue?: unknown;
} {
  let s = schema;
  let description = s.description;
  let defaultValue: unknown;
  for (;;) {
    const d = def(s);
    if (d.type === 'default' || d.type === 'prefault') {
      if (defaultValue === undefined) {
        defaultValue =
          typeof d.defaultValue === 'function' ? (d.defaultValue as () => unknown)() : d.defaultValue;
      }
    } else if (d.type !== 'optional' && d.type !== 'nullable') {
      break;
    }
    s = d.innerType as z.ZodType;
    description ??= s.description;
  }
  return { inner: s, description, defaultValue };
}

export function objectShape(schema: z.ZodType): Record<string, z.ZodType> | undefined {
  const { inner } = unwrap(schema);
  const d = def(inner);
  return d.type === 'object' ? d.shape : undefined;
}

/** Every non-object key under `schema`, depth first, in declaration order. */
export function configLeaves(schema: z.ZodType, path: string[] = []): ConfigLeaf[] {
  const shape = objectShape(schema);
  if (!shape) return [];
  const out: ConfigLeaf[] = [];
  for (const [key, child] of Object.entries(shape)) {
    const childPath = [...path, key];
    if (objectShape(child)) {
      out.push(...configLeaves(child, childPath));
      continue;
    }
    const { inner, description, defaultValue } = unwrap(child);
    const d = def(inner);
    const type =
      d.type === 'string' ||
      d.type === 'number' ||
      d.type === 'boolean' ||
      d.type === 'enum' ||
      d.type === 'array'
        ? d.type
        : 'other';
    const leaf: ConfigLeaf = { path: childPath, type };
    if (description !== undefined) leaf.description = description;
    if (defaultValue !== undefined) leaf.defaultValue = defaultValue;
    if (d.type === 'enum' && d.entries) leaf.options = Object.values(d.entries);
    out.push(leaf);
  }
  return out;
}

/** completion.timeouts.firstTokenMs → SHENMA_COMPLETION_TIMEOUTS_FIRST_TOKEN_MS */
export function envNameFor(path: string[]): string {
  return `SHENMA_${path.map((p) => p.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()).join('_')}`;
}
