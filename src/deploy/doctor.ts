import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'yaml';
import { EXTENSION_CLIENT_SECRET } from '../config/schema.js';
import { DOCTOR_USER, enableCheckUser, SHENMA_IN_STACK, STACK_FLAGS } from './check-user.js';
import type { DockerRunner } from './docker.js';
import type { Deployment } from './load.js';
import { publicBase, publicIssuer } from './topology.js';

/**
 * `shenma doctor`: the checks that catch the original deployment's login failures, from outside
 * the network (the public URL) and from inside (each role's /readyz): the public URL answers,
 * the provider's issuer and endpoints use the public URL, the services verify that same issuer,
 * a token makes the round trip (issued inside the stack, accepted at the public URL, refused
 * without it), model upstreams and the database answer, the TLS certificate is not about to
 * expire, and the public extension client secret is called out.
 */

export type Verdict = 'ok' | 'warn' | 'fail';
export interface Finding {
  verdict: Verdict;
  check: string;
  detail: string;
}

const DAY = 86_400_000;

export async function doctor(opts: {
  deployment: Deployment;
  docker: DockerRunner;
  dir: string;
  fetch?: typeof fetch;
  now?: number;
}): Promise<Finding[]> {
  const { deployment: d, docker } = opts;
  const fetchImpl = opts.fetch ?? fetch;
  const findings: Finding[] = [];
  const add = (verdict: Verdict, check: string, detail: string) => findings.push({ verdict, check, detail });
  const base = publicBase(d.config);

  const health = await fetchImpl(`${base}/healthz`, { signal: AbortSignal.timeout(10_000) }).catch(
    (e: Error) => e,
  );
  if (health instanceof Error)
    add(
      'fail',
      'public URL',
      `${base} is not reachable from here: ${String(health.cause ?? health.message)}`,
    );
  else add(health.status === 200 ? 'ok' : 'fail', 'public URL', `${base}/healthz answered ${health.status}`);

  const discoveryUrl = `${base}/realms/${d.config.identity.realm}/.well-known/openid-configuration`;
  const discovery = await fetchImpl(discoveryUrl, { signal: AbortSignal.timeout(10_000) })
    .then((r) => (r.ok ? (r.json() as Promise<Record<string, string>>) : undefined))
    .catch(() => undefined);
  if (!discovery) add('fail', 'identity provider', `no discovery document at ${discoveryUrl}`);
  else {
    const expected = publicIssuer(d.config);
    add(
      discovery.issuer === expected ? 'ok' : 'fail',
      'issuer',
      discovery.issuer === expected
        ? `tokens are issued by ${expected}`
        : `the provider says ${discovery.issuer}, browsers use ${expected}`,
    );
    const internal = ['authorization_endpoint', 'end_session_endpoint'].filter(
      (k) => discovery[k] !== undefined && !discovery[k]!.startsWith(base),
    );
    add(
      internal.length === 0 ? 'ok' : 'fail',
      'redirect URLs',
      internal.length === 0
        ? 'the login and logout pages are on the public URL'
        : `${internal.map((k) => `${k} is ${discovery[k]}`).join('; ')}: browsers cannot follow it`,
    );
  }

  // What the services verify: the rendered container config's issuer (or the embedded provider's).
  const container = parse(await readFile(path.join(opts.dir, 'shenma/shenma.yaml'), 'utf8')) as {
    identity?: { issuer?: string };
  };
  const verified = container.identity?.issuer ?? publicIssuer(d.config);
  add(
    verified === publicIssuer(d.config) ? 'ok' : 'fail',
    'verified issuer',
    `the services accept tokens from ${verified}`,
  );

  const [verdict, detail] = await tokenRoundTrip(docker, base, fetchImpl);
  add(verdict, 'token round trip', detail);

  for (const service of ['completion', 'chat']) {
    const r = await docker.compose(
      [
        'exec',
        '-T',
        service,
        'node',
        '-e',
        "fetch('http://127.0.0.1:9080/readyz').then(async r=>{process.stdout.write(r.status+' '+await r.text())},e=>{process.stdout.write('0 '+e.message)})",
      ],
      { allowFailure: true, what: `${service} readiness` },
    );
    const [status, ...rest] = r.stdout.trim().split(' ');
    add(
      status === '200' ? 'ok' : 'fail',
      `${service} readiness`,
      status === '200' ? 'models and database answer' : `/readyz: ${rest.join(' ') || r.stderr.trim()}`,
    );
  }

  if (d.config.deploy.tls) {
    const pem = await readFile(path.resolve(path.dirname(d.configFile), d.config.deploy.tls.cert), 'utf8');
    const validTo = Date.parse(new X509Certificate(pem).validTo);
    const days = Math.floor((validTo - (opts.now ?? Date.now())) / DAY);
    add(
      days < 0 ? 'fail' : days < 30 ? 'warn' : 'ok',
      'TLS certificate',
      days < 0 ? `expired ${-days} days ago` : `expires in ${days} days`,
    );
  }

  if (d.config.identity.clientSecret === EXTENSION_CLIENT_SECRET)
    add(
      'warn',
      'extension client secret',
      'the IDE client uses the secret built into the public extension: anyone can present it; set identity.clientSecret when only other clients are served',
    );
  return findings;
}

/**
 * An API token of the doctor's own user (`shenma-doctor`, added on the first run and enabled
 * again on later ones), made inside the stack, must open /v1/models at the public URL (the
 * gateway's verification and Shenma's agree), and no token must not. The token is revoked and the
 * user disabled afterwards (users are never deleted: they keep their history).
 */
async function tokenRoundTrip(
  docker: DockerRunner,
  base: string,
  fetchImpl: typeof fetch,
): Promise<[Verdict, string]> {
  const inStack = async (args: string[]) => {
    const r = await docker.compose([...SHENMA_IN_STACK, ...args, ...STACK_FLAGS], { allowFailure: true });
    if (r.code !== 0)
      throw new Error(
        `shenma ${args.slice(0, 2).join(' ')} in the stack failed: ${(r.stderr || r.stdout).trim().split('\n').pop()}`,
      );
    return r.stdout;
  };
  const user = DOCTOR_USER;
  let tokenId: string | undefined;
  let result: [Verdict, string];
  try {
    await enableCheckUser(docker, user);
    const lines = (await inStack(['tokens', 'create', user, '--name', 'shenma doctor', '--expires', '1h']))
      .split('\n')
      .map((l) => l.trim());
    tokenId = /^Created token (\S+)/.exec(lines[0] ?? '')?.[1];
    const secret = lines[1];
    if (!tokenId || !secret) throw new Error('`shenma tokens create` printed no token');
    const get = (auth?: string) =>
      fetchImpl(`${base}/v1/models`, {
        headers: auth ? { authorization: auth } : {},
        signal: AbortSignal.timeout(10_000),
      }).then((r) => r.status);
    const [withToken, without] = [await get(`Bearer ${secret}`), await get()];
    result =
      withToken === 200 && without === 401
        ? ['ok', `a fresh API token opens ${base}/v1/models (200); none is refused (401)`]
        : [
            'fail',
            `${base}/v1/models answered ${withToken} with a fresh API token (want 200) and ${without} without one (want 401)`,
          ];
  } catch (err) {
    result = ['fail', (err as Error).message];
  }
  try {
    if (tokenId) await inStack(['tokens', 'revoke', tokenId]);
    await inStack(['users', 'disable', user]);
  } catch (err) {
    if (result[0] === 'ok')
      result = ['warn', `round trip ok, but the clean-up failed: ${(err as Error).message}`];
  }
  return result;
}
