import { describe, expect, it } from 'vitest';
import { storableJson, storableQuery } from './storable.js';

describe('storableJson', () => {
  const cases: [string, unknown, unknown][] = [
    ['drops NUL in values and keys', { 'k\u0000ey': 'a\u0000b' }, { key: 'ab' }],
    ['replaces lone high and low surrogates', ['\ud800', 'x\udfff'], ['\ufffd', 'x\ufffd']],
    ['keeps surrogate pairs', { s: '😀 𝔸' }, { s: '😀 𝔸' }],
    [
      'keeps the six characters \\u0000 typed as text',
      { code: '"\\u0000" + "\\ud800"' },
      { code: '"\\u0000" + "\\ud800"' },
    ],
    ['drops a NUL after a real backslash', { s: '\\\u0000' }, { s: '\\' }],
    ['keeps other control characters', { s: '\t\u0001\n' }, { s: '\t\u0001\n' }],
  ];
  for (const [name, input, stored] of cases) {
    it(name, () => {
      const text = storableJson(input);
      expect(JSON.parse(text)).toEqual(stored);
      expect(text).not.toMatch(/(^|[^\\])(\\\\)*\\u(0000|d[89a-f])/i);
    });
  }

  it('returns JSON.stringify’s text when there is nothing to clean', () => {
    const value = { a: [1, 'two', { b: null }] };
    expect(storableJson(value)).toBe(JSON.stringify(value));
  });
});

describe('storableQuery', () => {
  it('drops NUL from string parameters and leaves the rest, and the query, as they were', () => {
    const query = {
      sql: 'x',
      parameters: ['a\u0000b', 1, null, 'plain'],
      query: {} as never,
      queryId: {} as never,
    };
    const cleaned = storableQuery(query);
    expect(cleaned.parameters).toEqual(['ab', 1, null, 'plain']);
    expect(query.parameters[0]).toBe('a\u0000b');
    const clean = { ...query, parameters: ['ok'] };
    expect(storableQuery(clean)).toBe(clean);
  });
});
