import type { NetworkInterfaceInfo } from 'node:os';
import { describe, expect, it } from 'vitest';
import { choosePublicUrl, firstExternalAddress } from './public-url.js';

const nic = (address: string, family: 'IPv4' | 'IPv6', internal = false) =>
  ({ address, family, internal, netmask: '', mac: '', cidr: null, scopeid: 0 }) as NetworkInterfaceInfo;

const interfaces = {
  lo: [nic('127.0.0.1', 'IPv4', true), nic('::1', 'IPv6', true)],
  eth0: [nic('fe80::1', 'IPv6'), nic('10.1.2.3', 'IPv4')],
};

describe('choosePublicUrl', () => {
  it('uses 127.0.0.1 when listening on loopback', () => {
    expect(choosePublicUrl(undefined, '127.0.0.1', 9080, interfaces)).toEqual({
      url: 'http://127.0.0.1:9080',
    });
  });

  it('uses the loopback address it listens on, IPv6 too; localhost as 127.0.0.1', () => {
    expect(choosePublicUrl(undefined, '::1', 9080, interfaces).url).toBe('http://[::1]:9080');
    expect(choosePublicUrl(undefined, '[::1]', 9080, interfaces).url).toBe('http://[::1]:9080');
    expect(choosePublicUrl(undefined, '127.0.0.2', 9080, interfaces).url).toBe('http://127.0.0.2:9080');
    expect(choosePublicUrl(undefined, 'localhost', 9080, interfaces).url).toBe('http://127.0.0.1:9080');
  });

  it('derives the first non-loopback address when listening on all addresses', () => {
    expect(choosePublicUrl(undefined, '0.0.0.0', 9080, interfaces)).toEqual({ url: 'http://10.1.2.3:9080' });
    expect(choosePublicUrl(undefined, '::', 9081, interfaces)).toEqual({ url: 'http://10.1.2.3:9081' });
  });

  it('uses a specific listen address as is', () => {
    expect(choosePublicUrl(undefined, '192.168.0.7', 9080, interfaces).url).toBe('http://192.168.0.7:9080');
  });

  it('keeps a configured publicUrl, without a trailing slash', () => {
    expect(choosePublicUrl('https://shenma.example.com/', '0.0.0.0', 9080, interfaces)).toEqual({
      url: 'https://shenma.example.com',
    });
  });

  it('warns when listening beyond loopback with a loopback publicUrl', () => {
    const choice = choosePublicUrl('http://127.0.0.1:9080', '0.0.0.0', 9080, interfaces);
    expect(choice.url).toBe('http://127.0.0.1:9080');
    expect(choice.warning).toContain('loopback');
    expect(choice.warning).toContain('0.0.0.0');
  });

  it('warns when there is no address to derive', () => {
    const choice = choosePublicUrl(undefined, '0.0.0.0', 9080, { lo: interfaces.lo });
    expect(choice.url).toBe('http://127.0.0.1:9080');
    expect(choice.warning).toContain('set publicUrl');
  });
});

describe('firstExternalAddress', () => {
  it('prefers IPv4 and skips link-local IPv6', () => {
    expect(firstExternalAddress(interfaces)).toBe('10.1.2.3');
    expect(firstExternalAddress({ eth0: [nic('fe80::1', 'IPv6'), nic('2001:db8::5', 'IPv6')] })).toBe(
      '2001:db8::5',
    );
  });
});
