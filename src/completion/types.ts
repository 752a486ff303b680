/**
 * Shapes shared by the completion pipeline's stages. Each request API (the extension's
 * /v2/completions, OpenAI /v1/completions, the later /code-completion API) is parsed into one
 * `CompletionInput`; every later stage reads only this.
 */

export type LineMode = 'single' | 'multi';
export type TriggerMode = 'auto' | 'manual' | 'continue';

/** A piece of code from elsewhere that the client sent along (another file, an import, ...). */
export interface ContextSnippet {
  /** Path shown to the model in a comment, when known. */
  path?: string;
  content: string;
  /** Lower is nearer to the cursor, used first when the budget is short. */
  distance: number;
}

export interface CompletionInput {
  /** Whole document text before the cursor (CRLF kept as sent). */
  prefix: string;
  /** Whole document text after the cursor. */
  suffix: string;
  /** Lower-case language id as the client names it (python, typescript, c++, go, ...). */
  language: string;
  /** Stop strings the client asked for. */
  stop: string[];
  snippets: ContextSnippet[];
  triggerMode: TriggerMode;
  /** Forces single/multi line when the client knows (e.g. inlineCompletion=true sends stop ["\n"]). */
  lineMode?: LineMode;
  maxTokens?: number;
  temperature?: number;
  /** Requested model name or undefined for the configured default. */
  model?: string;
}

/** What the "don't complete here" rules and line-mode decision look at. Derived from the input. */
export interface CursorView {
  /** Text on the cursor line before the cursor. */
  linePrefix: string;
  /** Text on the cursor line after the cursor (without the line break). */
  lineSuffix: string;
}

export function cursorView(prefix: string, suffix: string): CursorView {
  const nl = prefix.lastIndexOf('\n');
  const linePrefix = prefix.slice(nl + 1);
  const end = suffix.search(/\r?\n/);
  const lineSuffix = end === -1 ? suffix : suffix.slice(0, end);
  return { linePrefix, lineSuffix };
}

/** The result of prompt building: what is sent to the model. */
export interface BuiltPrompt {
  /** The prompt text (FIM template applied when the model uses `fim: template`). */
  prompt: string;
  /**
   * `prompt` in the pieces it was built from (template tags, user text); joined, they are
   * `prompt`. The upstream body and the cache key read these, so the whole prompt is never
   * flattened into one string (see renderFimParts).
   */
  promptParts: readonly string[];
  /** Sent as the backend's suffix field when the model uses `fim: suffix`. */
  suffix?: string;
  /** Stop strings: client's + family's + line-mode ones. */
  stop: string[];
  /** Special tokens of the template family; stripped if they leak into output. Shared, never changed. */
  specialTokens: readonly string[];
  /** The prefix and suffix actually used after budgeting (the filters compare against these). */
  usedPrefix: string;
  usedSuffix: string;
  /** Estimated prompt tokens. */
  promptTokens: number;
  /** Snippets included, by index into input.snippets. */
  includedSnippets: number[];
}

/** Everything a post-processing filter may look at besides the text itself. */
export interface FilterContext {
  /** Document text before the cursor (the full one the client sent). */
  prefix: string;
  /** Document text after the cursor. */
  suffix: string;
  language: string;
  lineMode: LineMode;
  /** Special tokens of the model's template family. */
  specialTokens: readonly string[];
  /** The cursor line of prefix/suffix when already computed (the engine computes it once). */
  view?: CursorView;
}

/** The cursor line of a filter context: the one it carries, else computed. */
export function viewOf(ctx: { prefix: string; suffix: string; view?: CursorView | undefined }): CursorView {
  return ctx.view ?? cursorView(ctx.prefix, ctx.suffix);
}
