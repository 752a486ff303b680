// Type-only: erased at compile time, so @grafana/schema (a devDependency) is never loaded at run time.
import type { Dashboard, Panel } from '@grafana/schema';
import { stringify } from 'yaml';

/**
 * Grafana provisioning: the Prometheus data source and the Shenma dashboard, typed against
 * Grafana's published dashboard schema so a wrong field fails the build.
 */

export const PROMETHEUS_DATASOURCE_UID = 'shenma-prometheus';

export function renderDatasources(): string {
  return `# Rendered by \`shenma render\`.\n${stringify({
    apiVersion: 1,
    datasources: [
      {
        name: 'Prometheus',
        uid: PROMETHEUS_DATASOURCE_UID,
        type: 'prometheus',
        access: 'proxy',
        url: 'http://prometheus:9090',
        isDefault: true,
        editable: false,
      },
    ],
  })}`;
}

export function renderDashboardProvider(): string {
  return `# Rendered by \`shenma render\`.\n${stringify({
    apiVersion: 1,
    providers: [
      {
        name: 'shenma',
        folder: 'Shenma',
        type: 'file',
        disableDeletion: true,
        allowUiUpdates: false,
        options: { path: '/var/lib/grafana/dashboards' },
      },
    ],
  })}`;
}

const ds = { type: 'prometheus', uid: PROMETHEUS_DATASOURCE_UID };

function timeseries(
  id: number,
  title: string,
  unit: string,
  targets: { expr: string; legend: string }[],
  x: number,
  y: number,
): Panel {
  return {
    id,
    type: 'timeseries',
    title,
    datasource: ds,
    gridPos: { h: 8, w: 12, x, y },
    fieldConfig: { defaults: { unit }, overrides: [] },
    options: { legend: { displayMode: 'list', placement: 'bottom', showLegend: true } },
    targets: targets.map((t, i) => ({
      refId: String.fromCharCode(65 + i),
      datasource: ds,
      expr: t.expr,
      legendFormat: t.legend,
    })),
    transparent: false,
    repeatDirection: 'h',
  };
}

const quantiles = (metric: string, by: string, filter = '') =>
  [0.5, 0.9, 0.99].map((q) => ({
    expr: `histogram_quantile(${q}, sum by (le${by ? `, ${by}` : ''}) (rate(${metric}_bucket${filter}[5m])))`,
    legend: `p${q * 100}${by ? ` {{${by}}}` : ''}`,
  }));

export function renderDashboard(): Dashboard {
  const panels: Panel[] = [
    timeseries(
      1,
      'Completion requests by outcome',
      'reqps',
      [
        {
          expr: 'sum by (status, reason) (rate(shenma_completion_requests_total[5m]))',
          legend: '{{status}} {{reason}}',
        },
      ],
      0,
      0,
    ),
    timeseries(
      2,
      'Completion latency',
      's',
      quantiles('shenma_completion_phase_seconds', '', '{phase="total"}'),
      12,
      0,
    ),
    timeseries(
      3,
      'Completion time to first token',
      's',
      quantiles('shenma_completion_phase_seconds', '', '{phase="first_token"}'),
      0,
      8,
    ),
    timeseries(
      4,
      'Completion cache and filters',
      'ops',
      [
        { expr: 'sum by (result) (rate(shenma_completion_cache_total[5m]))', legend: 'cache {{result}}' },
        {
          expr: 'sum by (filter) (rate(shenma_completion_filter_hits_total[5m]))',
          legend: 'filter {{filter}}',
        },
      ],
      12,
      8,
    ),
    timeseries(
      5,
      'Chat requests by status',
      'reqps',
      [{ expr: 'sum by (status) (rate(shenma_chat_requests_total[5m]))', legend: '{{status}}' }],
      0,
      16,
    ),
    timeseries(6, 'Chat time to first token', 's', quantiles('shenma_chat_first_token_seconds', ''), 12, 16),
    timeseries(
      7,
      'Errors by reason',
      'ops',
      [
        {
          expr: 'sum by (kind) (rate(shenma_upstream_errors_total[5m]))',
          legend: 'completion upstream {{kind}}',
        },
        {
          expr: 'sum by (kind) (rate(shenma_chat_upstream_errors_total[5m]))',
          legend: 'chat upstream {{kind}}',
        },
        {
          expr: 'sum by (reason) (rate(shenma_completion_requests_total{status=~"5.."}[5m]))',
          legend: 'completion {{reason}}',
        },
      ],
      0,
      24,
    ),
    timeseries(
      8,
      'Quota refusals (chat)',
      'reqps',
      [{ expr: 'sum(rate(shenma_chat_requests_total{status="quota_exceeded"}[5m]))', legend: 'refused' }],
      12,
      24,
    ),
    timeseries(
      9,
      'Gateway requests by status (APISIX)',
      'reqps',
      [{ expr: 'sum by (code) (rate(apisix_http_status[5m]))', legend: '{{code}}' }],
      0,
      32,
    ),
    timeseries(
      10,
      'Gateway latency (APISIX)',
      'ms',
      quantiles('apisix_http_latency', '', '{type="request"}'),
      12,
      32,
    ),
    timeseries(
      11,
      'Model replicas healthy and queues',
      'short',
      [
        { expr: 'min by (model, url) (shenma_model_replica_healthy)', legend: 'healthy {{model}} {{url}}' },
        { expr: 'sum by (model) (shenma_model_queue_length)', legend: 'queued {{model}}' },
      ],
      0,
      40,
    ),
    timeseries(12, 'Replicas up', 'short', [{ expr: 'sum by (job) (up)', legend: '{{job}}' }], 12, 40),
    // The per-replica limit moves when adaptiveConcurrency is on; in flight near it means requests queue.
    timeseries(
      13,
      'Model replica concurrency: limit and in flight',
      'short',
      [
        {
          expr: 'max by (model, url) (shenma_model_replica_concurrency_limit)',
          legend: 'limit {{model}} {{url}}',
        },
        {
          expr: 'sum by (model, url) (shenma_model_replica_in_flight)',
          legend: 'in flight {{model}} {{url}}',
        },
      ],
      0,
      48,
    ),
  ];
  return {
    uid: 'shenma-overview',
    title: 'Shenma',
    description: 'Completion and chat traffic, latency, errors, cache, filters, quotas; gateway and replicas',
    tags: ['shenma'],
    editable: false,
    graphTooltip: 1,
    schemaVersion: 39,
    time: { from: 'now-6h', to: 'now' },
    timezone: 'browser',
    refresh: '30s',
    panels,
    templating: { list: [] },
    annotations: { list: [] },
  };
}
