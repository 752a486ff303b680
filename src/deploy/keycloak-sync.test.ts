import { afterEach, describe, expect, it } from 'vitest';
import { type KeycloakDouble, startKeycloakDouble } from '../../test/support/keycloak-admin-double.js';
import { parseConfig } from '../config/load.js';
import { gatewayClient, renderDeployRealm } from './files/keycloak.js';
import { syncKeycloakRealm } from './keycloak-sync.js';

/**
 * Identity reconcile through @keycloak/keycloak-admin-client against a TEST DOUBLE of the
 * Keycloak admin REST paths it calls (Keycloak cannot run here).
 */

let double: KeycloakDouble;
afterEach(() => double?.close());

const realmFor = (secret: string, overrides: Record<string, unknown> = {}) => {
  const realm = renderDeployRealm(
    parseConfig({ publicUrl: 'https://shenma.example.com', identity: overrides }),
  );
  return { ...realm, clients: [realm.clients![0]!, gatewayClient(secret)] };
};

describe('Keycloak realm reconcile (admin REST double)', () => {
  it('creates when missing, changes nothing the second time, updates what changed, never duplicates', async () => {
    double = await startKeycloakDouble('admin-password-0123456789');
    const sync = (realm: ReturnType<typeof realmFor>) =>
      syncKeycloakRealm({
        url: double.url,
        adminUser: 'admin',
        adminPassword: 'admin-password-0123456789',
        realm,
        log: () => {},
      });

    expect(await sync(realmFor('gateway-secret-1'))).toEqual([
      'created realm gw',
      'created client vscode',
      'created client shenma-gateway',
    ]);
    expect(double.realms.get('gw')!.bruteForceProtected).toBe(true);

    const writes = double.writes.length;
    expect(await sync(realmFor('gateway-secret-1'))).toEqual([]);
    expect(double.writes).toHaveLength(writes);

    const changed = await sync(realmFor('gateway-secret-2', { accessTokenTtlSeconds: 7200 }));
    expect(changed).toEqual([
      'updated realm gw (accessTokenLifespan)',
      'updated client shenma-gateway (secret)',
    ]);
    expect(double.realms.get('gw')!.accessTokenLifespan).toBe(7200);
    expect(double.clients.get('gw')!.filter((c) => c.clientId === 'shenma-gateway')).toHaveLength(1);
    expect(double.clients.get('gw')!.find((c) => c.clientId === 'shenma-gateway')!.secret).toBe(
      'gateway-secret-2',
    );
  });

  it('a wrong admin password is an error, not a silent success', async () => {
    double = await startKeycloakDouble('admin-password-0123456789');
    await expect(
      syncKeycloakRealm({
        url: double.url,
        adminUser: 'admin',
        adminPassword: 'wrong',
        realm: realmFor('s'),
        log: () => {},
      }),
    ).rejects.toThrow();
    expect(double.writes).toEqual([]);
  });
});
