import { isIP } from 'node:net';

import { LRUCache } from 'lru-cache';
import { AuthenticationError } from '../http/authentication-error.js';
import type { CredentialSource, Identity } from '../http/identity.js';
import { IdentityError, validateUserName } from './users.js';

/**
 * Identity from a header set by a gateway in front of Shenma (e.g. an SSO proxy). The header is
 * believed only from the listed proxy addresses: anyone else could set it to any name.
 */

export interface TrustedHeaderOptions {
  /** Header name (any case). */
  name: string;
  /** Exact IP addresses of the gateways. */
  proxies: readonly string[];
  log?: { warn(obj: object, msg: string): void } | undefined;
}

/** `::ffff:10.0.0.1` (an IPv4 peer on a dual-stack socket) is 10.0.0.1; IPv6 compared lowercased. */
export function normaliseAddress(address: string): string {
  const lower = address.trim().toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  return mapped ? mapped[1]! : lower;
}

/** Returns the identity when the header is present and came from a proxy, else undefined. */
export function createTrustedHeaderCheck(
  opts: TrustedHeaderOptions,
): (req: CredentialSource) => Identity | undefined {
  const header = opts.name.toLowerCase();
  const proxies = new Set(
    opts.proxies.map((p) => {
      if (isIP(normaliseAddress(p)) === 0) {
        throw new Error(`identity.trustedHeader.proxies: "${p}" is not an IP address (list exact addresses)`);
      }
      return normaliseAddress(p);
    }),
  );
  // Bounded: one warning per address, without letting a scan of many addresses grow memory.
  const warned = new LRUCache<string, true>({ max: 1000 });

  return (req) => {
    const value = req.headers[header];
    if (value === undefined) return undefined;
    // The TCP peer, not req.ip: req.ip follows X-Forwarded-For when trustProxy is on, and the
    // client writes that header itself.
    const peer = normaliseAddress(req.socket.remoteAddress ?? req.ip);
    if (!proxies.has(peer)) {
      if (!warned.has(peer)) {
        warned.set(peer, true);
        opts.log?.warn(
          { address: peer, header },
          'identity header ignored: the request does not come from a configured proxy',
        );
      }
      return undefined;
    }
    if (typeof value !== 'string') {
      throw new AuthenticationError(`header ${header} must appear once`);
    }
    const name = value.trim();
    try {
      validateUserName(name);
    } catch (err) {
      if (err instanceof IdentityError) throw new AuthenticationError(`header ${header}: ${err.message}`);
      throw err;
    }
    return { userId: `header:${name}`, name, via: 'trusted_header' };
  };
}
