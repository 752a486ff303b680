import { z } from 'zod';
import type { CompletionConfig } from '../config/schema.js';
import type { RouteHandlers } from '../gateway/routes.js';
import { callerOf } from '../http/caller.js';
import { HttpError } from '../http/errors.js';
import { parseJsonBody } from '../http/request.js';
import type { Database } from '../storage/database.js';
import { recordClientErrorReport, recordCompletionFeedback } from './feedback-store.js';

/**
 * What the extension reports about completions (docs/protocol.md §4.4, §6.1): batched
 * accept/reject points every 3 s (the same point is re-sent until another finishes, so they are
 * de-duplicated by id), error counters, and the language map it loads at start.
 * Replies use the original server's envelope.
 */

// The largest time a JavaScript Date holds; beyond it the row could not be written.
const epochMs = z.number().int().nonnegative().max(8_640_000_000_000_000).nullish();

// z.object, not looseObject: only the known fields reach the database, each with a size cap.
const feedbackItem = z.object({
  id: z.string().min(1).max(200),
  language: z.string().max(64).nullish(),
  acception: z.enum(['accepted', 'rejected', 'canceled', 'none']).nullish(),
  correction: z.enum(['unchanged', 'changed', 'none']).nullish(),
  actual_code: z.string().max(100_000).nullish(),
  create_time: epochMs,
  start_time: epochMs,
  end_time: epochMs,
  handle_time: epochMs,
  // The column is a 32-bit integer.
  expend_time: z.number().int().min(-2_147_483_648).max(2_147_483_647).nullish(),
});

const feedbackBatch = z.object({
  count: z.number().int().nonnegative().optional(),
  data: z.array(feedbackItem).max(1000, 'at most 1000 points per batch'),
});

const counter = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).optional();

/** The extension's counters (docs/protocol.md §4.4); `status` is a JS Map it serialises as `{}`. */
const errorReport = z.object({
  openapi_total: counter,
  openapi_cancel: counter,
  openapi_error: counter,
  memo_ok: counter,
  memo_failed: counter,
  upload_ok: counter,
  upload_failed: counter,
  status: z
    .record(z.string().max(100), z.union([z.number(), z.string().max(200), z.boolean(), z.null()]))
    .refine((s) => Object.keys(s).length <= 50, 'at most 50 entries')
    .optional(),
});

const ok = (data: unknown = null) => ({ message: '操作成功', data, success: true });

export function telemetryHandlers(
  db: Database,
  config: CompletionConfig,
): RouteHandlers<'completion.feedback' | 'completion.errorReport' | 'completion.languageMap'> {
  return {
    'completion.feedback': async (req, reply) => {
      const batch = parseJsonBody(feedbackBatch, req.body);
      const { inserted } = await recordCompletionFeedback(
        db.db,
        callerOf(req).user,
        batch.data.map((d) => ({
          ...d,
          language: d.language ?? '',
          acception: d.acception ?? 'none',
          correction: d.correction ?? 'none',
        })),
      );
      return reply.send(ok({ received: batch.data.length, inserted }));
    },
    'completion.errorReport': async (req, reply) => {
      const body = parseJsonBody(errorReport, req.body);
      await recordClientErrorReport(db.db, callerOf(req).user, body);
      return reply.send(ok());
    },
    'completion.languageMap': async (req, reply) => {
      const q = req.query as Record<string, string | undefined>;
      if (!q.belong_type || !q.attribute_key) {
        throw new HttpError(
          400,
          'invalid_request_error',
          'belong_type and attribute_key are required',
          q.belong_type ? 'attribute_key' : 'belong_type',
        );
      }
      const data =
        q.belong_type === 'language' && q.attribute_key === 'language_map' ? config.languageMap : [];
      return reply.send({ message: '获取成功', data, total: data.length, success: true });
    },
  };
}
