import type { DeployConfig } from '../config/deploy.js';

/**
 * The address browsers and IDEs use is not the address containers use (the original deployment
 * broke logins by mixing them). These checks run in `init`, `render` and `up`.
 */

/** Names only containers on the compose network resolve. */
export const INTERNAL_HOSTS = new Set([
  'apisix',
  'etcd',
  'postgres',
  'redis',
  'keycloak',
  'identity',
  'completion',
  'chat',
  'login',
  'prometheus',
  'grafana',
  'elasticsearch',
  'kibana',
  'vllm-completion',
  'vllm-chat',
  'host.docker.internal',
]);

function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h.endsWith('.localhost') || h === '::1' || /^127\./.test(h);
}

/** Returns the problem with the browser-facing URL, phrased with its fix, or undefined. */
export function publicUrlProblem(publicUrl: string | undefined, deploy: DeployConfig): string | undefined {
  if (!publicUrl)
    return 'publicUrl is not set; the deployed stack needs the address browsers and IDEs use (shenma init --public-url https://shenma.example.com)';
  const url = new URL(publicUrl);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (INTERNAL_HOSTS.has(host.toLowerCase())) {
    return `publicUrl ${publicUrl} names "${host}", a compose service only containers resolve; browsers and IDEs cannot. Use this host's DNS name or IP, e.g. http://<server-address>:${deploy.ports.http}`;
  }
  if (isLoopback(host) && !isLoopback(deploy.publishAddress)) {
    return `publicUrl ${publicUrl} is this machine's loopback address, but the entry port is published on ${deploy.publishAddress} for other machines: their IDEs would call themselves. Use this host's DNS name or IP, or set deploy.publishAddress: 127.0.0.1 for a single-machine install`;
  }
  if (!isLoopback(host) && isLoopback(deploy.publishAddress) && /^[\d.]+$|:/.test(host)) {
    return `publicUrl ${publicUrl} is a network address, but the entry port is published on ${deploy.publishAddress} only; set deploy.publishAddress: 0.0.0.0 (or that address)`;
  }
  if (url.pathname !== '/' && url.pathname !== '')
    return `publicUrl ${publicUrl} has a path; the extension's paths start at the root, so give scheme, host and port only`;
  return undefined;
}
