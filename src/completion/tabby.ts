import { cpus } from 'node:os';
import type { RouteHandlers } from '../gateway/routes.js';
import { callerOf } from '../http/caller.js';
import { parseJsonBody } from '../http/request.js';
import type { Database } from '../storage/database.js';
import { tabbyEventBody, tabbyFeedback } from './api/tabby.js';
import { recordCompletionFeedback } from './feedback-store.js';

/**
 * What tabby-agent calls besides completions: the health check it makes at start and on
 * reconnect (its `HealthState`: the model names, and a version it reads to decide which endpoints
 * exist), the server settings, and its completion events (stored as completion feedback).
 */

/** Tabby ≥ 0.9 is asked for server settings; the version says this is Shenma, not Tabby. */
const VERSION = 'shenma';

export function tabbyHandlers(
  db: Database,
  /** Names shown in the health state: the default completion and chat models. */
  models: { completion: string | undefined; chat: string | undefined },
): RouteHandlers<'completion.tabbyHealth' | 'completion.tabbyServerSetting' | 'completion.tabbyEvents'> {
  return {
    'completion.tabbyHealth': async (_req, reply) =>
      reply.send({
        model: models.completion ?? null,
        chat_model: models.chat ?? null,
        // The models run elsewhere; Tabby's fields about its own hardware describe this gateway.
        device: 'remote',
        arch: process.arch,
        cpu_info: 'Shenma gateway',
        cpu_count: cpus().length,
        cuda_devices: [],
        version: { build_date: '', build_timestamp: '', git_sha: '', git_describe: VERSION },
        webserver: false,
      }),
    'completion.tabbyServerSetting': async (_req, reply) =>
      reply.send({ disable_client_side_telemetry: false }),
    'completion.tabbyEvents': async (req, reply) => {
      const event = parseJsonBody(tabbyEventBody, req.body);
      const item = tabbyFeedback(event);
      if (item) await recordCompletionFeedback(db.db, callerOf(req).user, [item]);
      return reply.code(200).send('');
    },
  };
}
