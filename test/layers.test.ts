import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * The import structure of src/: each top-level folder sits in a layer and may import only from
 * its own folder and from lower layers. Folders in one layer (the features) do not import each
 * other. An import that has to break the order says why in a comment starting
 * `layer exception:` on the line(s) right above it.
 */

const LAYERS: readonly (readonly string[])[] = [
  ['config', 'observability'],
  ['storage'],
  ['models'],
  // Request helpers, errors, identity and route-handler types every feature's handlers share.
  ['http'],
  // The route table, the role contract and the embedded gateway that mounts them.
  ['gateway'],
  ['completion', 'chat', 'identity', 'kaptcha', 'trampoline', 'ops'],
  // Composition: builds the roles into a running server.
  ['server'],
  ['deploy'],
  ['cli'],
];

const SRC = resolve(import.meta.dirname, '../src');

function layerOf(folder: string): number {
  const i = LAYERS.findIndex((layer) => layer.includes(folder));
  if (i < 0) throw new Error(`src/${folder} is in no layer: add it to LAYERS in test/layers.test.ts`);
  return i;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(path);
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [path] : [];
  });
}

interface Edge {
  from: string;
  to: string;
  line: number;
}

/** Every relative import, re-export and dynamic import of a file, as parsed by TypeScript. */
function importsOf(file: string): Edge[] {
  const text = readFileSync(file, 'utf8');
  const info = ts.preProcessFile(text, true, true);
  return info.importedFiles
    .filter((f) => f.fileName.startsWith('.'))
    .map((f) => ({
      from: relative(SRC, file),
      to: relative(SRC, resolve(dirname(file), f.fileName)),
      line: text.slice(0, f.pos).split('\n').length - 1,
    }));
}

/** The comment lines directly above an import (its statement may span lines; look a little up). */
function explained(file: string, line: number): boolean {
  const lines = readFileSync(join(SRC, file), 'utf8').split('\n');
  let i = line;
  // Walk up to the start of the import statement, then through the comment block above it.
  while (i > 0 && !/^\s*(import|export)\b/.test(lines[i] ?? '')) i--;
  for (let j = i - 1; j >= 0 && /^\s*(\/\/|\/?\*)/.test(lines[j] ?? ''); j--) {
    if (/layer exception:/.test(lines[j] ?? '')) return true;
  }
  return false;
}

function violations(edges: readonly Edge[]): string[] {
  const out: string[] = [];
  for (const edge of edges) {
    const fromFolder = edge.from.split('/')[0] ?? '';
    const toFolder = edge.to.split('/')[0] ?? '';
    if (edge.to.startsWith('..')) {
      out.push(`${edge.from}:${edge.line + 1} imports ${edge.to}, outside src/`);
      continue;
    }
    // A file directly in src/ would sit in no folder: it has no layer.
    if (!edge.from.includes('/') || fromFolder === toFolder) continue;
    const from = layerOf(fromFolder);
    const to = layerOf(toFolder);
    if (to < from || explained(edge.from, edge.line)) continue;
    const why = to === from ? 'a sibling in its own layer' : 'a higher layer';
    out.push(`${edge.from}:${edge.line + 1} imports ${edge.to} (${why})`);
  }
  return out;
}

describe('import structure of src/', () => {
  it('has every top-level folder in a layer', () => {
    const folders = readdirSync(SRC, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
    for (const folder of folders) expect(() => layerOf(folder)).not.toThrow();
  });

  it('has no module importing a higher layer or a sibling feature without a written reason', () => {
    expect(violations(sourceFiles(SRC).flatMap(importsOf))).toEqual([]);
  });

  it('reports an upward import and an import between features (the check is not vacuous)', () => {
    const edges = importsOf(join(SRC, 'server/embedded.ts'));
    expect(edges.some((e) => e.to.startsWith('chat/'))).toBe(true);
    expect(
      violations([
        { from: 'models/pool.ts', to: 'chat/types.ts', line: 0 },
        { from: 'chat/role.ts', to: 'completion/engine.ts', line: 0 },
        { from: 'chat/role.ts', to: 'models/index.ts', line: 0 },
      ]),
    ).toEqual([
      'models/pool.ts:1 imports chat/types.ts (a higher layer)',
      'chat/role.ts:1 imports completion/engine.ts (a sibling in its own layer)',
    ]);
  });
});
