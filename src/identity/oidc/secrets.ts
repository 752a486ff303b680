import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * Secrets the embedded provider makes for itself on first start and keeps in the data directory
 * (mode 0600): the keys that sign its cookies (so browser sessions and pending logins survive a
 * restart) and the secret of the internal `shenma-plugin-login` client.
 */

export const OIDC_SECRETS_FILE = 'oidc-secrets.json';

export interface OidcSecrets {
  /** Cookie signing keys, newest first (oidc-provider's `cookies.keys`). */
  cookieKeys: string[];
  pluginLoginClientSecret: string;
}

function randomSecret(): string {
  return randomBytes(32).toString('base64url');
}

function isSecrets(value: unknown): value is OidcSecrets {
  const v = value as Partial<OidcSecrets> | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    Array.isArray(v.cookieKeys) &&
    v.cookieKeys.length > 0 &&
    v.cookieKeys.every((k) => typeof k === 'string' && k.length >= 32) &&
    typeof v.pluginLoginClientSecret === 'string' &&
    v.pluginLoginClientSecret.length >= 32
  );
}

export async function loadOidcSecrets(dataDir: string): Promise<OidcSecrets> {
  const file = path.join(dataDir, OIDC_SECRETS_FILE);
  try {
    const parsed: unknown = JSON.parse(await readFile(file, 'utf8'));
    if (!isSecrets(parsed)) throw new Error(`${file} is not a valid secrets file; remove it to regenerate`);
    return parsed;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const secrets: OidcSecrets = { cookieKeys: [randomSecret()], pluginLoginClientSecret: randomSecret() };
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, file);
  return secrets;
}
