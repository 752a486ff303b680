/**
 * Oracle benchmark for the post-processing pipeline, no model needed: the HumanEval infilling
 * problems' true middle is fed as the "model output", alone and with the kinds of junk models
 * add, and we count how often the pipeline gives back exactly the true middle.
 *
 *   npx tsx bench/oracle.ts
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { runFilters } from '../src/completion/filters/index.js';
import { FIM_TEMPLATES } from '../src/completion/prompt/templates.js';
import { StopDetector } from '../src/completion/stream/stop-detector.js';
import { cursorView, type FilterContext, type LineMode } from '../src/completion/types.js';
import { FILTER_NAMES, type FilterName } from '../src/config/schema.js';

interface Problem {
  task_id: string;
  prompt: string;
  suffix: string;
  canonical_solution: string;
}

const DATA_FILES = ['HumanEval-SingleLineInfilling', 'HumanEval-MultiLineInfilling'] as const;
const LANGUAGE = 'python';
const TEMPLATE = FIM_TEMPLATES['deepseek-coder'];
const END_OF_SENTENCE = '<｜end▁of▁sentence｜>';
const ALL_FILTERS = Object.fromEntries(FILTER_NAMES.map((name) => [name, true])) as Record<
  FilterName,
  boolean
>;
/** For the trade-off column: everything except the "block ended" rules. */
const WITHOUT_SCOPE: Record<FilterName, boolean> = { ...ALL_FILTERS, scopeLimit: false };
/** Streams arrive in token-sized pieces; the detector's result does not depend on the size. */
const PIECE_CHARS = 4;

/**
 * The fixtures live in `../shared/fixtures` beside the checkout (not copied into the repository);
 * a git worktree sits deeper, so look upwards from the repository for the nearest `shared/fixtures`.
 */
function fixturesDir(): string {
  const env = process.env.SHENMA_FIXTURES;
  if (env) return env;
  let dir = fileURLToPath(new URL('..', import.meta.url));
  for (;;) {
    const candidate = join(dir, '..', 'shared', 'fixtures');
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('no ../shared/fixtures above the repository; set SHENMA_FIXTURES');
    dir = parent;
  }
}

function loadProblems(name: string): Problem[] {
  const file = join(fixturesDir(), 'humaneval-infilling', `${name}.jsonl.gz`);
  return gunzipSync(readFileSync(file))
    .toString('utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Problem);
}

interface JunkKind {
  label: string;
  /** The "model output", or undefined when this problem cannot carry this junk. */
  make(p: Problem): string | undefined;
}

function lastNonBlankLine(text: string): string | undefined {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .at(-1);
}

const JUNK_KINDS: JunkKind[] = [
  { label: '(a) true middle alone', make: (p) => p.canonical_solution },
  {
    label: '(b) + first 3 suffix lines again',
    make: (p) => {
      if (p.suffix.trim() === '') return undefined;
      const lines = p.suffix.split('\n');
      return p.canonical_solution + lines.slice(0, 3).join('\n') + (lines.length > 3 ? '\n' : '');
    },
  },
  {
    label: '(c) + last line repeated x3',
    make: (p) => {
      const last = lastNonBlankLine(p.canonical_solution);
      return last === undefined ? undefined : p.canonical_solution + `${last}\n`.repeat(3);
    },
  },
  {
    label: '(d) + an unrelated function',
    make: (p) =>
      `${p.canonical_solution}\n\ndef unrelated_helper(values):\n    return [v * 2 for v in values]\n`,
  },
  {
    label: `(e) + leaked EOS + junk`,
    make: (p) => `${p.canonical_solution}${END_OF_SENTENCE}\n# File: other.py\nimport os\n`,
  },
];

/** The simple rule: multi-line when the cursor line before the cursor is blank. */
function lineModeFor(p: Problem): LineMode {
  return cursorView(p.prompt, p.suffix).linePrefix.trim() === '' ? 'multi' : 'single';
}

function detect(p: Problem, output: string, lineMode: LineMode): string {
  const detector = new StopDetector({
    prefix: p.prompt,
    suffix: p.suffix,
    lineMode,
    stop: [...TEMPLATE.stop],
    specialTokens: [...TEMPLATE.specialTokens],
  });
  for (let i = 0; i < output.length; i += PIECE_CHARS) {
    if (detector.push(output.slice(i, i + PIECE_CHARS))) break;
  }
  return detector.text();
}

/** Only trailing whitespace (per line and blank lines at the end) is ignored. */
function normalize(text: string): string {
  return text
    .split(/\r?\n/)
    .map((line) => line.trimEnd())
    .join('\n')
    .replace(/\n+$/, '');
}

interface Tally {
  cases: number;
  raw: number;
  detector: number;
  pipeline: number;
  withoutScope: number;
}

function percent(hits: number, of: number): string {
  return of === 0 ? '   n/a' : `${((100 * hits) / of).toFixed(1).padStart(5)}%`;
}

const started = performance.now();
const missesByFilter = new Map<string, number>();
console.log('Oracle benchmark: HumanEval infilling (python), deepseek-coder special tokens.');
console.log('Exact match with the true middle; only trailing whitespace differences are ignored.');
console.log('raw = output as is; detector = stream stop detector only; pipeline = detector + all filters;');
console.log(
  'no-scope = all filters but scopeLimit and no detector (what the "block ended" rule costs and buys).\n',
);
for (const file of DATA_FILES) {
  const problems = loadProblems(file);
  const modes = problems.map(lineModeFor);
  const multi = modes.filter((m) => m === 'multi').length;
  console.log(
    `${file}: ${problems.length} problems (${multi} multi-line, ${problems.length - multi} single-line)`,
  );
  console.log(
    `  ${'junk kind'.padEnd(36)} ${'cases'.padStart(6)} ${'raw'.padStart(7)} ${'detector'.padStart(9)} ${'pipeline'.padStart(9)} ${'no-scope'.padStart(9)}`,
  );
  for (const kind of JUNK_KINDS) {
    const tally: Tally = { cases: 0, raw: 0, detector: 0, pipeline: 0, withoutScope: 0 };
    problems.forEach((p, i) => {
      const output = kind.make(p);
      if (output === undefined) return;
      const lineMode = modes[i]!;
      const expected = normalize(p.canonical_solution);
      const detected = detect(p, output, lineMode);
      const ctx: FilterContext = {
        prefix: p.prompt,
        suffix: p.suffix,
        language: LANGUAGE,
        lineMode,
        specialTokens: [...TEMPLATE.specialTokens],
      };
      const { text, hits } = runFilters(detected, ctx, ALL_FILTERS);
      tally.cases++;
      if (normalize(runFilters(output, ctx, WITHOUT_SCOPE).text) === expected) tally.withoutScope++;
      if (normalize(output) === expected) tally.raw++;
      if (normalize(detected) === expected) tally.detector++;
      if (normalize(text) === expected) tally.pipeline++;
      else if (kind.label.startsWith('(a)')) {
        const blame = normalize(detected) !== expected ? 'stop detector (block end)' : hits.join(' + ');
        const key = `${file}: ${blame}`;
        missesByFilter.set(key, (missesByFilter.get(key) ?? 0) + 1);
      }
    });
    console.log(
      `  ${kind.label.padEnd(36)} ${String(tally.cases).padStart(6)} ${percent(tally.raw, tally.cases).padStart(7)} ${percent(tally.detector, tally.cases).padStart(9)} ${percent(tally.pipeline, tally.cases).padStart(9)} ${percent(tally.withoutScope, tally.cases).padStart(9)}`,
    );
  }
  console.log('');
}
if (missesByFilter.size > 0) {
  console.log('True middles changed by the pipeline (case (a)), by what changed them:');
  for (const [key, count] of [...missesByFilter].sort((a, b) => b[1] - a[1]))
    console.log(`  ${key}: ${count}`);
}
console.log(`\n(${((performance.now() - started) / 1000).toFixed(1)} s)`);
