import { type NetworkInterfaceInfo, networkInterfaces } from 'node:os';

/**
 * The URL browsers and IDEs use. The login page redirects to it, so on a server teammates reach
 * over the network it must not be 127.0.0.1 (their browser would go to their own machine).
 */

const LOOPBACK_HOSTS = new Set(['localhost', '::1', '[::1]']);

export function isLoopback(host: string): boolean {
  return LOOPBACK_HOSTS.has(host.toLowerCase()) || /^127\./.test(host);
}

function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '[::]';
}

function formatHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

/** The first non-internal IPv4 address, else the first non-internal IPv6 one. */
export function firstExternalAddress(
  interfaces: NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces(),
): string | undefined {
  const all = Object.values(interfaces).flatMap((list) => list ?? []);
  const usable = all.filter((i) => !i.internal && !(i.family === 'IPv6' && i.address.startsWith('fe80:')));
  return (usable.find((i) => i.family === 'IPv4') ?? usable[0])?.address;
}

export interface PublicUrlChoice {
  url: string;
  /** Set when the operator should be told something about the choice. */
  warning?: string;
}

/**
 * `publicUrl` when configured; else derived from where Shenma listens: a specific address as is,
 * all addresses (0.0.0.0) as the machine's first non-loopback address, `localhost` as 127.0.0.1.
 */
export function choosePublicUrl(
  configured: string | undefined,
  host: string,
  port: number,
  interfaces?: NodeJS.Dict<NetworkInterfaceInfo[]>,
): PublicUrlChoice {
  if (configured !== undefined) {
    const url = configured.replace(/\/+$/, '');
    if (!isLoopback(host) && isLoopback(new URL(url).hostname)) {
      return {
        url,
        warning: `publicUrl ${url} is a loopback address but Shenma listens on ${host}: login redirects would send teammates' browsers to their own machine; set publicUrl to an address they reach`,
      };
    }
    return { url };
  }
  // A loopback address is used as given (listening on ::1 alone, 127.0.0.1 reaches nothing);
  // `localhost` means 127.0.0.1, the address the extension's own default names.
  if (isLoopback(host)) {
    return { url: `http://${host.toLowerCase() === 'localhost' ? '127.0.0.1' : formatHost(host)}:${port}` };
  }
  if (!isWildcard(host)) return { url: `http://${formatHost(host)}:${port}` };
  const address = firstExternalAddress(interfaces);
  if (!address) {
    return {
      url: `http://127.0.0.1:${port}`,
      warning: `Shenma listens on ${host} but this machine has no non-loopback address; set publicUrl to the address teammates reach`,
    };
  }
  return { url: `http://${formatHost(address)}:${port}` };
}
