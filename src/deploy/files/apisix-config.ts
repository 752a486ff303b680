import { stringify } from 'yaml';
import type { ShenmaConfig } from '../../config/schema.js';
import { APISIX_ADMIN_PORT, APISIX_METRICS_PORT } from '../topology.js';

/**
 * APISIX's config.yaml: etcd as its store, the Admin API on the compose network only (never
 * published) with the key read from the environment (APISIX substitutes ${{NAME}}), the
 * Prometheus exporter for the scraper, and no request bodies in logs.
 */
export function renderApisixConfig(config: ShenmaConfig): string {
  const doc = {
    apisix: {
      node_listen: [9080],
      enable_ipv6: false,
      enable_control: true,
      // Loopback only: the healthcheck runs inside the container.
      control: { ip: '127.0.0.1', port: 9090 },
      ...(config.deploy.tls ? { ssl: { enable: true, listen: [{ port: 9443 }] } } : {}),
    },
    deployment: {
      role: 'traditional',
      role_traditional: { config_provider: 'etcd' },
      admin: {
        admin_key_required: true,
        admin_key: [{ name: 'admin', role: 'admin', key: '${{APISIX_ADMIN_KEY}}' }],
        // Private ranges: the compose network. The port is not published on the host.
        allow_admin: ['127.0.0.0/24', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'],
        admin_listen: { ip: '0.0.0.0', port: APISIX_ADMIN_PORT },
      },
      etcd: { host: ['http://etcd:2379'], prefix: '/apisix', timeout: 30 },
    },
    plugin_attr: {
      prometheus: { export_addr: { ip: '0.0.0.0', port: APISIX_METRICS_PORT } },
    },
    nginx_config: {
      // Chat answers stream; buffering them would hold tokens back.
      http_configuration_snippet: 'proxy_buffering off;',
    },
  };
  return `# Rendered by \`shenma render\`; edit shenma.yaml and re-render instead.\n${stringify(doc)}`;
}
