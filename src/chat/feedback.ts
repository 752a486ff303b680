import type { FastifyRequest } from 'fastify';
import { sql } from 'kysely';
import { z } from 'zod';
import { callerOf } from '../http/caller.js';
import { HttpError } from '../http/errors.js';
import { parseJsonBody } from '../http/request.js';
import type { RouteHandler } from '../http/route-handler.js';
import type { Database } from '../storage/database.js';
import { storableJson } from '../storage/storable.js';
import type { ChatFeedbackTable } from '../storage/tables.js';

/**
 * What the chat webview and the feedback page report (docs/protocol.md §5.5, §6.3): thumbs
 * up/down, code-block use, and issue reports. Every report is kept as its own row (the original
 * overwrote one document per conversation, losing all but the last). Replies are the original's:
 * raw `{"status":"ok"}` for the webview calls, the envelope for the issue page.
 */

// Only the fields below are stored: z.object drops anything else the client sends.
const evaluate = z.object({
  agent_name: z.string().min(1).max(200),
  conversation_id: z.string().min(1).max(200),
  message_id: z.string().max(200).nullish(),
  action: z.string().max(100).nullish(),
  rating: z.enum(['like', 'dislike']),
});

const useCode = z.object({
  conversation_id: z.string().min(1).max(200),
  accept_num: z.number().int().nonnegative().max(1_000_000),
  behavior: z.enum(['copy', 'accept', 'diff', 'ctrlc']),
});

/** Decoded screenshot bytes accepted in an issue report. */
export const MAX_SCREENSHOT_BYTES = 2 * 1024 * 1024;

const DATA_URL = /^data:image\/(png|jpeg|jpg|gif|webp|bmp);base64,([A-Za-z0-9+/]*={0,2})$/;

const issue = z.object({
  category: z.string().min(1).max(100),
  description: z.string().min(1).max(20_000),
  // A contact number on the page's form; some browsers send it as a number.
  number: z.union([z.string().max(100), z.number()]).nullish(),
  // Size-checked by checkScreenshot (413 naming the field), before any pattern runs over it.
  screenshot_data: z.string().nullish(),
  screenshot_name: z.string().max(255).nullish(),
});

/** Refuses a screenshot that is not an image data URL (400) or is over the size cap (413). */
function checkScreenshot(data: string): void {
  // Size first, from the length alone: a huge string is refused before any regex runs over it.
  const base64Length = data.length - data.indexOf(',') - 1;
  if (Math.floor((base64Length * 3) / 4) > MAX_SCREENSHOT_BYTES + 2) {
    throw new HttpError(
      413,
      'invalid_request_error',
      `screenshot_data: the screenshot is larger than ${MAX_SCREENSHOT_BYTES / (1024 * 1024)} MiB`,
      'screenshot_data',
    );
  }
  const match = DATA_URL.exec(data);
  if (!match) {
    throw new HttpError(
      400,
      'invalid_request_error',
      'screenshot_data: must be a base64 image data URL (data:image/png;base64,...)',
      'screenshot_data',
    );
  }
  if (Buffer.byteLength(match[2]!, 'base64') > MAX_SCREENSHOT_BYTES) {
    throw new HttpError(
      413,
      'invalid_request_error',
      `screenshot_data: the screenshot is larger than ${MAX_SCREENSHOT_BYTES / (1024 * 1024)} MiB`,
      'screenshot_data',
    );
  }
}

/** The client identity headers (docs/protocol.md §2), kept with the report as the original did. */
function clientOf(req: FastifyRequest): Record<string, string> {
  const client: Record<string, string> = {};
  for (const name of ['ide', 'ide-version', 'ide-real-version', 'host-ip', 'user-agent']) {
    const value = req.headers[name];
    if (typeof value === 'string' && value) client[name.replaceAll('-', '_')] = value.slice(0, 200);
  }
  return client;
}

/** Which webview report a request is, from the path it was sent to. */
function feedbackKind(req: FastifyRequest): 'evaluate' | 'use_code' {
  const path = req.routeOptions.url ?? req.url.split('?')[0] ?? '';
  if (path.endsWith('/evaluate')) return 'evaluate';
  if (path.endsWith('/use_code')) return 'use_code';
  throw new HttpError(404, 'not_found_error', `no feedback kind at ${path}`);
}

export function chatFeedbackHandlers(db: Database): {
  'chat.feedback': RouteHandler;
  'chat.issue': RouteHandler;
} {
  const store = async (
    kind: ChatFeedbackTable['kind'],
    req: FastifyRequest,
    conversationId: string | null,
    body: Record<string, unknown>,
  ) => {
    await db.db
      .insertInto('chat_feedback')
      .values({
        kind,
        user_name: callerOf(req).user ?? null,
        conversation_id: conversationId,
        body: sql<string>`cast(${storableJson({ ...body, client: clientOf(req) })} as jsonb)`,
      })
      .execute();
  };

  return {
    'chat.feedback': async (req, reply) => {
      const kind = feedbackKind(req);
      const body = kind === 'evaluate' ? parseJsonBody(evaluate, req.body) : parseJsonBody(useCode, req.body);
      await store(kind, req, body.conversation_id, body);
      return reply.send({ status: 'ok' });
    },
    'chat.issue': async (req, reply) => {
      const body = parseJsonBody(issue, req.body);
      if (body.screenshot_data) checkScreenshot(body.screenshot_data);
      await store('issue', req, null, body);
      return reply.send({ message: '操作成功', data: null, success: true });
    },
  };
}
