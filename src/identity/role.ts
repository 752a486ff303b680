import { HttpError } from '../http/errors.js';
import type { RoleFactory } from '../server/role.js';
import type { Authenticate } from './identity.js';
import { TokenStore } from './users.js';

// PLACEHOLDER-identity: the OpenID provider, login page and JWT checks replace this in this change.
export const identityRole: RoleFactory = async (ctx) => {
  const tokens = new TokenStore(ctx.db.db);
  const pending = async () => {
    throw new HttpError(501, 'server_error', 'not implemented yet');
  };
  const authenticate: Authenticate = async (req) => {
    const header = req.headers.authorization;
    const secret = header?.startsWith('Bearer ')
      ? header.slice(7)
      : (req.headers['api-key'] as string | undefined);
    const found = secret ? await tokens.verify(secret) : undefined;
    if (!found) throw new HttpError(401, 'authentication_error', 'missing or invalid credentials');
    return { userId: found.user.id, name: found.user.name, via: 'api_token' };
  };
  return {
    handlers: Object.fromEntries(
      ['identity.oidc', 'identity.login', 'identity.pluginLogin'].map((id) => [id, pending]),
    ),
    authenticate,
  };
};
