/**
 * Oracle benchmark for completion quality, no model needed: in the HumanEval infilling problems
 * the true middle is known, so it is fed through `/v2/completions`' pipeline as the "model output",
 * alone and followed by the kinds of junk models add, and the reply is compared with it.
 *
 *   npm run bench:oracle
 *   npm run bench:oracle -- --set RandomSpan --show 5 --kind f   # print misses to look at
 *
 * Sets: SingleLine and MultiLine (the fixtures' whole-line holes), RandomSpan (holes cut at
 * seeded random points of the same solutions; see bench/lib/oracle-cases.ts).
 */
import { parseArgs } from 'node:util';
import {
  JUNK_KINDS,
  type OracleCase,
  type OracleSet,
  randomSpanSet,
  wholeLineSet,
} from './lib/oracle-cases.js';
import { complete, type PipelineResult } from './lib/oracle-pipeline.js';
import { table } from './lib/stats.js';

const { values: args } = parseArgs({
  options: {
    set: { type: 'string', default: 'SingleLine,MultiLine,RandomSpan' },
    'per-task': { type: 'string', default: '3' },
    seed: { type: 'string', default: '11' },
    kind: { type: 'string' },
    show: { type: 'string', default: '0' },
  },
});

/**
 * Compared as the editor would show it: trailing spaces after code and blank lines at the very
 * end do not count; everything else (indentation, whitespace-only lines inside) must match.
 */
function normalize(text: string): string {
  return text
    .split(/\r?\n/)
    .map((line) => (line.trim() === '' ? line : line.trimEnd()))
    .join('\n')
    .replace(/\s+$/, '');
}

type Outcome = 'exact' | 'right' | 'short' | 'empty' | 'junk';

/**
 * exact: the whole true middle. right: a prefix of it that ends at a line end and has at least
 * its first non-blank line. short: a prefix of it that does not. empty: nothing although the
 * middle was not. junk: text that is not in the true middle.
 */
function outcomeOf(reply: string, middle: string): Outcome {
  const got = normalize(reply);
  const want = normalize(middle);
  if (got === want) return 'exact';
  if (got === '') return 'empty';
  if (!want.startsWith(got)) return 'junk';
  if (!want.startsWith(`${got}\n`)) return 'short';
  const firstLineEnd = want.search(/\S[^\n]*(\n|$)/);
  const firstNonBlankEnd = firstLineEnd === -1 ? 0 : want.indexOf('\n', firstLineEnd);
  return firstNonBlankEnd === -1 || got.length >= firstNonBlankEnd ? 'right' : 'short';
}

interface Tally {
  cases: number;
  exact: number;
  right: number;
  junk: number;
  empty: number;
}

const newTally = (): Tally => ({ cases: 0, exact: 0, right: 0, junk: 0, empty: 0 });

function add(t: Tally, o: Outcome): void {
  t.cases++;
  if (o === 'exact') t.exact++;
  if (o === 'exact' || o === 'right') t.right++;
  if (o === 'junk') t.junk++;
  if (o === 'empty') t.empty++;
}

function pct(hits: number, of: number): string {
  return of === 0 ? 'n/a' : `${((100 * hits) / of).toFixed(1)}%`;
}

function row(label: string, t: Tally): string[] {
  return [
    label,
    String(t.cases),
    pct(t.right, t.cases),
    pct(t.exact, t.cases),
    pct(t.junk, t.cases),
    pct(t.empty, t.cases),
  ];
}

/** What made a case come out as it did: refusal, line-mode cut, detector stop, filters. */
function blame(r: PipelineResult): string {
  if (r.rejectedBy) return `rejected:${r.rejectedBy}`;
  const parts = [`${r.lineMode}-line`];
  if (r.stopReason) parts.push(`detector:${r.stopReason}`);
  if (r.hits.length > 0) parts.push(r.hits.join('+'));
  return parts.join(' ');
}

function showCase(c: OracleCase, output: string, r: PipelineResult, outcome: Outcome): void {
  const tail = c.prefix.split('\n').slice(-3).join('\n');
  const head = c.suffix.split('\n').slice(0, 2).join('\n');
  console.log(`  ── ${c.id} → ${outcome} (${blame(r)})`);
  console.log(`     prefix …${JSON.stringify(tail)}`);
  console.log(`     middle  ${JSON.stringify(c.middle)}`);
  console.log(`     suffix  ${JSON.stringify(head)}…`);
  console.log(`     output  ${JSON.stringify(output)}`);
  console.log(`     reply   ${JSON.stringify(r.text)}`);
}

/**
 * What kind of request a miss is, from the code's structure rather than from what the pipeline
 * did: where the cursor is, what follows it on its line, and where the first line of the true
 * middle that was not shown sits relative to the cursor line's indentation.
 */
function missKind(c: OracleCase, r: PipelineResult): string {
  if (r.rejectedBy) return `refused by ${r.rejectedBy}`;
  const got = normalize(r.text);
  const want = normalize(c.middle);
  const linePrefix = c.prefix.slice(c.prefix.lastIndexOf('\n') + 1);
  const lineBreak = c.suffix.indexOf('\n');
  const lineSuffix = (lineBreak === -1 ? c.suffix : c.suffix.slice(0, lineBreak)).trim();
  const cursor = linePrefix.trim() === '' ? 'line start' : 'mid-line';
  const after = lineSuffix === '' ? 'nothing after' : 'closers after';
  if (!want.startsWith(got)) return `${cursor}, ${after}: not a prefix of the middle`;
  const next = want.slice(got.length).replace(/^\n+/, '').split('\n')[0]!;
  const indent = (line: string) => line.length - line.trimStart().length;
  const base = indent(linePrefix.trim() === '' ? (want.split('\n').find((l) => l.trim()) ?? '') : linePrefix);
  const where = indent(next) > base ? 'deeper' : indent(next) === base ? 'at the same level' : 'shallower';
  const shown = got === '' ? 'nothing' : `${got.split('\n').length} line(s)`;
  return `${cursor}, ${after}: ${shown} shown, the middle goes on ${where}`;
}

interface Target {
  label: string;
  met: boolean;
}

const started = performance.now();
const wanted = new Set(args.set.split(','));
const sets: OracleSet[] = [];
if (wanted.has('SingleLine')) sets.push(wholeLineSet('SingleLine'));
if (wanted.has('MultiLine')) sets.push(wholeLineSet('MultiLine'));
if (wanted.has('RandomSpan')) sets.push(randomSpanSet(Number(args['per-task']), Number(args.seed)));
const kinds = JUNK_KINDS.filter((k) => !args.kind || k.label.startsWith(`(${args.kind})`));
let toShow = Number(args.show);

console.log('Oracle benchmark: HumanEval infilling (python) through the /v2/completions pipeline');
console.log('(rules, line mode, stop strings, stop detector, filters; default configuration,');
console.log('deepseek-coder special tokens). The "model output" is the true middle, alone or with junk.');
console.log('right = a prefix of the true middle ending at a line end, with at least its first line;');
console.log('exact = all of it; junk = text not in the true middle; empty = nothing although it was not.\n');

const targets: Target[] = [];
for (const set of sets) {
  const refused = new Map<string, number>();
  const missBlame = new Map<string, number>();
  const missKinds = new Map<string, number>();
  const all = newTally();
  const rows: string[][] = [];
  for (const kind of kinds) {
    const tally = newTally();
    for (const c of set.cases) {
      const output = kind.make(c);
      if (output === undefined) continue;
      const r = complete(c.prefix, c.suffix, output);
      const outcome = outcomeOf(r.text, c.middle);
      add(tally, outcome);
      add(all, outcome);
      if (kind === JUNK_KINDS[0]) {
        if (r.rejectedBy) refused.set(r.rejectedBy, (refused.get(r.rejectedBy) ?? 0) + 1);
        if (outcome !== 'exact') {
          const key = `${outcome}: ${blame(r)}`;
          missBlame.set(key, (missBlame.get(key) ?? 0) + 1);
          const kind = missKind(c, r);
          missKinds.set(kind, (missKinds.get(kind) ?? 0) + 1);
        }
      }
      if (outcome !== 'exact' && toShow > 0) {
        toShow--;
        showCase(c, output, r, outcome);
      }
    }
    rows.push(row(kind.label, tally));
  }
  rows.push(row('all kinds', all));
  const multi = set.cases.filter((c) => c.middle.includes('\n')).length;
  console.log(`${set.name}: ${set.cases.length} requests (${multi} with a multi-line middle)`);
  console.log(
    table(['  junk kind', 'cases', 'right whole-line', 'exact', 'junk kept', 'empty'], rows)
      .split('\n')
      .map((l) => `  ${l}`)
      .join('\n'),
  );
  if (refused.size > 0) {
    const list = [...refused].map(([rule, n]) => `${rule} ${n} (${pct(n, set.cases.length)})`).join(', ');
    console.log(`  refused by a rule (counted as empty): ${list}`);
  }
  if (missBlame.size > 0) {
    console.log('  (a) not exact, by outcome and what decided it:');
    for (const [key, n] of [...missBlame].sort((a, b) => b[1] - a[1]).slice(0, 12))
      console.log(`    ${String(n).padStart(5)}  ${key}`);
    console.log('  (a) not exact, by kind of request:');
    for (const [kind, n] of [...missKinds].sort((a, b) => b[1] - a[1]).slice(0, 12))
      console.log(`    ${String(n).padStart(5)}  ${kind}`);
  }
  console.log('');
  if (kinds.length === JUNK_KINDS.length) {
    const share = (n: number) => n / all.cases;
    if (set.name === 'SingleLine')
      targets.push({ label: 'SingleLine exact ≥ 99.9%', met: share(all.exact) >= 0.999 });
    if (set.name === 'MultiLine')
      targets.push({ label: 'MultiLine exact ≥ 95%', met: share(all.exact) >= 0.95 });
    if (set.name === 'RandomSpan') {
      targets.push({ label: 'RandomSpan right whole-line ≥ 97%', met: share(all.right) >= 0.97 });
      targets.push({ label: 'RandomSpan junk kept ≤ 1%', met: share(all.junk) <= 0.01 });
      targets.push({ label: 'RandomSpan exact ≥ 80%', met: share(all.exact) >= 0.8 });
    }
  }
}
if (targets.length > 0) {
  console.log('Targets (all junk kinds together):');
  for (const t of targets) console.log(`  ${t.met ? 'met    ' : 'NOT MET'}  ${t.label}`);
}
console.log(`\n(${((performance.now() - started) / 1000).toFixed(1)} s)`);
