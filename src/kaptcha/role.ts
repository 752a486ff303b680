import { HttpError } from '../http/errors.js';
import type { RoleFactory } from '../server/role.js';

// PLACEHOLDER-kaptcha: replaced by the kaptcha implementation in this same change.
export const kaptchaRole: RoleFactory = async () => {
  const pending = async () => {
    throw new HttpError(501, 'server_error', 'not implemented yet');
  };
  return { handlers: Object.fromEntries(['kaptcha.issue', 'kaptcha.legacy'].map((id) => [id, pending])) };
};
