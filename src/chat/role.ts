import { HttpError } from '../http/errors.js';
import type { RoleFactory } from '../server/role.js';

// PLACEHOLDER-chat: the chat service replaces this in this change.
export const chatRole: RoleFactory = async () => {
  const pending = async () => {
    throw new HttpError(501, 'server_error', 'not implemented yet');
  };
  return {
    handlers: Object.fromEntries(
      ['chat.completions', 'chat.models', 'chat.feedback', 'chat.issue'].map((id) => [id, pending]),
    ),
  };
};
