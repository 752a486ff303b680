import { describe, expect, it } from 'vitest';
import { jsonWithTextPieces } from './json-pieces.js';

const fields = { model: 'coder', max_tokens: 64, temperature: 0.2, stop: ['<|EOT|>', '\n\n'], stream: true };

describe('jsonWithTextPieces', () => {
  it.each<[string, string[]]>([
    [
      'deepseek tags around ASCII code',
      ['<｜fim▁begin｜>', 'def f(x):\n    return "a\\b"\t', '<｜fim▁hole｜>', '\n', '<｜fim▁end｜>'],
    ],
    ['Latin-1 and control characters', ['café ñ ÿ', '\u0000\u001f\u007f', '"quoted" \\ back']],
    ['emoji and CJK', ['注释 ', '😀', ' end']],
    ['a surrogate pair cut between two pieces', ['a\ud83d', '\ude00b']],
    ['a lone surrogate', ['x\udc00y']],
    ['no pieces', []],
    ['empty pieces', ['', '', 'x', '']],
  ])('encodes %s as the JSON of the joined text', (_name, pieces) => {
    const bytes = jsonWithTextPieces(fields, 'prompt', pieces);
    expect(JSON.parse(bytes.toString('utf8'))).toEqual({ ...fields, prompt: pieces.join('') });
  });

  it('is byte for byte the UTF-8 of JSON.stringify when no surrogate is split', () => {
    const pieces = ['<｜fim▁begin｜>', 'x = "é"\n', '<｜fim▁hole｜>', '😀', '<｜fim▁end｜>'];
    const bytes = jsonWithTextPieces(fields, 'prompt', pieces);
    expect(bytes.equals(Buffer.from(JSON.stringify({ ...fields, prompt: pieces.join('') })))).toBe(true);
  });

  it('is byte for byte the same when the other fields are not Latin-1 either', () => {
    const tagged = { ...fields, stop: ['<｜fim▁end｜>', '😀'] };
    const pieces = ['def f():\n', '<｜fim▁hole｜>', '  pass'];
    const bytes = jsonWithTextPieces(tagged, 'prompt', pieces);
    expect(bytes.equals(Buffer.from(JSON.stringify({ ...tagged, prompt: pieces.join('') })))).toBe(true);
  });

  it('works without other fields', () => {
    expect(JSON.parse(jsonWithTextPieces({}, 'prompt', ['a', 'b']).toString())).toEqual({ prompt: 'ab' });
  });

  it('refuses a field given both ways', () => {
    expect(() => jsonWithTextPieces({ prompt: 'x' }, 'prompt', ['y'])).toThrow(/"prompt" is given twice/);
  });
});
