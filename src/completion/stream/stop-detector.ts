import type { FilterName } from '../../config/schema.js';
import { BlockScope, scopeAnchor } from '../filters/block-scope.js';
import { ClosersScan } from '../filters/closers-after-cursor.js';
import { isBlank } from '../filters/code-lines.js';
import { type CursorView, type LineMode, viewOf } from '../types.js';

export interface StopDetectorOptions {
  prefix: string;
  suffix: string;
  lineMode: LineMode;
  stop: string[];
  specialTokens: readonly string[];
  /** The cursor line of prefix/suffix when already computed. */
  view?: CursorView;
  /** The document's language (which line comments it has), for the closers-after-cursor scan. */
  language?: string;
}

export type StopReason = 'stop' | 'newline' | 'block-end' | 'closers' | 'special-token';

interface Decision {
  /** Index of the character whose arrival decided the answer. */
  trigger: number;
  /** Where the answer is cut. */
  cut: number;
  reason: StopReason;
}

interface Marker {
  text: string;
  reason: 'stop' | 'special-token';
}

/**
 * Watches a streamed answer and says when it is complete, so the upstream request can be closed
 * early. Every rule fires at a definite character of the whole text and looks only at the text
 * before it; the earliest such character wins. Chunking therefore cannot change the outcome:
 * feeding the text whole or one code unit at a time gives the same `text()` and `reason`.
 */
export class StopDetector {
  readonly #lineMode: LineMode;
  readonly #markers: Marker[];
  readonly #longestMarker: number;
  readonly #scope: BlockScope;
  /** With closers after text on the cursor line: where the answer's line that takes them ends. */
  readonly #closers: ClosersScan | undefined;
  /** End of the answer's first line, once read. */
  #firstLineEnd = 0;
  /** End of the answer's last non-blank line read (its first line at least): where a statement the cursor line left open ends. */
  #lastCodeLineEnd = 0;
  /** Start of the line whose first non-blank character `#openStatementEnd` has judged. */
  #lineStartJudged = -1;
  /** A line break before any text ends a single-line answer when the cursor line has text. */
  readonly #cursorLineHasText: boolean;
  #received = '';
  /** Marker matches ending before this index have been searched for. */
  #searchedTo = 0;
  #lineStart = 0;
  #decision: Decision | undefined;

  constructor(opts: StopDetectorOptions) {
    this.#lineMode = opts.lineMode;
    // A special token that is also a stop string is reported as the special token it is.
    const special = new Set(opts.specialTokens.filter((t) => t.length > 0));
    this.#markers = [
      ...[...special].map((text): Marker => ({ text, reason: 'special-token' })),
      ...opts.stop
        .filter((t) => t.length > 0 && !special.has(t))
        .map((text): Marker => ({ text, reason: 'stop' })),
    ];
    this.#longestMarker = Math.max(0, ...this.#markers.map((m) => m.text.length));
    this.#scope = new BlockScope(scopeAnchor(opts.prefix, opts.suffix));
    const { linePrefix, lineSuffix } = viewOf(opts);
    this.#cursorLineHasText = !isBlank(linePrefix + lineSuffix);
    const closersAfterText = !isBlank(linePrefix) && ClosersScan.applies(opts.prefix, opts.suffix);
    this.#closers =
      opts.lineMode === 'multi' && closersAfterText
        ? new ClosersScan(opts.prefix, opts.suffix, opts.language ?? '')
        : undefined;
  }

  get reason(): StopReason | undefined {
    return this.#decision?.reason;
  }

  get decided(): boolean {
    return this.#decision !== undefined;
  }

  /** Adds the next piece of the stream; true once the answer is decided (stop reading upstream). */
  push(piece: string): boolean {
    if (this.#decision) return true;
    this.#received += piece;
    const marker = this.#findMarker();
    const line = this.#readLines(marker?.trigger ?? Number.POSITIVE_INFINITY);
    this.#decision = earlier(marker, line);
    return this.#decision !== undefined;
  }

  /** The answer so far, cut at the decision point once there is one. */
  text(): string {
    return this.#decision ? this.#received.slice(0, this.#decision.cut) : this.#received;
  }

  /**
   * The part of `text()` that can already be shown: without a tail that may still become a stop
   * string or token, without a multi-line answer's unfinished line (it may turn out to leave the
   * block), and without half of a surrogate pair or a bare CR.
   */
  committed(): string {
    if (this.#decision) return this.text();
    let end = this.#received.length - this.#partialMarkerLength();
    if (this.#lineMode === 'multi') end = Math.min(end, this.#lineStart);
    const code = this.#received.charCodeAt(end - 1);
    if ((code >= 0xd800 && code <= 0xdbff) || code === 0x0d) end--;
    return this.#received.slice(0, Math.max(0, end));
  }

  /** Longest end of the received text that is the start of a marker (a match still possible). */
  #partialMarkerLength(): number {
    const text = this.#received;
    let longest = 0;
    for (const { text: marker } of this.#markers) {
      for (let k = Math.min(marker.length - 1, text.length); k > longest; k--) {
        if (text.endsWith(marker.slice(0, k))) {
          longest = k;
          break;
        }
      }
    }
    return longest;
  }

  #findMarker(): Decision | undefined {
    const text = this.#received;
    const from = Math.max(0, this.#searchedTo - this.#longestMarker + 1);
    let found: Decision | undefined;
    for (const marker of this.#markers) {
      const at = text.indexOf(marker.text, from);
      if (at === -1) continue;
      const candidate: Decision = { trigger: at + marker.text.length - 1, cut: at, reason: marker.reason };
      found = earlier(found, candidate);
    }
    this.#searchedTo = text.length;
    return found;
  }

  /** Reads each line completed so far whose line break comes no later than `until`. */
  #readLines(until: number): Decision | undefined {
    const text = this.#received;
    for (;;) {
      const lineBreak = text.indexOf('\n', this.#lineStart);
      const statementEnd = this.#openStatementEnd(lineBreak === -1 ? text.length : lineBreak);
      if (statementEnd) return statementEnd;
      if (lineBreak === -1 || lineBreak > until) return undefined;
      const end = lineBreak > this.#lineStart && text[lineBreak - 1] === '\r' ? lineBreak - 1 : lineBreak;
      const decision = this.#completeLine(text.slice(this.#lineStart, end), end, lineBreak);
      if (decision) return decision;
      this.#lineStart = lineBreak + 1;
    }
  }

  /**
   * With closers after the cursor and a cursor line the answer left open, the first non-blank
   * character of a later line (the one at `this.#lineStart`, ending at `lineEnd`) mostly says
   * already whether the statement has ended: deciding there rather than at its line break closes
   * the stream as soon as it has, even before a line that never ends.
   */
  #openStatementEnd(lineEnd: number): Decision | undefined {
    if (!this.#closers || this.#lineStart === 0 || this.#lineStartJudged === this.#lineStart)
      return undefined;
    const first = this.#received.slice(this.#lineStart, lineEnd).search(/\S/);
    if (first === -1) return undefined;
    this.#lineStartJudged = this.#lineStart;
    const trigger = this.#lineStart + first;
    const verdict = this.#closers.endsStatement(this.#received.slice(this.#lineStart, trigger + 1));
    if (verdict === 'firstOnly') return { trigger, cut: this.#firstLineEnd, reason: 'closers' };
    if (verdict === 'statementEnd') return { trigger, cut: this.#lastCodeLineEnd, reason: 'closers' };
    return undefined;
  }

  #completeLine(line: string, end: number, lineBreak: number): Decision | undefined {
    if (this.#lineMode === 'single') {
      // On a blank cursor line the model may start its line further down.
      if (isBlank(line) && !this.#cursorLineHasText) return undefined;
      return { trigger: lineBreak, cut: end, reason: 'newline' };
    }
    const verdict = this.#scope.next(line);
    if (this.#closers && verdict !== 'end') {
      if (this.#lineStart === 0) this.#firstLineEnd = end;
      // Same decisions as the closersAfterCursor filter, made as each line of the block completes.
      const decided = this.#closers.next(line);
      if (decided === 'firstOnly') return { trigger: lineBreak, cut: this.#firstLineEnd, reason: 'closers' };
      if (decided === 'takes') return { trigger: lineBreak, cut: end, reason: 'closers' };
      if (decided === 'statementEnd')
        return { trigger: lineBreak, cut: this.#lastCodeLineEnd, reason: 'closers' };
      // The filter judges what comes before a copy of the code after the cursor.
      if (decided === 'copying') return { trigger: lineBreak, cut: this.#lineStart, reason: 'closers' };
      if (this.#lineStart === 0 || !isBlank(line)) this.#lastCodeLineEnd = end;
    }
    // An outward line may still lead to the code after the cursor; scopeLimit judges it at the end.
    if (verdict === 'inside' || verdict === 'outward') return undefined;
    // A closing line is kept for the filters to judge against the suffix.
    return { trigger: lineBreak, cut: verdict === 'closer' ? end : this.#lineStart, reason: 'block-end' };
  }
}

function earlier(a: Decision | undefined, b: Decision | undefined): Decision | undefined {
  if (!a) return b;
  if (!b) return a;
  if (a.trigger !== b.trigger) return a.trigger < b.trigger ? a : b;
  return a.cut <= b.cut ? a : b;
}

/**
 * The filter whose rule a stop decision applied, so a cut made while streaming is reported under
 * the same name as the filter's (`hit_processors`, filter-hit metrics). Stop strings and the
 * single-line break are the request's own limits, not a filter's.
 */
export function filterOfStop(reason: StopReason | undefined): FilterName | undefined {
  if (reason === 'block-end') return 'scopeLimit';
  if (reason === 'closers') return 'closersAfterCursor';
  if (reason === 'special-token') return 'specialTokens';
  return undefined;
}
