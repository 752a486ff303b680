import type { Logger } from 'pino';
import type { ModelRegistry } from '../models/pool.js';
import { redactUrl } from '../observability/redact.js';
import type { Database } from '../storage/database.js';
import type { PublicUrlChoice } from './public-url.js';

const ROLES = ['completion', 'chat'] as const;

/** What an operator needs to read once the server listens: where to point the IDE, and what is missing. */
export function logStartNotes(
  log: Logger,
  s: {
    url: string;
    publicUrlChoice: PublicUrlChoice;
    dataDir: string;
    db: Database;
    models: ModelRegistry;
  },
): void {
  log.info(
    { url: s.url, publicUrl: s.publicUrlChoice.url, dataDir: s.dataDir, database: s.db.kind },
    `shenma listening on ${s.url} ; IDE base URL: ${s.publicUrlChoice.url}`,
  );
  if (s.publicUrlChoice.warning) log.warn({ publicUrl: s.publicUrlChoice.url }, s.publicUrlChoice.warning);
  const groups = [...s.models.groups.values()];
  if (groups.length > 0) {
    const described = groups.map(
      (g) =>
        `${g.name} (${g.settings.roles.join(', ')}) at ${g.replicas.map((r) => redactUrl(r.config.url)).join(', ')}`,
    );
    log.info(
      { models: groups.map((g) => ({ name: g.name, roles: g.settings.roles, replicas: g.replicas.length })) },
      `models: ${described.join('; ')}`,
    );
  }
  for (const role of ROLES) {
    if (groups.some((g) => g.settings.roles.includes(role))) continue;
    log.warn(
      { role },
      `no ${role} model is configured: ${role} requests answer 503 until a model with roles: [${role}] is added (models: in the config file)`,
    );
  }
  for (const g of groups) {
    for (const r of g.replicas) {
      if (r.healthy === false) {
        log.warn(
          { model: g.name, url: redactUrl(r.config.url), error: r.lastError },
          `model "${g.name}" at ${redactUrl(r.config.url)} is not ready (${r.lastError}); its requests answer 503 until it is`,
        );
      }
    }
  }
}
