import { randomUUID } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import type { Tables } from '../storage/tables.js';
import type { ChatMessage } from './types.js';

/**
 * Server-side conversation history for clients that send only the new turn (the extension's
 * socket chat). A conversation is found by (user, the client's conversation id): the client
 * chooses the id, so without the user in the key anyone could read or extend another user's
 * history by reusing it (the original's defect, chat-server §2.12 #7).
 */
export class ConversationStore {
  constructor(private readonly db: Kysely<Tables>) {}

  /**
   * The newest whole turns of the conversation that fit `budgetTokens`, oldest first. A turn is
   * a user message and the messages after it up to the next user message, so the history never
   * starts with an answer whose question was cut. Empty for an unknown id, or one another user owns.
   */
  async load(
    userId: string,
    clientConversationId: string,
    budgetTokens: number,
    charsPerToken: number,
  ): Promise<ChatMessage[]> {
    if (budgetTokens <= 0) return [];
    // Only the newest messages whose characters could fit are read: a message is fetched when the
    // characters of the newer ones alone stay within the budget (in characters). Token estimates
    // round each message up, so everything that fits in tokens is among these rows.
    const budgetChars = Math.floor(budgetTokens * charsPerToken);
    const newer = sql<number>`coalesce(sum(char_length(m.content)) over (order by m.id desc rows between unbounded preceding and 1 preceding), 0)`;
    const rows = await this.db
      .selectFrom((eb) =>
        eb
          .selectFrom('chat_messages as m')
          .innerJoin('conversations as c', 'c.id', 'm.conversation_id')
          .where('c.user_id', '=', userId)
          .where('c.client_conversation_id', '=', clientConversationId)
          .select(['m.id', 'm.role', 'm.content', newer.as('newer_chars')])
          .as('recent'),
      )
      .select(['recent.id', 'recent.role', 'recent.content'])
      .where('recent.newer_chars', '<=', budgetChars)
      .orderBy('recent.id', 'desc')
      .execute();

    const kept: ChatMessage[] = [];
    let used = 0;
    let turn: ChatMessage[] = [];
    let turnTokens = 0;
    // Newest first: collect messages into the current turn until its user message closes it.
    for (const row of rows) {
      turn.push({ role: row.role as ChatMessage['role'], content: row.content });
      turnTokens += estimateTokens(row.content, charsPerToken);
      if (row.role !== 'user') continue;
      if (used + turnTokens > budgetTokens) break;
      used += turnTokens;
      kept.push(...turn);
      turn = [];
      turnTokens = 0;
    }
    return kept.reverse();
  }

  /**
   * Appends messages (typically the new user turn and the answer) to the user's conversation,
   * creating it on first use. Non-text content parts are not kept: history is text.
   */
  async append(
    userId: string,
    clientConversationId: string,
    messages: ChatMessage[],
    charsPerToken = 3,
  ): Promise<void> {
    if (messages.length === 0) return;
    const firstUser = messages.find((m) => m.role === 'user');
    const title = firstUser ? textOf(firstUser.content).replaceAll('\u0000', '').slice(0, 100) || null : null;
    await this.db.transaction().execute(async (trx) => {
      // Insert-or-touch in one statement, so two concurrent first turns land in one conversation.
      const conversation = await trx
        .insertInto('conversations')
        .values({
          id: randomUUID(),
          user_id: userId,
          client_conversation_id: clientConversationId,
          title,
        })
        .onConflict((oc) =>
          oc.columns(['user_id', 'client_conversation_id']).doUpdateSet({ updated_at: sql`now()` }),
        )
        .returning('id')
        .executeTakeFirstOrThrow();
      await trx
        .insertInto('chat_messages')
        .values(
          messages.map((m) => {
            // PostgreSQL text cannot hold U+0000; a model or client that sends one loses just that.
            const content = textOf(m.content).replaceAll('\u0000', '');
            return {
              conversation_id: conversation.id,
              role: m.role,
              content,
              tokens: estimateTokens(content, charsPerToken),
            };
          }),
        )
        .execute();
    });
  }
}

function estimateTokens(text: string, charsPerToken: number): number {
  return Math.ceil(text.length / charsPerToken);
}

/** The text of a message: the string, or the text parts of multi-part content joined by newlines. */
export function textOf(content: ChatMessage['content']): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .map((part) =>
      typeof part === 'object' && part !== null && 'text' in part && typeof part.text === 'string'
        ? part.text
        : '',
    )
    .filter(Boolean)
    .join('\n');
}
