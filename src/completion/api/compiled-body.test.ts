import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { compileFn } from 'zod/v4/core';
import { extensionBody } from '../../../test/support/extension-body.js';
import { codeCompletionBody, codeCompletionSchema } from './code-completion.js';
import { extensionV2Body, extensionV2Schema } from './extension-v2.js';
import { openAiCompletionBody, openAiCompletionSchema } from './openai.js';
import { tabbyCompletionBody, tabbyCompletionSchema, tabbyEventBody, tabbyEventSchema } from './tabby.js';

/**
 * The completion bodies are parsed by zod's generated parser first (shared.ts compiledBody). It
 * must accept exactly the bodies zod's interpreter accepts and return the same value (defaults,
 * transforms, unknown keys kept, key order); a refused body must get the interpreter's issues.
 * `compileFn` is the generator z.compile installs, called here to see the fast path on its own:
 * through the compiled schema a fast-path refusal would be hidden by the interpreter's answer.
 */

const SCHEMAS = [
  ['/v2/completions', extensionV2Schema, extensionV2Body],
  ['/code-completion/api/v1/completions', codeCompletionSchema, codeCompletionBody],
  ['/v1/completions (OpenAI)', openAiCompletionSchema, openAiCompletionBody],
  ['/v1/completions (Tabby)', tabbyCompletionSchema, tabbyCompletionBody],
  ['/v1/events (Tabby)', tabbyEventSchema, tabbyEventBody],
] as const;

function keyOrder(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(keyOrder);
  if (v && typeof v === 'object') return Object.entries(v).map(([k, x]) => [k, keyOrder(x)]);
  return typeof v;
}

function agree(runtime: z.ZodType, compiled: z.ZodType, body: unknown) {
  const fast = fastPath(runtime);
  const want = runtime.safeParse(body);
  const got = fast(body);
  expect(got !== z.INVALID).toBe(want.success);
  if (want.success) {
    expect(got).toStrictEqual(want.data);
    expect(keyOrder(got)).toEqual(keyOrder(want.data));
  }
  const viaCompiled = compiled.safeParse(body);
  expect(viaCompiled.success).toBe(want.success);
  if (want.success) expect(viaCompiled.data).toStrictEqual(want.data);
  else expect(viaCompiled.error?.issues).toEqual(want.error.issues);
  return want.success;
}

const fastPaths = new Map<z.ZodType, (input: unknown) => unknown>();
function fastPath(runtime: z.ZodType) {
  let f = fastPaths.get(runtime);
  if (!f) {
    f = compileFn(runtime);
    fastPaths.set(runtime, f);
  }
  return f;
}

/** What the body generator reads of a schema: zod's own description of it. */
interface Node {
  _zod: { def: Def };
}
interface Def {
  type: string;
  check?: string;
  checks?: Node[];
  shape?: Record<string, Node>;
  innerType?: Node;
  in?: Node;
  options?: Node[];
  element?: Node;
  values?: unknown[];
  entries?: Record<string, unknown>;
  maximum?: number;
  minimum?: number;
  value?: number;
}

/** Values of no particular field: wrong types, null, undefined, arrays where objects go. */
const junk: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(
    undefined,
    null,
    true,
    false,
    0,
    -1,
    1.5,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    '',
    'x',
    [],
    {},
  ),
  fc.constantFrom([{}], ['a'], { prefix: 'x' }, [{ prefix: 'x' }], new Date(0), Object.create(null)),
  fc.anything({ maxDepth: 2 }),
);

/** Lengths at either side of each limit, in UTF-16 units, some with astral characters (two units, one code point) or a lone surrogate. */
function stringsNear(limits: number[]): fc.Arbitrary<string> {
  const lengths = [...new Set(limits.flatMap((l) => [l - 1, l, l + 1]).filter((n) => n >= 0))];
  return fc
    .record({ n: fc.constantFrom(...lengths), astral: fc.nat(3), lone: fc.boolean() })
    .map(({ n, astral, lone }) => {
      const s = '😀'.repeat(astral) + 'a'.repeat(Math.max(0, n - 2 * astral));
      return lone ? `\uD800${s.slice(1)}` : s;
    });
}

function numbersNear(bounds: number[]): fc.Arbitrary<number> {
  return fc.oneof(
    fc.constantFrom(
      ...bounds.flatMap((b) => [b - 1, b - 0.5, b, b + 0.5, b + 1, b + Number.EPSILON]),
      0,
      -0,
      1,
      1.5,
      64,
      Number.MAX_SAFE_INTEGER,
      Number.MAX_SAFE_INTEGER + 1,
      -Number.MAX_SAFE_INTEGER - 1,
    ),
    fc.integer(),
    fc.double(),
  );
}

/**
 * Bodies near a schema: well-typed values, values at either side of its limits, junk in any
 * place. A noisy body draws edges and junk often (mostly refused); a clean one rarely (mostly
 * accepted), so both answers are compared.
 */
function near(node: Node, noisy: boolean): fc.Arbitrary<unknown> {
  const def = node._zod.def;
  const limits = (def.checks ?? []).map((c) => c._zod.def);
  const lengths = limits.flatMap((c) =>
    c.check === 'max_length' ? [c.maximum!] : c.check === 'min_length' ? [c.minimum!] : [],
  );
  const bounds = limits.flatMap((c) =>
    c.check === 'less_than' || c.check === 'greater_than' ? [c.value!] : [],
  );
  const child = (n: Node) => near(n, noisy);
  const pick = (plain: fc.Arbitrary<unknown>, edge: fc.Arbitrary<unknown>) =>
    fc.oneof({ arbitrary: plain, weight: noisy ? 2 : 12 }, { arbitrary: edge, weight: 1 });
  let typed: fc.Arbitrary<unknown>;
  switch (def.type) {
    case 'string':
      typed = pick(
        fc.string({ unit: 'binary', maxLength: 12 }),
        stringsNear(lengths.length ? lengths : [0, 3]),
      );
      break;
    case 'number':
      typed = pick(fc.constantFrom(...bounds, 0.5, 1, 64), numbersNear(bounds));
      break;
    case 'boolean':
      typed = fc.boolean();
      break;
    case 'literal':
      typed = fc.constantFrom(...def.values!);
      break;
    case 'enum':
      typed = fc.constantFrom(...Object.values(def.entries!));
      break;
    case 'optional':
    case 'default':
      typed = fc.oneof(fc.constant(undefined), child(def.innerType!));
      break;
    case 'nullable':
      typed = fc.oneof(fc.constant(null), child(def.innerType!));
      break;
    case 'pipe':
      typed = child(def.in!);
      break;
    case 'union':
      typed = fc.oneof(...def.options!.map(child));
      break;
    case 'array': {
      const el = child(def.element!);
      typed = pick(
        fc.array(el, { maxLength: 4 }),
        fc.oneof(
          ...(lengths.length ? lengths : [5]).map((l) =>
            fc.array(el, { minLength: Math.max(0, l - 1), maxLength: l + 1 }),
          ),
        ),
      );
      break;
    }
    case 'object': {
      const known = fc.record(
        Object.fromEntries(Object.entries(def.shape!).map(([k, v]) => [k, child(v)])),
        // A clean body has every field (some undefined); a noisy one drops any.
        noisy ? { requiredKeys: [] } : {},
      );
      const extra = fc.dictionary(fc.string({ maxLength: 8 }), junk, { maxKeys: 3 });
      typed = fc
        .tuple(known, extra, fc.boolean())
        .map(([k, e, extraFirst]) => (extraFirst ? { ...e, ...k } : { ...k, ...e }));
      break;
    }
    case 'record':
      typed = fc.oneof(
        fc.dictionary(fc.string({ maxLength: 12 }), fc.jsonValue()),
        fc.constant(Object.create(null)),
      );
      break;
    case 'unknown':
    case 'any':
      typed = fc.anything({ maxDepth: 2 });
      break;
    default:
      // A new kind of field: teach this generator about it, or its bodies go untested.
      throw new Error(`no body generator for zod type ${def.type}`);
  }
  return noisy ? fc.oneof({ arbitrary: typed, weight: 6 }, { arbitrary: junk, weight: 1 }) : typed;
}

describe.each(SCHEMAS)('%s body: compiled parse = zod', (_name, runtime, compiled) => {
  it('is compiled (z.compile hands back the schema itself when it cannot)', () => {
    expect(compiled).not.toBe(runtime);
  });

  it('accepts what zod accepts and returns what zod returns, for random bodies near the schema', () => {
    const node = runtime as unknown as Node;
    let accepted = 0;
    let refused = 0;
    fc.assert(
      fc.property(fc.oneof(near(node, true), near(node, false)), (body) => {
        if (agree(runtime, compiled, body)) accepted++;
        else refused++;
      }),
      { numRuns: 2000 },
    );
    // Both sides of the comparison were exercised, not only refusals. The schema with the fewest
    // acceptances (Tabby's) gets about 230 of 2,000 (spread ~15): 150 does not flake and still
    // catches a generator that stopped making one kind.
    expect(accepted).toBeGreaterThan(150);
    expect(refused).toBeGreaterThan(150);
  });
});

const PREFIX = 'import os\n\ndef home():\n'.padEnd(8600, '# line of code\n');

describe('golden bodies', () => {
  it('the extension 1.2.x body (8.6 KB prefix): parsed the same, defaults and unknown keys included', () => {
    const body = extensionBody(PREFIX, '\n\nprint(home())\n');
    expect(agree(extensionV2Schema, extensionV2Body, body)).toBe(true);
    const parsed = extensionV2Body.parse(body);
    expect(parsed.trigger_mode).toBe('auto');
    expect(parsed.stop).toEqual([]);
    expect(parsed).toMatchObject({ repo: 'myproject', code_path: '' });
    expect(parsed.prompt_options).not.toBe(body.prompt_options);
    for (const stop of [['\n', '\r'], '\n', null]) {
      expect(agree(extensionV2Schema, extensionV2Body, { ...body, stop })).toBe(true);
    }
  });

  it('the later client body on /code-completion/api/v1', () => {
    const body = {
      ...extensionBody(PREFIX, ''),
      client_id: 'machine-1',
      parent_id: 'cmpl-abc',
      trigger_mode: '',
      import_content: 'import os\n',
      file_project_path: 'app/paths.py',
      project_path: '/home/u/proj',
    };
    expect(agree(codeCompletionSchema, codeCompletionBody, body)).toBe(true);
    expect(codeCompletionBody.parse(body).trigger_mode).toBe('auto');
    expect(agree(codeCompletionSchema, codeCompletionBody, { ...body, trigger_mode: 'continue' })).toBe(true);
  });

  it('OpenAI and Tabby bodies as their clients send them', () => {
    const openai = {
      model: 'coder',
      prompt: 'def f(',
      suffix: ')',
      max_tokens: 64,
      temperature: 0,
      stop: ['\n'],
    };
    expect(agree(openAiCompletionSchema, openAiCompletionBody, openai)).toBe(true);
    expect(agree(openAiCompletionSchema, openAiCompletionBody, { prompt: ['a'], n: 1, echo: false })).toBe(
      true,
    );
    const tabby = {
      language: 'python',
      segments: {
        prefix: PREFIX,
        suffix: '\n',
        filepath: 'app/paths.py',
        declarations: [{ filepath: 'app/env.py', body: 'def env_home() -> str: ...' }],
        clipboard: 'os.environ["HOME"]',
      },
      user: 'tester',
    };
    expect(agree(tabbyCompletionSchema, tabbyCompletionBody, tabby)).toBe(true);
    const event = { type: 'select', completion_id: 'cmpl-1', choice_index: 0, view_id: 'v', elapsed: 120 };
    expect(agree(tabbyEventSchema, tabbyEventBody, event)).toBe(true);
  });

  it('edge bodies: limits in code points, own __proto__, null prototypes, stop counts', () => {
    const ok = { prompt_options: { prefix: 'x' } };
    const cases: [unknown, boolean][] = [
      // 65 UTF-16 units, 64 code points: zod counts code points.
      [{ ...ok, language_id: `😀${'a'.repeat(63)}` }, true],
      [{ ...ok, language_id: 'a'.repeat(65) }, false],
      [JSON.parse('{"__proto__": {"x": 1}, "prompt_options": {"prefix": "x", "__proto__": 1}}'), true],
      [Object.assign(Object.create(null), ok, { headers: Object.create(null) }), true],
      [{ ...ok, headers: new Date(0) }, false],
      [{ ...ok, stop: Array.from({ length: 16 }, () => 's') }, true],
      [{ ...ok, stop: Array.from({ length: 17 }, () => 's') }, false],
      [{ ...ok, prompt_options: undefined }, false],
      [{ prompt: 'a<FILL_HERE>b' }, true],
      [{ ...ok, max_tokens: 2 ** 53 }, false],
      [{ ...ok, temperature: 2 }, true],
      [{ ...ok, temperature: -0 }, true],
      [{ ...ok, model: undefined, extra: undefined }, true],
      [[ok], false],
      [null, false],
    ];
    for (const [body, valid] of cases) {
      expect(agree(extensionV2Schema, extensionV2Body, body)).toBe(valid);
      expect(agree(codeCompletionSchema, codeCompletionBody, body)).toBe(valid);
    }
  });
});
