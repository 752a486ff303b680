import type { ContextSnippet } from '../types.js';

/** How one line is turned into a comment: `start` before it, `end` (if any) after it. */
export interface LineComment {
  start: string;
  end?: string;
}

const HASH: LineComment = { start: '#' };
const SLASHES: LineComment = { start: '//' };
const DASHES: LineComment = { start: '--' };
const PERCENT: LineComment = { start: '%' };
const SEMICOLON: LineComment = { start: ';' };
const C_BLOCK: LineComment = { start: '/*', end: '*/' };
const MARKUP: LineComment = { start: '<!--', end: '-->' };

const COMMENT_BY_LANGUAGE: ReadonlyMap<string, LineComment> = new Map(
  (
    [
      [
        HASH,
        'python py ruby rb shellscript shell sh bash zsh perl r yaml yml toml dockerfile makefile powershell elixir julia nim coffeescript',
      ],
      [
        SLASHES,
        'javascript js javascriptreact jsx typescript ts typescriptreact tsx go golang java c cpp c++ csharp c# cs rust rs kotlin swift scala dart php objective-c objective-cpp groovy zig solidity proto scss less',
      ],
      [DASHES, 'sql lua haskell ada elm'],
      [PERCENT, 'matlab latex tex erlang prolog'],
      [SEMICOLON, 'lisp clojure scheme elisp asm ini'],
      [C_BLOCK, 'css'],
      [MARKUP, 'html xml markdown svg vue'],
    ] as const
  ).flatMap(([comment, ids]) => ids.split(' ').map((id) => [id, comment] as const)),
);

/** Unknown languages get `//`, the most widely understood line comment. */
export function lineCommentFor(language: string): LineComment {
  return COMMENT_BY_LANGUAGE.get(language.toLowerCase()) ?? SLASHES;
}

function commentLine(comment: LineComment, text: string): string {
  const body = text === '' ? '' : ` ${text}`;
  return comment.end ? `${comment.start}${body} ${comment.end}` : `${comment.start}${body}`;
}

/** The document's own line break, so context lines match the code around them. */
export function documentLineBreak(prefix: string, suffix: string): '\n' | '\r\n' {
  const text = prefix.includes('\n') ? prefix : suffix;
  const at = text.indexOf('\n');
  return at > 0 && text[at - 1] === '\r' ? '\r\n' : '\n';
}

/**
 * Renders a snippet as comments of the current file's language, so the model reads it as
 * reference rather than as code of this file. Every line, the last one included, ends with
 * `lineBreak`: the result is placed directly before the prefix.
 */
export function formatSnippet(snippet: ContextSnippet, language: string, lineBreak: string): string {
  const comment = lineCommentFor(language);
  const body = snippet.content.replace(/\r?\n$/, '');
  const lines = body.split(/\r?\n/).map((line) => commentLine(comment, line));
  if (snippet.path !== undefined && snippet.path !== '')
    lines.unshift(commentLine(comment, `path: ${snippet.path}`));
  return lines.map((line) => line + lineBreak).join('');
}
