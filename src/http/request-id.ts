import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** A client's x-request-id is kept when it is short, printable ASCII; anything else is replaced. */
const CLIENT_REQUEST_ID = /^[\x21-\x7e]{1,128}$/;

/**
 * Request ids for one server: the client's `x-request-id` when it sent a sane one, else
 * `<random prefix>-<counter>`. The prefix is drawn once per server, so ids never repeat across
 * restarts (a bare counter starts at 1 again), while each request costs only an increment.
 */
export function requestIdGenerator(): (req: IncomingMessage) => string {
  const prefix = randomBytes(6).toString('base64url');
  let counter = 0;
  return (req) => {
    const sent = req.headers['x-request-id'];
    if (typeof sent === 'string' && CLIENT_REQUEST_ID.test(sent)) return sent;
    counter += 1;
    return `${prefix}-${counter.toString(36)}`;
  };
}
