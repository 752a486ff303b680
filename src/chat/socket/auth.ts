import { HttpError } from '../../http/errors.js';
import type { Identity } from '../../http/identity.js';
import type { SocketChatLog } from './log.js';

/**
 * The CONNECT check: the extension puts its access token in the handshake `auth` as `token`
 * (older builds: `api-key`), docs/protocol.md §5.1. A refusal reaches the client as
 * `connect_error` with the message below and `data.status` (401, or 503 when the check itself
 * failed). The original let anyone in as a fallback user (chat-server §2.12 #1); here nobody is.
 */

export type AuthenticateToken = (token: string, address: string) => Promise<Identity>;

export const MISSING_TOKEN =
  'missing credentials: send the access token as auth.token in the Socket.IO CONNECT';

/** An Error as socket.io hands it to the client's `connect_error`. */
export class ConnectRefused extends Error {
  readonly data: { status: number };
  constructor(message: string, status: number) {
    super(message);
    this.data = { status };
  }
}

export function tokenFromHandshake(auth: unknown): string | undefined {
  if (!auth || typeof auth !== 'object') return undefined;
  const fields = auth as Record<string, unknown>;
  for (const key of ['token', 'api-key']) {
    const value = fields[key];
    if (typeof value === 'string' && value.trim() !== '') return value.trim();
  }
  return undefined;
}

/** The identity for a handshake, or the refusal to pass to socket.io's `next`. */
export async function authenticateHandshake(
  auth: unknown,
  address: string,
  authenticateToken: AuthenticateToken,
  log: SocketChatLog,
): Promise<Identity | ConnectRefused> {
  const token = tokenFromHandshake(auth);
  if (!token) return new ConnectRefused(MISSING_TOKEN, 401);
  try {
    return await authenticateToken(token, address);
  } catch (err) {
    if (err instanceof HttpError && err.status < 500) {
      return new ConnectRefused(`authentication failed: ${err.message}`, err.status);
    }
    log.error({ err, address }, 'socket chat: could not check credentials');
    return new ConnectRefused('authentication is unavailable right now; try again shortly', 503);
  }
}
