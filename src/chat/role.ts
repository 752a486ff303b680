import type { RoleFactory } from '../gateway/role.js';
import { HttpError } from '../http/errors.js';
import { bearerCredential } from '../http/identity.js';
import type { RouteHandler } from '../http/route-handler.js';
import { modelReadiness } from '../models/index.js';
import { ElasticsearchSink } from '../observability/elasticsearch.js';
import { closeRedis, connectRedis } from '../storage/redis.js';
import { RedisChannels } from '../storage/redis-channels.js';
import { anthropicHandlers, modelsForEitherApi } from './anthropic-api/handlers.js';
import { chatFeedbackHandlers } from './feedback.js';
import { createChatHooks } from './hooks.js';
import { openAiChatHandlers } from './openai-api.js';
import { createQuotaGuard, createQuotaStore } from './quota/index.js';
import { responsesHandlers } from './responses-api/handlers.js';
import { ResponseStore } from './responses-api/store.js';
import { ChatService } from './service.js';
import { attachSocketChat, MemoryResumeStore, RedisResumeStore, type SocketChat } from './socket/index.js';

/**
 * The chat role: the OpenAI-compatible chat API, the extension's Socket.IO chat, and the chat
 * webview's feedback calls, over one chat service whose hooks do quotas, content filtering,
 * server-side history and the usage ledger.
 */
export const chatRole: RoleFactory<'chat'> = async (ctx) => {
  const { config } = ctx;
  const quotaStore = createQuotaStore(config.redis.url);
  const elasticsearch = config.elasticsearch.url
    ? new ElasticsearchSink({
        ...config.elasticsearch,
        url: config.elasticsearch.url,
        registry: ctx.registry,
      })
    : undefined;
  const hooks = createChatHooks({
    config,
    db: ctx.db,
    quota: createQuotaGuard(config.quotas, quotaStore),
    ...(elasticsearch ? { elasticsearch } : {}),
    log: ctx.log,
    registry: ctx.registry,
  });
  const service = new ChatService({
    config: config.chat,
    models: ctx.models,
    hooks,
    registry: ctx.registry,
    log: ctx.log,
  });
  const feedback = chatFeedbackHandlers(ctx.db);
  // Without a configured version the IDE is told its own: no update prompt it cannot act on.
  const extensionVersion: RouteHandler = async (req, reply) => {
    const running = req.headers['ide-version'];
    const version = config.chat.extensionLatestVersion ?? (typeof running === 'string' ? running : undefined);
    if (!version) throw new HttpError(404, 'not_found_error', 'no extension version is configured');
    return reply.send({ version });
  };
  const openAi = openAiChatHandlers(service);
  // With Redis, any replica can resume (and follow) an answer generated on any other.
  const redis = config.redis.url ? connectRedis(config.redis.url) : undefined;
  const channels = redis ? new RedisChannels(redis) : undefined;
  const sharedResume =
    redis && channels
      ? new RedisResumeStore(redis, channels, {
          prefix: config.redis.keyPrefix,
          ttlMs: config.chat.resumeTtlMs,
          log: ctx.log,
        })
      : undefined;
  let socketChat: SocketChat | undefined;
  return {
    handlers: {
      ...openAi,
      'chat.models': modelsForEitherApi(service, openAi['chat.models']),
      ...anthropicHandlers({ service, charsPerToken: config.chat.charsPerToken }),
      ...responsesHandlers({ service, store: new ResponseStore(ctx.db.db), log: ctx.log }),
      'chat.feedback': feedback['chat.feedback'],
      // Rate-limited by the gateway (the route table's rateLimit), before the body is read.
      'chat.issue': feedback['chat.issue'],
      'chat.extensionVersion': extensionVersion,
    },
    // Always checked: a server without a chat model is not ready for the IDE's chat, and says so.
    readiness: [modelReadiness(ctx.models, 'chat')],
    attach: (server, authenticate) => {
      if (!authenticate) throw new Error('the chat socket needs the identity role');
      socketChat = attachSocketChat(server, {
        service,
        authenticateToken: (token, address) => authenticate(bearerCredential(token, address)),
        config: config.chat,
        resume: sharedResume ?? new MemoryResumeStore({ ttlMs: config.chat.resumeTtlMs }),
        ...(sharedResume ? { relay: sharedResume } : {}),
        log: ctx.log,
        credentialChanges: ctx.credentialChanges,
      });
    },
    drain: (ms) => service.drain(ms),
    // The socket chat closes before the HTTP server (its sockets would hold it open), so answers
    // it aborts are recorded before the stores go.
    detach: async () => {
      await socketChat?.close();
      sharedResume?.close();
    },
    close: async () => {
      await elasticsearch?.close();
      await quotaStore.close();
      await channels?.close();
      if (redis) await closeRedis(redis);
    },
  };
};
