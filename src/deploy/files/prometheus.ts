import { stringify } from 'yaml';
import { CHAT_FAILURE_STATUSES } from '../../chat/types.js';
import type { ShenmaConfig } from '../../config/schema.js';
import { APISIX_METRICS_PORT, METRICS_TOKEN_FILE, SHENMA_PORT, shenmaServices } from '../topology.js';

/**
 * Prometheus scrapes APISIX and every replica of every Shenma service: a compose service name
 * resolves to all its replicas' addresses, so DNS discovery finds each one.
 */
export function renderPrometheusConfig(config: ShenmaConfig): string {
  const doc = {
    global: { scrape_interval: '15s', evaluation_interval: '15s' },
    // Relative to this file: both are mounted into /etc/prometheus (and promtool checks them in place).
    rule_files: ['alerts.yml'],
    scrape_configs: [
      {
        job_name: 'apisix',
        metrics_path: '/apisix/prometheus/metrics',
        static_configs: [{ targets: [`apisix:${APISIX_METRICS_PORT}`] }],
      },
      ...shenmaServices(config).map((svc) => ({
        job_name: `shenma-${svc}`,
        metrics_path: '/metrics',
        // Shenma answers /metrics beyond loopback only with server.metricsToken (compose.ts writes the file).
        authorization: { type: 'Bearer', credentials_file: METRICS_TOKEN_FILE },
        dns_sd_configs: [{ names: [svc], type: 'A', port: SHENMA_PORT, refresh_interval: '30s' }],
      })),
    ],
  };
  return `# Rendered by \`shenma render\`.\n${stringify(doc)}`;
}

export function renderAlertRules(): string {
  const doc = {
    groups: [
      {
        name: 'shenma',
        rules: [
          {
            alert: 'ShenmaReplicaDown',
            expr: 'up{job=~"shenma-.*"} == 0',
            for: '2m',
            labels: { severity: 'critical' },
            annotations: {
              summary: '{{ $labels.job }} replica {{ $labels.instance }} is not answering /metrics',
            },
          },
          {
            alert: 'GatewayDown',
            expr: 'up{job="apisix"} == 0',
            for: '2m',
            labels: { severity: 'critical' },
            annotations: { summary: 'APISIX is not answering its metrics endpoint' },
          },
          {
            alert: 'CompletionErrorsHigh',
            expr: 'sum(rate(shenma_completion_requests_total{status=~"5.."}[5m])) / clamp_min(sum(rate(shenma_completion_requests_total[5m])), 1e-9) > 0.05',
            for: '10m',
            labels: { severity: 'warning' },
            annotations: { summary: 'More than 5% of completions fail with 5xx' },
          },
          {
            alert: 'CompletionSlow',
            expr: 'histogram_quantile(0.9, sum by (le) (rate(shenma_completion_phase_seconds_bucket{phase="total"}[5m]))) > 3',
            for: '10m',
            labels: { severity: 'warning' },
            annotations: { summary: 'p90 completion latency is above 3 s' },
          },
          {
            alert: 'ChatErrorsHigh',
            // The chat status label is the outcome, not an HTTP code (chat/types.ts).
            expr: `sum(rate(shenma_chat_requests_total{status=~"${CHAT_FAILURE_STATUSES.join('|')}"}[5m])) / clamp_min(sum(rate(shenma_chat_requests_total[5m])), 1e-9) > 0.05`,
            for: '10m',
            labels: { severity: 'warning' },
            annotations: {
              summary: 'More than 5% of chat answers fail (model errors, cut streams, timeouts)',
            },
          },
          {
            alert: 'ModelReplicaUnhealthy',
            expr: 'min by (model, url) (shenma_model_replica_healthy) == 0',
            for: '5m',
            labels: { severity: 'warning' },
            annotations: { summary: 'Model {{ $labels.model }} at {{ $labels.url }} fails its probes' },
          },
        ],
      },
    ],
  };
  return `# Rendered by \`shenma render\`.\n${stringify(doc)}`;
}
