import type { FastifyInstance } from 'fastify';
import { scan as scanForPrototypeKeys } from 'secure-json-parse';
import { HttpError } from './errors.js';

/**
 * Arrays and objects nested deeper than this are refused with 400 before JSON.parse runs: no
 * client message nests beyond a handful of levels, and very deep values overflow the stack of
 * whatever walks them next (validation, JSON.stringify, PostgreSQL's jsonb).
 */
export const MAX_JSON_DEPTH = 64;

/**
 * How deep `text` nests arrays and objects, stopping as soon as it passes `limit`. Strings (most
 * of a completion body: the code) are skipped with indexOf to their closing quote rather than
 * walked character by character: this runs on every request body.
 */
export function jsonDepthExceeds(text: string, limit: number): boolean {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      // The closing quote is the next one not escaped, i.e. not after an odd run of backslashes.
      for (;;) {
        const quote = text.indexOf('"', i + 1);
        if (quote === -1) return false; // unterminated: JSON.parse refuses it
        let before = quote - 1;
        while (before > i && text.charCodeAt(before) === 0x5c /* \ */) before--;
        i = quote;
        if ((quote - 1 - before) % 2 === 0) break;
      }
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      depth++;
      if (depth > limit) return true;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) depth--;
  }
  return false;
}

/**
 * Replaces the JSON body parser with one that keeps Fastify's behaviour (prototype-poisoning
 * keys refused, Fastify's own 400s) behind a depth check. Body limits stay the route's.
 *
 * Fastify's parser (secure-json-parse) decides whether to look for `__proto__` and `constructor`
 * keys by running two regular expressions over the whole text: ~23 µs of every 8.8 KB completion
 * body, 2 % of a request's CPU under load. Walking the parsed value for the same keys finds the
 * same ones (a key of the value is a key of the text) in ~1 µs, since a body has few objects and
 * long strings. Anything JSON.parse refuses goes to Fastify's parser, so those errors are its own;
 * a body with such a key is refused by name.
 */
export function useDepthLimitedJson(app: FastifyInstance, maxDepth = MAX_JSON_DEPTH): void {
  const fastifyParse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    const text = body as string;
    if (jsonDepthExceeds(text, maxDepth)) {
      done(
        new HttpError(400, 'invalid_request_error', `body nests deeper than ${maxDepth} levels`),
        undefined,
      );
      return;
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      fastifyParse(req, text, done);
      return;
    }
    if (value !== null && typeof value === 'object') {
      try {
        scanForPrototypeKeys(value, POISON_IS_ERROR);
      } catch {
        // Valid JSON, refused for what it would do to an object's prototype: the message says
        // so (Fastify's says the JSON is invalid); the code stays the one Fastify gives it.
        const refused = new Error(
          'body uses the key "__proto__" or "constructor" with "prototype", which this server refuses',
        );
        done(Object.assign(refused, { statusCode: 400, code: 'FST_ERR_CTP_INVALID_JSON_BODY' }), undefined);
        return;
      }
    }
    done(null, value);
  });
}

const POISON_IS_ERROR = { protoAction: 'error', constructorAction: 'error' } as const;
