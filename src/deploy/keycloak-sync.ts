import KcAdminClient from '@keycloak/keycloak-admin-client';
import type ClientRepresentation from '@keycloak/keycloak-admin-client/lib/defs/clientRepresentation.js';
import type RealmRepresentation from '@keycloak/keycloak-admin-client/lib/defs/realmRepresentation.js';

/**
 * Identity reconcile for the Keycloak choice: the realm Shenma renders, kept in Keycloak through
 * its admin REST API. Creates the realm and clients when missing, updates the fields that differ
 * (a client's secret included), never creates a second client with the same clientId, and
 * leaves everything else (users, other clients, settings we do not render) alone.
 */

export interface KeycloakSyncOptions {
  /** Keycloak's base URL inside the network, e.g. http://keycloak:8080. */
  url: string;
  adminUser: string;
  adminPassword: string;
  realm: RealmRepresentation;
  log: (line: string) => void;
}

function same(want: unknown, have: unknown): boolean {
  if (Array.isArray(want))
    return Array.isArray(have) && want.length === have.length && want.every((w, i) => same(w, have[i]));
  if (want && typeof want === 'object') {
    if (!have || typeof have !== 'object') return false;
    return Object.entries(want).every(([k, v]) => same(v, (have as Record<string, unknown>)[k]));
  }
  return want === have;
}

const differing = (want: object, have: object, skip: string[] = []) =>
  Object.keys(want).filter(
    (k) =>
      !skip.includes(k) && !same((want as Record<string, unknown>)[k], (have as Record<string, unknown>)[k]),
  );

export async function syncKeycloakRealm(opts: KeycloakSyncOptions): Promise<string[]> {
  const admin = new KcAdminClient({ baseUrl: opts.url, realmName: 'master' });
  await admin.auth({
    grantType: 'password',
    clientId: 'admin-cli',
    username: opts.adminUser,
    password: opts.adminPassword,
  });
  const { clients = [], ...settings } = opts.realm;
  const realm = settings.realm!;
  const changes: string[] = [];
  const existing = await admin.realms.findOne({ realm });
  if (!existing) {
    await admin.realms.create(settings);
    changes.push(`created realm ${realm}`);
  } else {
    const fields = differing(settings, existing);
    if (fields.length > 0) {
      await admin.realms.update(
        { realm },
        Object.fromEntries(fields.map((f) => [f, (settings as Record<string, unknown>)[f]])),
      );
      changes.push(`updated realm ${realm} (${fields.join(', ')})`);
    }
  }
  for (const client of clients as ClientRepresentation[]) {
    const found = await admin.clients.find({ realm, clientId: client.clientId! });
    if (found.length === 0) {
      await admin.clients.create({ realm, ...client });
      changes.push(`created client ${client.clientId}`);
      continue;
    }
    const have = found[0]!;
    const fields = differing(client, have, ['secret']);
    if (client.secret !== undefined) {
      const secret = await admin.clients.getClientSecret({ realm, id: have.id! });
      if (secret.value !== client.secret) fields.push('secret');
    }
    if (fields.length > 0) {
      await admin.clients.update({ realm, id: have.id! }, { ...have, ...client, id: have.id! });
      changes.push(`updated client ${client.clientId} (${fields.join(', ')})`);
    }
  }
  for (const c of changes) opts.log(`  ${c}`);
  if (changes.length === 0) opts.log(`  realm ${realm} up to date`);
  return changes;
}
