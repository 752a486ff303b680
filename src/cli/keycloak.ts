import { gatewayClient, renderDeployRealm } from '../deploy/files/keycloak.js';
import { syncKeycloakRealm } from '../deploy/keycloak-sync.js';
import { loadCliConfig } from './context.js';
import { CliError, type CliIO, parseCommandArgs } from './io.js';

const USAGE = `Usage: shenma keycloak sync [--url URL] [--config FILE]

Creates or updates the Shenma realm and its clients in a running Keycloak through its admin API
(never duplicating a client; users and other settings are left alone). \`shenma up\` runs it
inside the stack. Reads KEYCLOAK_ADMIN_PASSWORD and OIDC_GATEWAY_CLIENT_SECRET from the
environment.

  --url URL   Keycloak's base URL (default http://keycloak:8080, its name in the stack)`;

export async function run(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, { url: { type: 'string' } }, true);
  if (values.help) {
    io.out(USAGE);
    return 0;
  }
  if (positionals[0] !== 'sync' || positionals.length > 1)
    throw new CliError(`expected: keycloak sync\n\n${USAGE}`, 2);
  const password = io.env.KEYCLOAK_ADMIN_PASSWORD;
  const secret = io.env.OIDC_GATEWAY_CLIENT_SECRET;
  if (!password || !secret)
    throw new CliError('KEYCLOAK_ADMIN_PASSWORD and OIDC_GATEWAY_CLIENT_SECRET must be set');
  const { config } = loadCliConfig(values, io, { writeDefault: false });
  if (!config.publicUrl) throw new CliError('publicUrl is not set in the config');
  const realm = renderDeployRealm(config);
  realm.clients = [
    ...(realm.clients ?? []).filter((c) => c.clientId !== 'shenma-gateway'),
    gatewayClient(secret),
  ];
  try {
    await syncKeycloakRealm({
      url: values.url ?? 'http://keycloak:8080',
      adminUser: 'admin',
      adminPassword: password,
      realm,
      log: io.out,
    });
  } catch (err) {
    throw new CliError(`Keycloak realm sync failed: ${(err as Error).message}`);
  }
  return 0;
}
