import type { FastifyInstance } from 'fastify';
import { HttpError } from './errors.js';

/**
 * Arrays and objects nested deeper than this are refused with 400 before JSON.parse runs: no
 * client message nests beyond a handful of levels, and very deep values overflow the stack of
 * whatever walks them next (validation, JSON.stringify, PostgreSQL's jsonb).
 */
export const MAX_JSON_DEPTH = 64;

/** How deep `text` nests arrays and objects, stopping as soon as it passes `limit`. */
export function jsonDepthExceeds(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      depth++;
      if (depth > limit) return true;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) depth--;
  }
  return false;
}

/**
 * Replaces the JSON body parser with Fastify's own (prototype-poisoning checks included) behind a
 * depth check. Body limits stay the route's.
 */
export function useDepthLimitedJson(app: FastifyInstance, maxDepth = MAX_JSON_DEPTH): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    if (jsonDepthExceeds(body as string, maxDepth)) {
      done(
        new HttpError(400, 'invalid_request_error', `body nests deeper than ${maxDepth} levels`),
        undefined,
      );
      return;
    }
    parse(req, body as string, done);
  });
}
