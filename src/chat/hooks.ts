import type { FastifyBaseLogger } from 'fastify';
import type { Registry } from 'prom-client';
import type { ShenmaConfig } from '../config/schema.js';
import type { ElasticsearchSink } from '../observability/elasticsearch.js';
import type { Database } from '../storage/database.js';
import { UsageLedger } from '../storage/usage-ledger.js';
import { estimatePromptTokens } from './answer.js';
import { checkInput, createMaskingFilter, WordMatcher } from './content-filter.js';
import { ConversationStore } from './history.js';
import type { QuotaGuard } from './quota/index.js';
import type { Reservation } from './quota/store.js';
import type { ChatContext, ChatHooks, ChatMessage, ChatOutcome } from './types.js';
import { usageRecordOf } from './usage-record.js';

/**
 * The chat pipeline's hooks, composed from the stores: content filter and quota before the
 * upstream call, server-side history for the extension's chat, and afterwards the usage ledger
 * (awaited, so an answer the user saw is always recorded), quota settlement, the stored turn and
 * the Elasticsearch copy.
 */

/**
 * Tokens reserved for the answer when the client sets no max_tokens; settled to the real count
 * after. A client that sets one has exactly that reserved: reserving less let concurrent
 * requests (or one long one) spend past tokensPerDay before any of them was settled.
 */
const ANSWER_RESERVE_TOKENS = 1024;

export interface ChatHookDeps {
  config: ShenmaConfig;
  db: Database;
  quota: QuotaGuard;
  elasticsearch?: ElasticsearchSink;
  log: FastifyBaseLogger;
  /** Where the ledger's conflict counter goes. */
  registry?: Registry;
}

export function createChatHooks(deps: ChatHookDeps): ChatHooks {
  const { config } = deps;
  const chat = config.chat;
  const words = new WordMatcher(chat.contentFilter.words);
  const conversations = new ConversationStore(deps.db.db);
  const ledger = new UsageLedger(deps.db.db, {
    log: deps.log,
    ...(deps.registry ? { registry: deps.registry } : {}),
  });
  // Reservations live from prepare to record; the service calls record for every request,
  // including refused ones, so entries never linger. Keyed by the request's context object, not
  // its id: two requests may carry the same client-chosen id.
  const held = new Map<ChatContext, Reservation[]>();

  const promptTokens = (messages: readonly ChatMessage[]) =>
    estimatePromptTokens(messages, chat.charsPerToken);

  return {
    async prepare(ctx: ChatContext, request: { answerTokens?: number } = {}): Promise<ChatMessage[]> {
      // A refused question costs no quota, so the filter runs first.
      checkInput(ctx.messages, words);
      const history = ctx.conversationId
        ? await conversations.load(ctx.user.id, ctx.conversationId, chat.historyTokens, chat.charsPerToken)
        : [];
      const system = ctx.messages.filter((m) => m.role === 'system');
      const turn = ctx.messages.filter((m) => m.role !== 'system');
      const messages = [...system, ...history, ...turn];
      const answer = request.answerTokens ?? ANSWER_RESERVE_TOKENS;
      held.set(ctx, await deps.quota.admit(ctx, promptTokens(messages) + answer));
      return messages;
    },

    createOutputFilter: () => createMaskingFilter(words, chat.contentFilter.mask),

    async record(ctx: ChatContext, outcome: ChatOutcome): Promise<void> {
      const entryId = await ledger.record(usageRecordOf(ctx, outcome));
      const reservations = held.get(ctx);
      held.delete(ctx);
      try {
        if (reservations) {
          const used = outcome.usage.promptTokens + outcome.usage.completionTokens;
          if (outcome.status !== 'ok' && outcome.usage.completionTokens === 0)
            await deps.quota.release(reservations);
          else await deps.quota.settle(reservations, used);
        }
        if (ctx.conversationId && outcome.status === 'ok') {
          const turn = ctx.messages.filter((m) => m.role !== 'system');
          await conversations.append(
            ctx.user.id,
            ctx.conversationId,
            [...turn, { role: 'assistant', content: outcome.answer }],
            chat.charsPerToken,
          );
        }
      } catch (err) {
        // The ledger row is already safe; a quota or history hiccup must not fail the answer.
        deps.log.warn({ err, requestId: ctx.requestId }, 'chat bookkeeping after the answer failed');
      }
      deps.elasticsearch?.enqueue(
        {
          '@timestamp': new Date().toISOString(),
          request_id: ctx.requestId,
          user: ctx.user.name,
          model: outcome.model,
          route: ctx.route,
          status: outcome.status,
          prompt_tokens: outcome.usage.promptTokens,
          completion_tokens: outcome.usage.completionTokens,
          estimated: outcome.usage.estimated,
          first_token_ms: outcome.firstTokenMs ?? null,
          total_ms: Math.round(outcome.totalMs),
        },
        // The ledger's entry id, so a repeated request id never overwrites another request's event.
        { id: entryId },
      );
    },
  };
}
