import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { CompletionOutcome } from '../engine.js';

/**
 * A request body schema with zod's generated parser in front (`z.compile`, built once at load):
 * a valid body is parsed by straight-line code instead of zod's interpreter, and any body that
 * code refuses goes to the interpreter, so a refusal's wording is zod's by construction (costs:
 * bench/README.md, `bench:hot-path`). Zod's own compiler rather than ajv: one schema per body, no
 * second field list, and zod's semantics (lengths in code points, safe integers, transforms,
 * defaults, loose objects) rather than JSON Schema's. A schema zod cannot compile (or a runtime
 * without `new Function`) is returned as it is and keeps working on the interpreter; the test
 * api/compiled-body.test.ts fails then, and uses the argument, the runtime schema, as its oracle.
 */
export function compiledBody<S extends z.ZodType>(schema: S): S {
  return z.compile(schema);
}

/** Fields the extension family shares between /v2/completions and /code-completion/api/v1. */

export const stopSchema = z
  .union([z.string(), z.array(z.string())], { error: 'must be a string or an array of strings' })
  .nullish()
  // A refine, not .max() inside the union: a union reports only "Invalid input" when a branch fails.
  .refine((s) => !Array.isArray(s) || s.length <= 16, 'at most 16 stop strings')
  .transform((s) => (s == null ? [] : typeof s === 'string' ? [s] : s));

export const promptOptionsSchema = z.looseObject({
  prefix: z.string({ error: 'must be a string' }),
  suffix: z.string().default(''),
  cursor_line_prefix: z.string().optional(),
  cursor_line_suffix: z.string().optional(),
  code_context: z.string().optional(),
});

export const triggerModeSchema = z
  .enum(['auto', 'manual', 'continue', ''])
  .optional()
  .transform((t) => (t === '' || t === undefined ? 'auto' : t));

/** "<counter>-<stream>" as the extension numbers its completion points. */
export function completionStream(completionId: string | undefined): string | undefined {
  if (!completionId) return undefined;
  const dash = completionId.indexOf('-');
  return dash === -1 ? undefined : completionId.slice(dash + 1);
}

/** Random bytes drawn 256 ids at a time: one system call per 256 requests instead of one each. */
const ID_BYTES = 15;
let idPool = Buffer.alloc(0);
let idAt = 0;

export function newCompletionId(): string {
  if (idAt + ID_BYTES > idPool.length) {
    idPool = randomBytes(ID_BYTES * 256);
    idAt = 0;
  }
  const id = idPool.toString('base64url', idAt, idAt + ID_BYTES);
  idAt += ID_BYTES;
  return `cmpl-${id}`;
}

/** Why a reply carries no suggestion, in words an operator can grep for. */
export function outcomeReason(o: CompletionOutcome): string {
  switch (o.kind) {
    case 'rejected':
      return `rejected:${o.rule}`;
    case 'superseded':
      return 'superseded';
    case 'client_gone':
      return 'client_gone';
    case 'completed':
      return o.text === '' ? 'empty' : o.source;
  }
}

export interface DebugInfo {
  filters: string[];
  raw_text: string;
  line_mode: string;
  prompt_tokens: number;
  timings_ms: Record<string, number>;
  replica?: string;
  prompt?: string;
}

export function debugInfo(o: CompletionOutcome): DebugInfo | undefined {
  if (o.kind !== 'completed') return undefined;
  const round = (n: number | undefined) => (n === undefined ? undefined : Math.round(n * 100) / 100);
  const timings: Record<string, number> = {};
  for (const [k, v] of Object.entries(o.timings)) {
    const r = round(v);
    if (r !== undefined) timings[k] = r;
  }
  return {
    filters: o.filters,
    raw_text: o.rawText,
    line_mode: o.lineMode,
    prompt_tokens: o.promptTokens,
    timings_ms: timings,
    ...(o.replica ? { replica: o.replica } : {}),
    ...(o.prompt ? { prompt: o.prompt.prompt } : {}),
  };
}

/** OpenAI's `usage` block; outcomes without a model answer count nothing. */
export function usageOf(o: CompletionOutcome) {
  const promptTokens = o.kind === 'completed' ? o.promptTokens : 0;
  const completionTokens = o.kind === 'completed' ? o.completionTokens : 0;
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
  };
}

/**
 * The reply shape of the original completion server (docs/protocol.md §4.3): the extension reads
 * only choices[].text; the rest is for people and later clients. "No suggestion" is 200 with
 * empty choices and a reason.
 */
export function extensionReply(id: string, o: CompletionOutcome, verbose: boolean) {
  const completed = o.kind === 'completed' && o.text !== '';
  return {
    id,
    object: 'text_completion',
    created: Math.floor(Date.now() / 1000),
    model: o.model,
    choices: completed ? [{ index: 0, text: o.text, finish_reason: o.finishReason }] : [],
    usage: usageOf(o),
    reason: outcomeReason(o),
    cost_time: Math.round(o.timings.totalMs),
    server_extra_kwargs: {
      is_cache: o.kind === 'completed' && (o.source === 'cache' || o.source === 'typed_through'),
      hit_processors: o.kind === 'completed' ? o.filters.join(',') : '',
      ...(o.kind === 'rejected' ? { rejected_code: o.rule } : {}),
    },
    ...(verbose ? { debug: debugInfo(o) } : {}),
  };
}
