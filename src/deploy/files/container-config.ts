import { stringify } from 'yaml';
import type { ShenmaConfig } from '../../config/schema.js';
import { publicIssuer } from '../topology.js';

/**
 * The shenma.yaml every Shenma container reads: the operator's file as written (its ${NAME}
 * references unresolved, so no key is copied), with the addresses inside the network and
 * credentials as ${NAME} references filled from the container environment.
 */
export function renderContainerConfig(raw: Record<string, unknown>, config: ShenmaConfig): string {
  const { deploy: _deploy, ...rest } = raw;
  const identity = { ...((rest.identity as Record<string, unknown> | undefined) ?? {}) };
  if (config.deploy.identity === 'keycloak') identity.issuer = publicIssuer(config);
  else delete identity.issuer;
  const doc: Record<string, unknown> = {
    ...rest,
    // Listening beyond loopback, /metrics wants a token: Prometheus scrapes with this one.
    server: { host: '0.0.0.0', port: 9080, metricsToken: '${SHENMA_METRICS_TOKEN}' },
    database: { url: 'postgresql://shenma:${SHENMA_DB_PASSWORD}@postgres:5432/shenma' },
    redis: { url: 'redis://:${REDIS_PASSWORD}@redis:6379' },
    identity,
  };
  const es = { ...((rest.elasticsearch as Record<string, unknown> | undefined) ?? {}) };
  if (config.deploy.ops.elasticsearch) {
    doc.elasticsearch = { ...es, url: 'http://elastic:${ELASTIC_PASSWORD}@elasticsearch:9200' };
  } else {
    delete doc.elasticsearch;
  }
  return `# Rendered by \`shenma render\` from shenma.yaml for the containers; edit that file and re-render.\n${stringify(doc, { lineWidth: 0, aliasDuplicateObjects: false })}`;
}
