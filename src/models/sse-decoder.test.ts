import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sseDecoder } from './http.js';

/**
 * The upstream SSE reader must not care how TCP cut the bytes: a recorded stream fed whole, split
 * at every byte offset, or split many times at random (inside multi-byte UTF-8 included) yields
 * the same events.
 */

const LONG = 'x'.repeat(1024 * 1024 + 17);

/** A recorded-style chat stream with the awkward parts SSE allows. */
const RECORDED = [
  ': connected\r\n\r\n',
  'data: {"choices":[{"delta":{"role":"assistant","content":""}}]}\n\n',
  'event: message\r\nid: 7\r\ndata: {"choices":[{"delta":{"content":"héllo € 😀 中文"}}]}\r\n\r\n',
  ': keep-alive comment\n',
  'data: {"multi":\ndata: "line"}\n\n',
  'retry: 1000\nunknown-field: whatever\ndata: {"choices":[{"delta":{"content":"\\ud83d\\ude00"}}]}\n\n',
  'data:no-space\r\r',
  'data: {"choices":[{"delta":{},"finish_reason":"stop"}]}\n\n',
  'data: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2}}\n\n',
  'data: [DONE]\n\n',
].join('');
const BYTES = Buffer.from(RECORDED, 'utf8');

const EXPECTED = [
  '{"choices":[{"delta":{"role":"assistant","content":""}}]}',
  '{"choices":[{"delta":{"content":"héllo € 😀 中文"}}]}',
  '{"multi":\n"line"}',
  '{"choices":[{"delta":{"content":"\\ud83d\\ude00"}}]}',
  'no-space',
  '{"choices":[{"delta":{},"finish_reason":"stop"}]}',
  '{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2}}',
  '[DONE]',
];

function decode(bytes: Buffer, cuts: number[]): string[] {
  const decoder = sseDecoder(2 * 1024 * 1024);
  const out: string[] = [];
  let from = 0;
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    out.push(...decoder.push(bytes.subarray(from, cut)));
    from = cut;
  }
  out.push(...decoder.push(bytes.subarray(from)));
  out.push(...decoder.end());
  return out;
}

describe('sseDecoder', () => {
  it('reads the recorded stream whole', () => {
    expect(decode(BYTES, [])).toEqual(EXPECTED);
  });

  it('yields identical events for a split at every byte offset', () => {
    for (let cut = 0; cut <= BYTES.length; cut++) expect(decode(BYTES, [cut])).toEqual(EXPECTED);
  });

  it('yields identical events for random multi-splits, inside characters too', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: BYTES.length }), { maxLength: 40 }), (cuts) => {
        expect(decode(BYTES, cuts)).toEqual(EXPECTED);
      }),
      { seed: 20250601, numRuns: 500 },
    );
  });

  it('splits one byte per write', () => {
    expect(
      decode(
        BYTES,
        Array.from({ length: BYTES.length }, (_, i) => i),
      ),
    ).toEqual(EXPECTED);
  });

  it('keeps a line over 1 MiB whole, and counts a last event without its blank line', () => {
    const bytes = Buffer.from(`data: ${LONG}\n\ndata: tail`);
    const cuts = [3, 100_000, 700_001, bytes.length - 2];
    const events = decode(bytes, cuts);
    // Compared by length first: a failure should not print a megabyte.
    expect(events.map((e) => e.length)).toEqual([LONG.length, 4]);
    expect(events[0] === LONG && events[1] === 'tail').toBe(true);
  });

  it('refuses an event over the size limit', () => {
    const decoder = sseDecoder(1000);
    expect(() => decoder.push(Buffer.from(`data: ${'y'.repeat(5000)}`))).toThrow('oversized');
  });
});
