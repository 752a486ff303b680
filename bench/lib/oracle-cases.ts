/**
 * Requests for the oracle benchmark, built from the HumanEval infilling fixtures (read in place
 * from `../shared/fixtures`): the true middle is known, so it can stand in for a perfect model.
 */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { fixturePath } from '../../test/support/fixtures.js';

interface Problem {
  task_id: string;
  prompt: string;
  suffix: string;
  canonical_solution: string;
}

/** One request: the document around the cursor and what truly belongs there. */
export interface OracleCase {
  id: string;
  prefix: string;
  suffix: string;
  middle: string;
}

export interface OracleSet {
  name: string;
  cases: OracleCase[];
}

function loadProblems(name: string): Problem[] {
  const file = fixturePath(`humaneval-infilling/${name}.jsonl.gz`);
  return gunzipSync(readFileSync(file))
    .toString('utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Problem);
}

/**
 * The fixtures' holes are whole lines: the prompt ends at a line start and the middle ends with
 * its line break. An editor shows that as the cursor on an empty line, so the middle's last line
 * break goes to the suffix (the document is the same, the cursor line is blank).
 */
function wholeLineCase(p: Problem): OracleCase {
  const middle = p.canonical_solution;
  return middle.endsWith('\n')
    ? { id: p.task_id, prefix: p.prompt, middle: middle.slice(0, -1), suffix: `\n${p.suffix}` }
    : { id: p.task_id, prefix: p.prompt, middle, suffix: p.suffix };
}

export function wholeLineSet(name: 'SingleLine' | 'MultiLine'): OracleSet {
  return { name, cases: loadProblems(`HumanEval-${name}Infilling`).map(wholeLineCase) };
}

/** mulberry32: a small seeded generator, so every run draws the same requests. */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Where an editor asks for a completion: the rest of the line after the cursor is blank, or only
 * closing punctuation an editor auto-inserts or a user leaves behind (`)`, `'))`, `]):`).
 */
const CLOSERS_ONLY = /^[)\]}'"`]+[:;,]?[ \t]*$/;

interface Task {
  id: string;
  document: string;
  /** Offsets of the solution body: the span the fixtures' holes cover. */
  bodyStart: number;
  bodyEnd: number;
}

/**
 * One document per HumanEval task. The fixtures' variants mostly agree on the document; the ones
 * holing the first body line add a blank line after the docstring, so the majority is used.
 */
function tasksOf(problems: Problem[]): Task[] {
  const byTask = new Map<string, Problem[]>();
  for (const p of problems) {
    const id = p.task_id.split('/').slice(1, 3).join('/');
    byTask.set(id, [...(byTask.get(id) ?? []), p]);
  }
  return [...byTask].map(([id, variants]) => {
    const counts = new Map<string, number>();
    for (const p of variants) {
      const doc = p.prompt + p.canonical_solution + p.suffix;
      counts.set(doc, (counts.get(doc) ?? 0) + 1);
    }
    const document = [...counts].sort((a, b) => b[1] - a[1])[0]![0];
    const same = variants.filter((p) => p.prompt + p.canonical_solution + p.suffix === document);
    return {
      id,
      document,
      bodyStart: Math.min(...same.map((p) => p.prompt.length)),
      bodyEnd: Math.max(...same.map((p) => p.prompt.length + p.canonical_solution.length)),
    };
  });
}

interface Line {
  start: number;
  end: number;
  text: string;
}

function linesOf(document: string, from: number, to: number): Line[] {
  const lines: Line[] = [];
  let start = from;
  while (start < to) {
    const nl = document.indexOf('\n', start);
    const end = nl === -1 || nl > to ? to : nl;
    lines.push({ start, end, text: document.slice(start, end) });
    start = end + 1;
  }
  return lines;
}

/** Longest hole, in lines. */
const MAX_HOLE_LINES = 15;

/**
 * Random-span requests: for each task, `perTask` seeded draws of
 * 1. the hole's end: a point in the body where the rest of the line is blank or only closers
 *    (that is what the cursor line shows once the hole is taken out);
 * 2. its length: 1–15 lines, uniform, as far as the body reaches upwards;
 * 3. its start: a uniform column of the first line, from its indentation to its end (so the
 *    cursor is often mid-word or mid-statement, as when a user pauses while typing).
 * The hole can be empty (start = end): then the right answer is nothing.
 */
export function randomSpanSet(perTask: number, seed: number): OracleSet {
  const random = seededRandom(seed);
  const pick = (n: number) => Math.floor(random() * n);
  const cases: OracleCase[] = [];
  for (const task of tasksOf(loadProblems('HumanEval-MultiLineInfilling'))) {
    const lines = linesOf(task.document, task.bodyStart, task.bodyEnd);
    const ends: { line: number; at: number }[] = [];
    lines.forEach((line, index) => {
      for (let col = 0; col <= line.text.length; col++) {
        const rest = line.text.slice(col);
        if (col === line.text.length || CLOSERS_ONLY.test(rest)) {
          if (rest.trim() === '' && col < line.text.length) continue; // trailing spaces: take the line end
          ends.push({ line: index, at: line.start + col });
        }
      }
    });
    const drawn = new Set<string>();
    for (let attempt = 0; attempt < perTask * 4 && drawn.size < perTask; attempt++) {
      const end = ends[pick(ends.length)]!;
      const span = 1 + pick(Math.min(MAX_HOLE_LINES, end.line + 1));
      const first = lines[end.line - span + 1]!;
      const indent = first.text.length - first.text.trimStart().length;
      const lastCol = span === 1 ? end.at - first.start : first.text.length;
      if (lastCol < indent) continue;
      const start = first.start + indent + pick(lastCol - indent + 1);
      const key = `${start}-${end.at}`;
      if (drawn.has(key)) continue;
      drawn.add(key);
      cases.push({
        id: `${task.id}@${start}-${end.at}`,
        prefix: task.document.slice(0, start),
        middle: task.document.slice(start, end.at),
        suffix: task.document.slice(end.at),
      });
    }
  }
  return { name: 'RandomSpan', cases };
}

/** The kinds of output a model gives for a case: the true middle, alone or with junk after it. */
export interface JunkKind {
  label: string;
  /** The "model output", or undefined when this case cannot carry this junk. */
  make(c: OracleCase): string | undefined;
}

const END_OF_SENTENCE = '<｜end▁of▁sentence｜>';

function lastLineOf(text: string): string {
  return text.slice(text.lastIndexOf('\n') + 1);
}

function restOfLine(suffix: string): string {
  const nl = suffix.indexOf('\n');
  return nl === -1 ? suffix : suffix.slice(0, nl);
}

/** The last non-blank line of the middle as it reads in the document (cursor line included). */
function lastWrittenLine(c: OracleCase): string | undefined {
  const written = lastLineOf(c.prefix) + c.middle + restOfLine(c.suffix);
  return written
    .split('\n')
    .filter((line) => line.trim() !== '')
    .at(-1);
}

export const JUNK_KINDS: readonly JunkKind[] = [
  { label: '(a) true middle alone', make: (c) => c.middle },
  {
    label: '(b) + rest of line, 3 suffix lines',
    make: (c) => {
      const lines = c.suffix.split('\n');
      if (lines.slice(0, 4).join('').trim() === '') return undefined;
      return c.middle + lines.slice(0, 4).join('\n') + (lines.length > 4 ? '\n' : '');
    },
  },
  {
    label: '(c) + last line repeated x3',
    make: (c) => {
      const last = lastWrittenLine(c);
      return last === undefined ? undefined : c.middle + `\n${last}`.repeat(3);
    },
  },
  {
    label: '(d) + an unrelated function',
    make: (c) => `${c.middle}\n\n\ndef unrelated_helper(values):\n    return [v * 2 for v in values]\n`,
  },
  {
    label: '(e) + leaked EOS + junk',
    make: (c) => `${c.middle}${END_OF_SENTENCE}\n# File: other.py\nimport os\n`,
  },
  {
    label: '(f) re-types the rest of the line',
    make: (c) => {
      const rest = restOfLine(c.suffix).trimEnd();
      return rest.trim() === '' ? undefined : c.middle + rest;
    },
  },
];
