import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { parseConfig } from './load.js';

/** A config example in the README that does not load teaches a new operator the wrong thing. */
const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const blocks = [...readme.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!);

describe('README config examples', () => {
  it('has some', () => {
    expect(blocks.length).toBeGreaterThan(0);
  });

  it.each(blocks.map((text, i) => [i, text] as const))(
    'example %i loads with an empty environment',
    (_i, text) => {
      const doc = parseDocument(text);
      expect(doc.errors.map((e) => e.message)).toEqual([]);
      expect(() => parseConfig(doc.toJS(), 'README.md', {})).not.toThrow();
    },
  );
});
