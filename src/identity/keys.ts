import { randomUUID } from 'node:crypto';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { exportJWK, generateKeyPair, type JWK } from 'jose';

/**
 * The embedded provider's signing keys: generated on first start, kept in the data directory
 * with mode 0600, rotated by `shenma keys rotate`. Rotation puts a new key first (it signs from
 * then on) and keeps the previous ones so tokens they signed still verify until they expire.
 */

export const KEYS_FILE = 'oidc-signing-keys.json';
/** Old keys kept after a rotation; older ones are dropped. */
const KEEP_PREVIOUS = 2;

export interface SigningKeys {
  /** Private JWKs, signing key first (what oidc-provider's `jwks` option takes). */
  privateJwks: JWK[];
  /** The same keys without private parts (what verifiers use). */
  publicJwks: JWK[];
}

function publicPart(jwk: JWK): JWK {
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...pub } = jwk;
  return pub;
}

async function newKey(): Promise<JWK> {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true, modulusLength: 2048 });
  const jwk = await exportJWK(privateKey);
  return { ...jwk, kid: randomUUID(), alg: 'RS256', use: 'sig' };
}

async function writeKeys(file: string, keys: JWK[]): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify({ keys }, null, 2)}\n`, { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, file);
}

function toSigningKeys(keys: JWK[]): SigningKeys {
  return { privateJwks: keys, publicJwks: keys.map(publicPart) };
}

/** Loads the keys, creating the file on first use. */
export async function loadSigningKeys(dataDir: string): Promise<SigningKeys> {
  const file = path.join(dataDir, KEYS_FILE);
  try {
    const parsed = JSON.parse(await readFile(file, 'utf8')) as { keys?: JWK[] };
    if (!Array.isArray(parsed.keys) || parsed.keys.length === 0) throw new Error(`${file} holds no keys`);
    return toSigningKeys(parsed.keys);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    const keys = [await newKey()];
    await writeKeys(file, keys);
    return toSigningKeys(keys);
  }
}

/** Adds a new signing key in front; returns the new key id. A running server picks it up on restart. */
export async function rotateSigningKeys(dataDir: string): Promise<{ kid: string; kept: number }> {
  const current = await loadSigningKeys(dataDir);
  const fresh = await newKey();
  const keys = [fresh, ...current.privateJwks.slice(0, KEEP_PREVIOUS)];
  await writeKeys(path.join(dataDir, KEYS_FILE), keys);
  return { kid: fresh.kid!, kept: keys.length - 1 };
}
