import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RouteHandlers } from '../gateway/routes.js';
import { callerOf } from '../http/caller.js';
import { HttpError, sendError } from '../http/errors.js';
import { clientLink, parseJsonBody as parseBody } from '../http/request.js';
import { noteOutcome } from '../observability/access-log.js';
import {
  codeCompletionBody,
  codeCompletionInput,
  codeCompletionSupersedeKey,
} from './api/code-completion.js';
import { extensionInput, extensionSupersedeKey, extensionV2Body } from './api/extension-v2.js';
import { openAiCompletionBody, openAiInput, openAiReply, openAiStream } from './api/openai.js';
import { extensionReply, newCompletionId, outcomeReason } from './api/shared.js';
import { isTabbyBody, tabbyCompletionBody, tabbyInput, tabbyReply, tabbySupersedeKey } from './api/tabby.js';
import type { CompletionApi, CompletionEngine, CompletionOutcome } from './engine.js';
import type { CompletionInput } from './types.js';

/** Handlers for the completion role's routes (ids from the route table). */

export function completionHandlers(
  engine: CompletionEngine,
): RouteHandlers<'completion.v2' | 'completion.openai' | 'completion.codeCompletion' | 'completion.tabby'> {
  /** Runs the engine; a refusal or failure is sent here and undefined returned. */
  async function run(
    api: CompletionApi,
    req: FastifyRequest,
    reply: FastifyReply,
    input: CompletionInput,
    supersedeKey: string | undefined,
    strictModel: boolean,
  ): Promise<{ id: string; outcome: CompletionOutcome } | undefined> {
    const id = newCompletionId();
    reply.header('x-complete-id', id);
    try {
      const outcome = await engine.complete({
        api,
        requestId: req.id,
        ...(req.identity ? { user: { id: req.identity.userId, name: req.identity.name } } : {}),
        input,
        strictModel,
        ...(supersedeKey ? { supersedeKey } : {}),
        client: clientLink(reply),
        log: req.log,
      });
      noteOutcome(req, { model: outcome.model, reason: outcomeReason(outcome) });
      return { id, outcome };
    } catch (err) {
      if (err instanceof HttpError) {
        noteOutcome(req, { reason: err.type });
        sendError(reply, err);
        return undefined;
      }
      throw err;
    }
  }

  const verboseRequested = (req: FastifyRequest, bodyFlag: boolean | undefined) =>
    bodyFlag === true || req.headers['x-shenma-debug'] === '1';

  const tabby = async (req: FastifyRequest, reply: FastifyReply) => {
    const body = parseBody(tabbyCompletionBody, req.body);
    const r = await run(
      'tabby',
      req,
      reply,
      tabbyInput(body),
      tabbySupersedeKey(body, callerOf(req).key),
      false,
    );
    if (r) return reply.send(tabbyReply(r.id, r.outcome, body));
    return reply;
  };

  return {
    'completion.v2': async (req, reply) => {
      const body = parseBody(extensionV2Body, req.body);
      const r = await run(
        'v2',
        req,
        reply,
        extensionInput(body),
        extensionSupersedeKey(body, callerOf(req).key),
        false,
      );
      if (r) return reply.send(extensionReply(r.id, r.outcome, verboseRequested(req, body.verbose)));
      return reply;
    },
    'completion.codeCompletion': async (req, reply) => {
      const body = parseBody(codeCompletionBody, req.body);
      const key = codeCompletionSupersedeKey(body, callerOf(req).key);
      const r = await run('code_completion', req, reply, codeCompletionInput(body), key, false);
      if (r) return reply.send(extensionReply(r.id, r.outcome, verboseRequested(req, body.verbose)));
      return reply;
    },
    'completion.tabby': tabby,
    'completion.openai': async (req, reply) => {
      // Tabby posts to the same path; its body has `segments` and no `prompt`.
      if (isTabbyBody(req.body)) return tabby(req, reply);
      const body = parseBody(openAiCompletionBody, req.body);
      const key = body.user ? `v1:${callerOf(req).key}:${body.user}` : undefined;
      const r = await run('openai', req, reply, openAiInput(body), key, true);
      if (!r) return reply;
      if (body.stream) {
        return reply
          .header('content-type', 'text/event-stream; charset=utf-8')
          .header('cache-control', 'no-cache')
          .send(openAiStream(r.id, r.outcome));
      }
      return reply.send(openAiReply(r.id, r.outcome, verboseRequested(req, body.verbose)));
    },
  };
}
