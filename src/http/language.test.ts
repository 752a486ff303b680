import { describe, expect, it } from 'vitest';
import { pickLanguage } from './language.js';

describe('pickLanguage', () => {
  it.each([
    [undefined, 'en'],
    ['', 'en'],
    ['en', 'en'],
    ['en-US,en;q=0.9', 'en'],
    ['zh-CN', 'zh'],
    ['zh-CN,zh;q=0.9,en;q=0.8', 'zh'],
    ['en;q=0.5,zh-TW;q=0.9', 'zh'],
    ['fr-FR,fr;q=0.9,en;q=0.7', 'en'],
    ['fr', 'en'],
    ['en,zh', 'zh'],
    ['en;q=0,zh;q=0.1', 'zh'],
  ] as const)('%s → %s', (header, expected) => {
    expect(pickLanguage(header)).toBe(expected);
  });
});
