import type { CompletionInput, LineMode } from '../types.js';
import { type CursorView, cursorView } from '../types.js';

const JS_TS = 'function if else for while do switch case try catch finally class interface enum namespace';
const C_FAMILY = 'if else for do while switch case typedef struct union enum void';

/** Words that open a block when a line starts with them; one entry per group of language ids. */
const BLOCK_KEYWORD_GROUPS: ReadonlyArray<readonly [languages: string, keywords: string]> = [
  ['python py', 'if elif else for while try except finally def class with async match case'],
  ['javascript js javascriptreact jsx typescript ts typescriptreact tsx vue', JS_TS],
  ['go golang', 'func if else for switch case select type defer go'],
  ['java', 'class interface enum record if else for while do switch case try catch finally void'],
  ['c', C_FAMILY],
  ['cpp c++ objective-c objective-cpp', `${C_FAMILY} class namespace template try catch`],
  [
    'csharp c# cs',
    'class interface struct enum namespace if else for foreach while do switch case try catch finally void',
  ],
  ['rust rs', 'fn if else for while loop match impl trait struct enum mod'],
  ['ruby rb', 'def class module if unless else elsif while until for case when begin rescue ensure'],
  ['php', 'function if else elseif for foreach while do switch case try catch finally class interface trait'],
  ['kotlin', 'fun class interface object if else for while do when try catch finally'],
  ['swift', 'func class struct enum protocol extension if else for while repeat switch case guard do catch'],
  ['lua', 'function if elseif else for while repeat'],
  ['shellscript shell sh bash zsh', 'if elif else for while until case function'],
];

const BLOCK_KEYWORDS: ReadonlyMap<string, ReadonlySet<string>> = new Map(
  BLOCK_KEYWORD_GROUPS.flatMap(([languages, keywords]) => {
    const set = new Set(keywords.split(' '));
    return languages.split(' ').map((language) => [language, set] as const);
  }),
);

const FALLBACK_KEYWORDS: ReadonlySet<string> = new Set('if else for while function def class'.split(' '));

/** Declaration modifiers skipped before looking for the keyword (`export async function`, `pub fn`). */
const MODIFIERS: ReadonlySet<string> = new Set(
  'export default async public private protected internal static final abstract override pub unsafe extern inline virtual sealed open'.split(
    ' ',
  ),
);

function startsWithBlockKeyword(line: string, language: string): boolean {
  const keywords = BLOCK_KEYWORDS.get(language.toLowerCase()) ?? FALLBACK_KEYWORDS;
  const words = line.trim().split(/[^\p{L}\p{N}_$]+/u);
  const first = words.find((word, i) => !(word === '' && i === 0) && !MODIFIERS.has(word));
  return first !== undefined && keywords.has(first);
}

const OPENS_BLOCK = /[{([:]$/;

/**
 * Whether to ask for one line or a block. A client-forced mode wins, then the configuration;
 * in `auto`, mid-line edits get one line and the start of a block gets several.
 */
export function decideLineMode(
  input: CompletionInput,
  configured: 'auto' | 'always' | 'never',
  view: CursorView = cursorView(input.prefix, input.suffix),
): LineMode {
  if (input.lineMode) return input.lineMode;
  if (configured === 'always') return 'multi';
  if (configured === 'never') return 'single';

  const { linePrefix, lineSuffix } = view;
  if (lineSuffix.trim() !== '') return 'single';
  if (linePrefix.trim() === '') return 'multi';
  if (OPENS_BLOCK.test(linePrefix.trimEnd()) || startsWithBlockKeyword(linePrefix, input.language))
    return 'multi';
  return 'single';
}
