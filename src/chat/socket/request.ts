import type { ChatConfig } from '../../config/schema.js';
import type { Identity } from '../../http/identity.js';
import {
  type ActionKey,
  type ActionLocale,
  type ActionPromptLog,
  detectLocale,
  isKnownAction,
  renderActionPrompt,
} from '../actions/index.js';
import type { ChatContext, ChatMessage } from '../types.js';
import type { ChatRequestPayload } from './payload.js';

/**
 * Turns a `chat` request into the ChatService context. Only the new turn is sent: the extension
 * keeps no history, so the service's `prepare` hook prepends the conversation's earlier turns
 * (keyed by user and `conversation_id`).
 */

export interface SocketChatRequest {
  ctx: ChatContext;
  /** The action answered (an unknown one is answered as `chat`). */
  action: ActionKey;
  locale: ActionLocale;
}

export function socketChatRequest(input: {
  payload: ChatRequestPayload;
  identity: Identity;
  chatId: string;
  model: string;
  config: ChatConfig;
  log?: ActionPromptLog;
}): SocketChatRequest {
  const { payload, config } = input;
  const action = isKnownAction(payload.action) ? payload.action : 'chat';
  const locale = detectLocale(payload.prompt);
  const prompt = renderActionPrompt(
    {
      action: payload.action,
      prompt: payload.prompt,
      code: payload.code,
      language: payload.language,
      filePath: payload.filePath,
      locale,
    },
    input.log,
  );
  // chat.systemPrompt is the operator's prompt for free-form chat; the actions keep their own.
  const system = action === 'chat' && config.systemPrompt ? config.systemPrompt : prompt.system;
  const messages: ChatMessage[] = [
    ...(system ? [{ role: 'system' as const, content: system }] : []),
    { role: 'user', content: prompt.user },
  ];
  return {
    ctx: {
      // The chat id doubles as request id and message_id, so ledger rows, feedback and resume agree.
      requestId: input.chatId,
      user: { id: input.identity.userId, name: input.identity.name },
      route: 'socket',
      model: input.model,
      ...(payload.conversationId ? { conversationId: payload.conversationId } : {}),
      messages,
    },
    action,
    locale,
  };
}
