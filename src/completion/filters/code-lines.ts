/**
 * Language-neutral facts about lines of code, shared by the filters and the stream stop
 * detector so both agree on where a block ends.
 */

/** A line of `text` with its offsets; `end` excludes the line break, `next` is where the following line starts. */
export interface LineSpan {
  text: string;
  start: number;
  end: number;
  next: number;
}

export function lineSpans(text: string): LineSpan[] {
  const spans: LineSpan[] = [];
  let start = 0;
  while (true) {
    const nl = text.indexOf('\n', start);
    if (nl === -1) {
      spans.push({ text: text.slice(start), start, end: text.length, next: text.length });
      return spans;
    }
    const end = nl > start && text[nl - 1] === '\r' ? nl - 1 : nl;
    spans.push({ text: text.slice(start, end), start, end, next: nl + 1 });
    start = nl + 1;
  }
}

export function splitLines(text: string): string[] {
  return text.split(/\r?\n/);
}

/**
 * Up to `count` non-blank lines of the prefix above the cursor line, nearest last, found by
 * walking back from the cursor: documents are long and only their end matters here.
 */
export function lastNonBlankLinesAbove(prefix: string, count: number): string[] {
  const found: string[] = [];
  let end = prefix.lastIndexOf('\n');
  while (end >= 0 && found.length < count) {
    // lastIndexOf clamps a negative start to 0, which would find the break at `end` itself again.
    const start = end === 0 ? 0 : prefix.lastIndexOf('\n', end - 1) + 1;
    const line = prefix.slice(start, prefix[end - 1] === '\r' ? end - 1 : end);
    if (!isBlank(line)) found.push(line);
    if (start === 0) break;
    end = start - 1;
  }
  return found.reverse();
}

/** Up to `count` non-blank lines from the start of `text`, in order. */
export function firstNonBlankLines(text: string, count: number): string[] {
  const found: string[] = [];
  let start = 0;
  while (found.length < count && start <= text.length) {
    const nl = text.indexOf('\n', start);
    const stop = nl === -1 ? text.length : nl;
    const line = text.slice(start, text[stop - 1] === '\r' ? stop - 1 : stop);
    if (!isBlank(line)) found.push(line);
    if (nl === -1) break;
    start = nl + 1;
  }
  return found;
}

export function isBlank(line: string): boolean {
  return line.trim() === '';
}

/** Columns of leading whitespace; a tab counts as 4 so mixed files still compare sensibly. */
export function indentWidth(line: string): number {
  let width = 0;
  for (const ch of line) {
    if (ch === ' ') width += 1;
    else if (ch === '\t') width += 4;
    else break;
  }
  return width;
}

/** Text after the last line break of `prefix`: what the cursor line holds before the cursor. */
export function lastLineOf(prefix: string): string {
  return prefix.slice(prefix.lastIndexOf('\n') + 1);
}

/** The last non-blank line before the cursor line, if any. */
export function previousNonBlankLine(prefix: string): string | undefined {
  // Walk back line by line from the cursor: documents are long, the answer is near the end.
  let end = prefix.lastIndexOf('\n');
  while (end > 0) {
    const start = prefix.lastIndexOf('\n', end - 1) + 1;
    const line = prefix.slice(start, prefix[end - 1] === '\r' ? end - 1 : end);
    if (!isBlank(line)) return line;
    end = start - 1;
  }
  return undefined;
}

/** The first non-blank line of `suffix` (the cursor line's rest counts as line 0). */
export function firstNonBlankLine(suffix: string): string | undefined {
  let start = 0;
  while (start <= suffix.length) {
    const nl = suffix.indexOf('\n', start);
    const stop = nl === -1 ? suffix.length : nl;
    const line = suffix.slice(start, suffix[stop - 1] === '\r' ? stop - 1 : stop);
    if (!isBlank(line)) return line;
    if (nl === -1) break;
    start = nl + 1;
  }
  return undefined;
}

const OPENERS = '([{';
const CLOSERS = ')]}';

/** Languages whose line comments start with `#` only: there `//` is code (Python's floor division). */
const HASH_COMMENT_LANGUAGES = new Set([
  'python',
  'ruby',
  'shellscript',
  'shell',
  'bash',
  'sh',
  'zsh',
  'perl',
  'r',
  'yaml',
  'toml',
  'elixir',
  'julia',
  'nim',
  'powershell',
  'coffeescript',
  'dockerfile',
  'makefile',
  'cmake',
]);
/** C-family languages: `#` is code there (`#include`, Rust attributes, private `#x` fields). */
const SLASH_COMMENT_LANGUAGES = new Set([
  'c',
  'cpp',
  'c++',
  'csharp',
  'java',
  'javascript',
  'javascriptreact',
  'typescript',
  'typescriptreact',
  'go',
  'rust',
  'kotlin',
  'swift',
  'scala',
  'dart',
]);

/** Which line-comment markers count in `language`; both when it is not known. */
function lineComments(language: string | undefined): { hash: boolean; slashes: boolean } {
  const id = language?.toLowerCase();
  if (id && HASH_COMMENT_LANGUAGES.has(id)) return { hash: true, slashes: false };
  if (id && SLASH_COMMENT_LANGUAGES.has(id)) return { hash: false, slashes: true };
  return { hash: true, slashes: true };
}

/**
 * Net bracket depth change over `text` and the lowest depth reached, skipping string literals
 * and line comments so `"("` or `# (` do not count (`//` starts one only where the language
 * says so: `len(xs) // 2` is Python code). Strings are tracked per line only, which is enough
 * for the short texts the filters look at; `openQuote` says the last line ends inside one.
 */
export function bracketBalance(
  text: string,
  language?: string,
): { delta: number; lowest: number; openQuote: boolean } {
  const comments = lineComments(language);
  let depth = 0;
  let lowest = 0;
  let openQuote = false;
  for (const line of splitLines(text)) {
    let quote: string | undefined;
    for (let i = 0; i < line.length; i++) {
      const ch = line[i]!;
      if (quote) {
        if (ch === '\\') i++;
        else if (ch === quote) quote = undefined;
        continue;
      }
      if (ch === '"' || ch === "'" || ch === '`') quote = ch;
      else if (comments.hash && ch === '#' && (i === 0 || /\s/.test(line[i - 1]!))) break;
      else if (comments.slashes && ch === '/' && line[i + 1] === '/') break;
      else if (OPENERS.includes(ch)) depth++;
      else if (CLOSERS.includes(ch)) {
        depth--;
        if (depth < lowest) lowest = depth;
      }
    }
    openQuote = quote !== undefined;
  }
  return { delta: depth, lowest, openQuote };
}

export function withoutTrailingComment(line: string): string {
  return line.replace(/\s(#|\/\/).*$/, '').trimEnd();
}

/** The line starts a nested block or leaves brackets open, so the lines after it belong to it. */
export function opensBlock(line: string): boolean {
  const code = withoutTrailingComment(line);
  if (/[{([:]$/.test(code) || /=>$/.test(code)) return true;
  return bracketBalance(code).delta > 0;
}

/** `else:`, `} catch (e) {`, `elif x:` ... continue the statement of the block that just ended. */
export function isContinuationLine(line: string): boolean {
  return (
    /^[\s})\]]*(else|elif|except|finally|catch|rescue|ensure)\b/.test(line) || /^\s*}\s*while\b/.test(line)
  );
}

/** A line made only of closing brackets (plus `;`/`,`), or a Ruby/Lua `end`. */
export function isClosingLine(line: string): boolean {
  const t = line.trim();
  return /^[)\]}][)\]};,]*$/.test(t) || /^end\b[;,)]*$/.test(t);
}

/** Words that start a definition (after modifiers such as `export`, `async`, `public`, `static`). */
const DEFINITION_START =
  /^(?:(?:export|default|async|public|private|protected|internal|static|final|abstract|sealed|pub|inline|extern|unsafe)\s+)*(?:def|class|function\*?|func|fn|interface|struct|enum|trait|impl|type|record|namespace|module|const|let|var)\b/;
/** `int helper(int x) {`, `static char *name(void)`: a C-family function header. */
const C_FUNCTION_HEADER = /^[A-Za-z_][\w:<>,*&\s[\]]*[\s*&]\*?[A-Za-z_]\w*\s*\([^;=]*\)\s*\{?\s*$/;
const CONTROL_WORD = /^(?:if|for|while|switch|return|else|do|case|catch|sizeof)\b/;

/** A line that starts a new definition: a function, class, type, module-level binding or decorator. */
export function isDefinitionLine(line: string): boolean {
  const t = line.trim();
  if (t.startsWith('@')) return true;
  if (DEFINITION_START.test(t)) return true;
  return C_FUNCTION_HEADER.test(t) && !CONTROL_WORD.test(t);
}

/**
 * The rest of a cursor line that holds only closing punctuation, perhaps ending the statement:
 * `)`, `'))`, `]):`, `);`. What an editor auto-inserts, or a user leaves behind, while typing.
 */
export function isClosersOnly(rest: string): boolean {
  return /^[)\]}'"`]+[:;,]?$/.test(rest.trimEnd());
}
