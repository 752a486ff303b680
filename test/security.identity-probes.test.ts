import { readFileSync } from 'node:fs';
import path from 'node:path';
import { exportSPKI, generateKeyPair, importJWK, type JWK, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEYS_FILE } from '../src/identity/keys.js';
import { startTestShenma, type TestShenma } from './support/shenma.js';

/**
 * The adversarial review's identity probes (issue #7), kept as regression tests: forged
 * credentials of every kind are refused with 401, and the authorization endpoint never redirects
 * to a URI that is not registered. A correctly signed token is the control: it must pass, so the
 * table proves the refusals are about the forgery and not about the token's shape.
 */

let shenma: TestShenma;
let issuer: string;
let signingKey: JWK;
let userId: string;

beforeAll(async () => {
  shenma = await startTestShenma({});
  issuer = `${shenma.server.publicUrl}/realms/gw`;
  // Where the embedded provider keeps its signing keys: the control token is signed with the real one.
  const file = path.join(shenma.dataDir, KEYS_FILE);
  signingKey = (JSON.parse(readFileSync(file, 'utf8')) as { keys: JWK[] }).keys[0]!;
  userId = (
    await shenma.server.db.db
      .selectFrom('users')
      .select('id')
      .where('name', '=', 'tester')
      .executeTakeFirstOrThrow()
  ).id;
});
afterAll(() => shenma?.close());

const now = () => Math.floor(Date.now() / 1000);

function claims(over: Record<string, unknown> = {}) {
  return {
    sub: userId,
    preferred_username: 'tester',
    aud: 'vscode',
    azp: 'vscode',
    iss: issuer,
    iat: now(),
    exp: now() + 600,
    ...over,
  };
}

async function signWith(key: JWK, payload: Record<string, unknown>, header: Record<string, unknown> = {}) {
  const alg = (key.alg as string | undefined) ?? 'RS256';
  return new SignJWT(payload)
    .setProtectedHeader({ alg, typ: 'at+jwt', ...(key.kid ? { kid: key.kid } : {}), ...header })
    .sign(await importJWK(key, alg));
}

function unsigned(payload: Record<string, unknown>): string {
  const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${enc({ alg: 'none', typ: 'at+jwt' })}.${enc(payload)}.`;
}

async function hs256WithPublicKey(payload: Record<string, unknown>): Promise<string> {
  // The classic confusion: the issuer's public key, as PEM text, used as an HMAC secret.
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...publicJwk } = signingKey;
  const pem = await exportSPKI((await importJWK(publicJwk, 'RS256')) as Parameters<typeof exportSPKI>[0]);
  return new SignJWT(payload)
    .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: signingKey.kid! })
    .sign(new TextEncoder().encode(pem));
}

async function foreignKey(): Promise<JWK> {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const { exportJWK } = await import('jose');
  return { ...(await exportJWK(privateKey)), alg: 'RS256', kid: signingKey.kid! };
}

const ask = (headers: Record<string, string>) => fetch(`${shenma.url}/v1/models`, { headers });

describe('forged credentials', () => {
  it('the control: a token the issuer really signed is accepted', async () => {
    const res = await ask({ authorization: `Bearer ${await signWith(signingKey, claims())}` });
    expect(res.status).toBe(200);
  });

  it('refuses every forgery with 401 and a JSON error', async () => {
    const table: [string, Record<string, string>][] = [
      ['alg none', { authorization: `Bearer ${unsigned(claims())}` }],
      ['HS256 keyed with the public key', { authorization: `Bearer ${await hs256WithPublicKey(claims())}` }],
      [
        'signed with another key under the real kid',
        { authorization: `Bearer ${await signWith(await foreignKey(), claims())}` },
      ],
      [
        'wrong issuer',
        {
          authorization: `Bearer ${await signWith(signingKey, claims({ iss: 'https://evil.example/realms/gw' }))}`,
        },
      ],
      [
        'expired',
        {
          authorization: `Bearer ${await signWith(signingKey, claims({ iat: now() - 7200, exp: now() - 3600 }))}`,
        },
      ],
      [
        'not yet valid',
        { authorization: `Bearer ${await signWith(signingKey, claims({ nbf: now() + 3600 }))}` },
      ],
      [
        'wrong audience',
        { authorization: `Bearer ${await signWith(signingKey, claims({ aud: 'other', azp: 'other' }))}` },
      ],
      ['ID token type', { authorization: `Bearer ${await signWith(signingKey, claims(), { typ: 'JWT' })}` }],
      ['tampered payload', { authorization: `Bearer ${await tamper(await signWith(signingKey, claims()))}` }],
      ['garbage bearer', { authorization: 'Bearer garbage' }],
      ['garbage api-key', { 'api-key': 'garbage' }],
      ['unknown api token', { 'api-key': 'shm_0000000000000000000000000000000000000000000' }],
      ['empty bearer', { authorization: 'Bearer ' }],
      ['basic auth', { authorization: 'Basic dGVzdGVyOnRlc3Rlci1wYXNzd29yZC0x' }],
      ['no credentials', {}],
    ];
    for (const [name, headers] of table) {
      const res = await ask(headers);
      expect(res.status, name).toBe(401);
      const body = (await res.json()) as { error: { type: string } };
      expect(body.error.type, name).toBe('authentication_error');
    }
  });
});

async function tamper(token: string): Promise<string> {
  const [h, p, s] = token.split('.') as [string, string, string];
  const payload = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
  payload['preferred_username'] = 'admin';
  return `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}`;
}

describe('redirect URIs', () => {
  const authorize = (redirectUri: string) => {
    const q = new URLSearchParams({
      client_id: 'vscode',
      redirect_uri: redirectUri,
      response_type: 'code',
      scope: 'openid',
      state: 'st-1',
    });
    return fetch(`${shenma.url}/realms/gw/protocol/openid-connect/auth?${q}`, { redirect: 'manual' });
  };

  it('the control: the registered trampoline URI goes on to the login page', async () => {
    const res = await authorize(`${shenma.server.publicUrl}/login/ok`);
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).not.toContain('evil');
  });

  it('never redirects to a URI that is not registered', async () => {
    const base = shenma.server.publicUrl;
    const foreign = [
      'https://evil.example/login/ok',
      `${base}.evil.example/login/ok`,
      `${base}@evil.example/login/ok`,
      `${base}/login/ok/../../evil`,
      `${base}/login/ok?next=https://evil.example`,
      `${base}/login/ok#https://evil.example`,
      `${base}/login/okay`,
      `${base.replace('http:', 'https:')}/login/ok`,
      '//evil.example/login/ok',
      'javascript:alert(1)',
      'vscode://zgsm-ai.zgsm/callback',
      `${base}/LOGIN/OK`,
    ];
    for (const uri of foreign) {
      const res = await authorize(uri);
      const location = res.headers.get('location') ?? '';
      expect(res.status, uri).toBeGreaterThanOrEqual(400);
      expect(res.status, uri).toBeLessThan(500);
      expect(location, uri).toBe('');
      await res.text();
    }
  });
});
