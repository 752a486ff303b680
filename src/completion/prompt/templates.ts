import type { FimFamily } from '../../config/schema.js';

/**
 * FIM prompt formats. Every family is written as a template string with `{prefix}` and
 * `{suffix}` placeholders, so built-in families and a user's custom template go through the
 * same renderer (suffix-first formats such as Codestral's simply put `{suffix}` first).
 */
export interface FimTemplate {
  /** Template text with `{prefix}` and `{suffix}` placeholders. */
  text: string;
  /** Strings that end generation: EOS and any FIM/file tag the model might start to emit. */
  stop: readonly string[];
  /** Everything that must never reach the user (a superset of `stop`). */
  specialTokens: readonly string[];
  /** `text` split at its placeholders, once, when the template is made. */
  parts: readonly TemplatePart[];
}

function family(text: string, stop: readonly string[], extraSpecial: readonly string[] = []): FimTemplate {
  return { text, stop, specialTokens: [...new Set([...stop, ...extraSpecial])], parts: parseTemplate(text) };
}

const STARCODER_TAGS = ['<fim_prefix>', '<fim_suffix>', '<fim_middle>'] as const;
const STARCODER_TEXT = '<fim_prefix>{prefix}<fim_suffix>{suffix}<fim_middle>';
const PIPE_FIM_TAGS = ['<|fim_prefix|>', '<|fim_suffix|>', '<|fim_middle|>'] as const;
const PIPE_FIM_TEXT = '<|fim_prefix|>{prefix}<|fim_suffix|>{suffix}<|fim_middle|>';

export const FIM_TEMPLATES: Readonly<Record<FimFamily, FimTemplate>> = {
  'deepseek-coder': family(
    '<｜fim▁begin｜>{prefix}<｜fim▁hole｜>{suffix}<｜fim▁end｜>',
    ['<｜end▁of▁sentence｜>', '<|EOT|>', '<｜fim▁begin｜>', '<｜fim▁hole｜>', '<｜fim▁end｜>'],
    // Seen leaking through Ollama right after the EOS.
    ['<｜begin▁of▁sentence｜>'],
  ),
  'qwen2.5-coder': family(PIPE_FIM_TEXT, [
    '<|endoftext|>',
    ...PIPE_FIM_TAGS,
    '<|fim_pad|>',
    '<|repo_name|>',
    '<|file_sep|>',
    '<|im_start|>',
    '<|im_end|>',
  ]),
  starcoder: family(STARCODER_TEXT, ['<|endoftext|>', ...STARCODER_TAGS, '<fim_pad>', '<filename>']),
  starcoder2: family(STARCODER_TEXT, [
    '<|endoftext|>',
    ...STARCODER_TAGS,
    '<fim_pad>',
    '<file_sep>',
    '<repo_name>',
  ]),
  codeqwen: family(STARCODER_TEXT, ['<|endoftext|>', ...STARCODER_TAGS, '<file_sep>', '<reponame>']),
  'stable-code': family(STARCODER_TEXT, ['<|endoftext|>', ...STARCODER_TAGS, '<fim_pad>', '<file_sep>']),
  codellama: family(
    '<PRE> {prefix} <SUF>{suffix} <MID>',
    ['<EOT>', '</s>', '<PRE>', '<SUF>', '<MID>'],
    // SentencePiece may render the end token with its word-start marker attached.
    ['▁<EOT>'],
  ),
  codegemma: family(PIPE_FIM_TEXT, ['<|file_separator|>', '<end_of_turn>', '<eos>', ...PIPE_FIM_TAGS]),
  codestral: family('[SUFFIX]{suffix}[PREFIX]{prefix}', ['[PREFIX]', '[SUFFIX]']),
};

type TemplatePart = { kind: 'literal'; text: string } | { kind: 'prefix' } | { kind: 'suffix' };

function parseTemplate(text: string): TemplatePart[] {
  return text
    .split(/(\{prefix\}|\{suffix\})/)
    .filter((piece) => piece !== '')
    .map((piece): TemplatePart => {
      if (piece === '{prefix}') return { kind: 'prefix' };
      if (piece === '{suffix}') return { kind: 'suffix' };
      return { kind: 'literal', text: piece };
    });
}

/**
 * A user-configured template. Its literal parts, trimmed, are treated as its special tokens and
 * stop strings: they are the only tags we know the model was trained with.
 */
export function customFimTemplate(text: string): FimTemplate {
  const parts = parseTemplate(text);
  const literals = parts
    .flatMap((part) => (part.kind === 'literal' ? [part.text.trim()] : []))
    .filter((literal) => literal !== '');
  const tokens = [...new Set(literals)];
  return { text, stop: tokens, specialTokens: tokens, parts };
}

/**
 * Fills the placeholders, as pieces: the template's tags and the user's text apart. Splitting
 * instead of `String.replace` keeps `$&`-style sequences in user code literal, and placeholders
 * inside the user's code are never expanded. Kept apart, a user's Latin-1 code stays a one-byte
 * string even when the tags are not Latin-1 (deepseek-coder's), so it is encoded to UTF-8 on the
 * fast path.
 */
export function renderFimParts(template: FimTemplate, prefix: string, suffix: string): string[] {
  const parts: string[] = [];
  for (const part of template.parts) {
    const text = part.kind === 'literal' ? part.text : part.kind === 'prefix' ? prefix : suffix;
    if (text !== '') parts.push(text);
  }
  return parts;
}

/** The filled template as one string. */
export function renderFimTemplate(template: FimTemplate, prefix: string, suffix: string): string {
  return joinParts(renderFimParts(template, prefix, suffix));
}

/**
 * `parts.join('')` without flattening: concatenation leaves V8 a rope, which stays cheap unless
 * something reads the characters. The upstream body and the cache key read the parts instead.
 */
export function joinParts(parts: readonly string[]): string {
  let text = '';
  for (const part of parts) text += part;
  return text;
}
