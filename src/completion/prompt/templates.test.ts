import { describe, expect, it } from 'vitest';
import { FIM_FAMILIES } from '../../config/schema.js';
import { customFimTemplate, FIM_TEMPLATES, renderFimParts, renderFimTemplate } from './templates.js';

describe('FIM_TEMPLATES', () => {
  it('has one entry per configured family, each with both placeholders once', () => {
    expect(Object.keys(FIM_TEMPLATES).sort()).toEqual([...FIM_FAMILIES].sort());
    for (const template of Object.values(FIM_TEMPLATES)) {
      expect(template.text.split('{prefix}')).toHaveLength(2);
      expect(template.text.split('{suffix}')).toHaveLength(2);
      for (const stop of template.stop) expect(template.specialTokens).toContain(stop);
    }
  });

  it('spells the DeepSeek tags with full-width bars and U+2581', () => {
    const tag = '<｜fim▁begin｜>';
    expect([...tag].map((c) => c.codePointAt(0)!.toString(16))).toEqual([
      '3c',
      'ff5c',
      '66',
      '69',
      '6d',
      '2581',
      '62',
      '65',
      '67',
      '69',
      '6e',
      'ff5c',
      '3e',
    ]);
    expect(FIM_TEMPLATES['deepseek-coder'].text.startsWith(tag)).toBe(true);
  });

  it('lists the tags of each template among its special tokens', () => {
    for (const template of Object.values(FIM_TEMPLATES)) {
      const literals = template.text.split(/\{prefix\}|\{suffix\}/).map((l) => l.trim());
      for (const literal of literals.filter((l) => l !== ''))
        expect(template.specialTokens).toContain(literal);
    }
  });
});

describe('customFimTemplate', () => {
  it('takes the trimmed literal parts as special tokens and stops', () => {
    const template = customFimTemplate('<PRE> {prefix} <SUF>{suffix} <MID>');
    expect(template.specialTokens).toEqual(['<PRE>', '<SUF>', '<MID>']);
    expect(template.stop).toEqual(['<PRE>', '<SUF>', '<MID>']);
  });

  it('drops whitespace-only literals', () => {
    expect(customFimTemplate('{prefix}\n{suffix}').specialTokens).toEqual([]);
  });
});

describe('renderFimTemplate', () => {
  it('keeps replacement patterns and placeholders in user text literal', () => {
    expect(renderFimTemplate(customFimTemplate('<A>{prefix}<B>{suffix}<C>'), 'x = "$&{suffix}"', "$'")).toBe(
      '<A>x = "$&{suffix}"<B>$\'<C>',
    );
  });

  it('renders suffix-first templates in template order', () => {
    expect(renderFimTemplate(customFimTemplate('[SUFFIX]{suffix}[PREFIX]{prefix}'), 'P', 'S')).toBe(
      '[SUFFIX]S[PREFIX]P',
    );
  });
});

describe('renderFimParts', () => {
  it.each(Object.entries(FIM_TEMPLATES))(
    '%s: its pieces join to the rendered template',
    (_family, template) => {
      const parts = renderFimParts(template, 'def f():\n', '\nreturn 1');
      expect(parts.join('')).toBe(renderFimTemplate(template, 'def f():\n', '\nreturn 1'));
      // The user's text is its own piece, never merged into a tag.
      expect(parts).toContain('def f():\n');
      expect(parts).toContain('\nreturn 1');
    },
  );

  it('leaves out empty pieces', () => {
    expect(renderFimParts(customFimTemplate('<A>{prefix}<B>{suffix}'), '', 'S')).toEqual(['<A>', '<B>', 'S']);
  });
});
