import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HttpError } from '../http/errors.js';
import { checkInput, createMaskingFilter, maskText } from './content-filter.js';

/**
 * The reference the streaming filter must equal: at each position the longest word (ASCII case
 * folded) is replaced by the mask, scanning left to right, written as plainly as possible.
 */
function referenceMask(text: string, words: string[], mask: string): string {
  const fold = (s: string) => s.replace(/[A-Z]/g, (c) => c.toLowerCase());
  const folded = fold(text);
  const foldedWords = words.filter(Boolean).map(fold);
  let out = '';
  let i = 0;
  while (i < text.length) {
    const longest = Math.max(0, ...foldedWords.filter((w) => folded.startsWith(w, i)).map((w) => w.length));
    if (longest > 0) {
      out += mask;
      i += longest;
    } else {
      out += text[i];
      i++;
    }
  }
  return out;
}

/** Splits text at the given cut points and runs it through a fresh filter chunk by chunk. */
function streamed(text: string, cuts: number[], words: string[], mask: string): string {
  const filter = createMaskingFilter(words, mask);
  const points = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
  let out = '';
  let from = 0;
  for (const p of [...points, text.length]) {
    out += filter.push(text.slice(from, p));
    from = p;
  }
  return out + filter.flush();
}

// A small alphabet makes words overlap, nest and share prefixes often; '*' is the mask only.
const letter = fc.constantFrom('a', 'b', 'A', 'B', 'c', '密', '码', ' ');
const word = fc.string({ unit: letter, minLength: 1, maxLength: 5 }).filter((w) => w.trim().length > 0);
const text = fc.string({ unit: letter, maxLength: 80 });

describe('createMaskingFilter', () => {
  it('gives the same output for any chunking as masking the whole text, and lets no word through', () => {
    fc.assert(
      fc.property(
        fc.array(word, { minLength: 1, maxLength: 4 }),
        text,
        fc.array(fc.nat(), { maxLength: 20 }),
        (words, input, cuts) => {
          const expected = referenceMask(input, words, '***');
          expect(streamed(input, cuts, words, '***')).toBe(expected);
          expect(maskText(input, words, '***')).toBe(expected);
          const lowered = expected.replace(/[A-Z]/g, (c) => c.toLowerCase());
          for (const w of words) expect(lowered).not.toContain(w.replace(/[A-Z]/g, (c) => c.toLowerCase()));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('gives the same output when fed one character at a time', () => {
    fc.assert(
      fc.property(fc.array(word, { minLength: 1, maxLength: 4 }), text, (words, input) => {
        const filter = createMaskingFilter(words, '#');
        const out = [...input].map((ch) => filter.push(ch)).join('') + filter.flush();
        expect(out).toBe(referenceMask(input, words, '#'));
      }),
      { numRuns: 1000 },
    );
  });

  it('holds back only what could still become a word', () => {
    const filter = createMaskingFilter(['secret', 'password'], '***');
    expect(filter.push('the sec')).toBe('the ');
    expect(filter.push('ond pass')).toBe('second ');
    expect(filter.push('WORD is SECRET!')).toBe('*** is ***!');
    expect(filter.push('pass')).toBe('');
    expect(filter.flush()).toBe('pass');
  });

  it('prefers the longest word at a position, across chunks', () => {
    const filter = createMaskingFilter(['ab', 'abcd'], '*');
    expect(filter.push('xab')).toBe('x');
    expect(filter.push('c')).toBe('');
    expect(filter.push('d!')).toBe('*!');
    expect(filter.push('abce')).toBe('*ce');
  });

  it('masks words in scripts without case and leaves other text untouched', () => {
    expect(maskText('我的密码是123，密钥不是', ['密码'], '**')).toBe('我的**是123，密钥不是');
    expect(maskText('Émile émile', ['émile'], '*')).toBe('Émile *');
  });

  it('passes text straight through when no words are configured', () => {
    const filter = createMaskingFilter([], '***');
    expect(filter.push('anything')).toBe('anything');
    expect(filter.flush()).toBe('');
  });
});

describe('checkInput', () => {
  it('refuses a question containing a word with 400, naming the message and the word as written', () => {
    const err = (() => {
      try {
        checkInput(
          [
            { role: 'system', content: 'be nice' },
            { role: 'user', content: [{ type: 'text', text: 'my Password is hunter2' }] },
          ],
          ['password', 'token'],
        );
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(HttpError);
    expect(err).toMatchObject({ status: 400, type: 'invalid_request_error', param: 'messages.1.content' });
    expect((err as HttpError).message).toContain('"Password"');
    expect((err as HttpError).message).not.toContain('token');
  });

  it('lets clean questions and empty word lists through', () => {
    expect(() => checkInput([{ role: 'user', content: 'hello world' }], ['password'])).not.toThrow();
    expect(() => checkInput([{ role: 'user', content: 'password' }], [])).not.toThrow();
    expect(() => checkInput([{ role: 'assistant', content: null }], ['x'])).not.toThrow();
  });
});
