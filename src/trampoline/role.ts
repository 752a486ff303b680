import { HttpError } from '../http/errors.js';
import type { RoleFactory } from '../server/role.js';

// PLACEHOLDER-trampoline: replaced by the trampoline implementation in this same change.
export const trampolineRole: RoleFactory = async () => {
  const pending = async () => {
    throw new HttpError(501, 'server_error', 'not implemented yet');
  };
  return {
    handlers: Object.fromEntries(['trampoline.ok', 'trampoline.resources'].map((id) => [id, pending])),
  };
};
