import type { ShenmaConfig } from '../config/schema.js';
import { enableCheckUser, SHENMA_IN_STACK, SMOKE_USER, STACK_FLAGS } from './check-user.js';
import { DockerError, type DockerRunner } from './docker.js';
import { publicBase, publicIssuer } from './topology.js';

/**
 * The end of `shenma up`: through the public URL (what the IDE will use) check health and the
 * discovery document, then enable the smoke-test user (`shenma-smoke`, added on the first run)
 * with an API token inside the stack, ask for one completion and one chat answer with it, and
 * revoke/disable both again whatever happened.
 * Every failure names its step and what the server said.
 */

export class SmokeError extends Error {
  override readonly name = 'SmokeError';
}

export interface SmokeOptions {
  config: ShenmaConfig;
  docker: DockerRunner;
  fetch: typeof fetch;
  out: (line: string) => void;
}

const TIMEOUT_MS = 60_000;

/** The model a role's requests go to by default: the configured one or the first serving it. */
export function defaultModel(config: ShenmaConfig, role: 'completion' | 'chat'): string | undefined {
  return config[role].model ?? config.models.find((m) => m.roles.includes(role))?.name;
}

export async function smokeTest(opts: SmokeOptions): Promise<void> {
  const { config, docker, out } = opts;
  const base = publicBase(config);
  out(`smoke test: ${base}`);
  const call = async (step: string, p: string, init: RequestInit = {}) => {
    try {
      return await opts.fetch(`${base}${p}`, { ...init, signal: AbortSignal.timeout(TIMEOUT_MS) });
    } catch (err) {
      throw new SmokeError(
        `smoke test, ${step}: ${base}${p} is not reachable (${(err as Error).cause ?? (err as Error).message}); check DNS and firewalls for the public URL`,
      );
    }
  };
  const expectStatus = async (step: string, res: Response, want: number) => {
    if (res.status === want) return;
    const body = (await res.text().catch(() => '')).slice(0, 300);
    throw new SmokeError(`smoke test, ${step}: answered ${res.status} (expected ${want}): ${body}`);
  };

  await expectStatus('health', await call('health', '/healthz'), 200);
  out('  health: /healthz 200 through the gateway');
  const discovery = await call(
    'discovery document',
    `/realms/${config.identity.realm}/.well-known/openid-configuration`,
  );
  await expectStatus('discovery document', discovery, 200);
  const issuer = ((await discovery.json()) as { issuer?: string }).issuer;
  if (issuer !== publicIssuer(config))
    throw new SmokeError(
      `smoke test, discovery document: the identity provider says issuer ${issuer}, but Shenma verifies ${publicIssuer(config)}`,
    );
  out('  discovery document: issuer matches the public URL');
  await expectStatus('anonymous call', await call('anonymous call', '/v1/models'), 401);
  out('  anonymous call: /v1/models refuses a request without credentials (401)');

  const user = SMOKE_USER;
  const inStack = async (step: string, args: string[]) => {
    try {
      return (
        await docker.compose([...SHENMA_IN_STACK, ...args, ...STACK_FLAGS], {
          what: `smoke test, ${step}`,
        })
      ).stdout;
    } catch (err) {
      if (err instanceof DockerError) throw new SmokeError(err.message);
      throw err;
    }
  };
  try {
    const how = await enableCheckUser(docker, user);
    out(`  smoke-test user: ${how} ${user} (no password)`);
  } catch (err) {
    throw new SmokeError(`smoke test, smoke-test user: ${(err as Error).message}`);
  }
  let tokenId: string | undefined;
  let failure: unknown;
  try {
    const created = await inStack('API token', [
      'tokens',
      'create',
      user,
      '--name',
      'shenma up smoke test',
      '--expires',
      '1h',
    ]);
    const lines = created.split('\n').map((l) => l.trim());
    tokenId = /^Created token (\S+)/.exec(lines[0] ?? '')?.[1];
    const secret = lines[1];
    if (!tokenId || !secret)
      throw new SmokeError('smoke test, API token: `shenma tokens create` printed no token id and secret');
    out(`  API token: created ${tokenId} for ${user} (expires in 1h)`);
    const post = (step: string, p: string, body: unknown) =>
      call(step, p, {
        method: 'POST',
        headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });

    const completionModel = defaultModel(config, 'completion');
    if (completionModel) {
      const res = await post('completion', '/v1/completions', {
        model: completionModel,
        prompt: 'def add(a, b):\n    return',
        max_tokens: 16,
        stream: false,
      });
      await expectStatus('completion', res, 200);
      const text = ((await res.json()) as { choices?: { text?: unknown }[] }).choices?.[0]?.text;
      if (typeof text !== 'string')
        throw new SmokeError('smoke test, completion: 200 but the answer has no choices[0].text');
      out(`  completion: ${completionModel} answered ${JSON.stringify(text.slice(0, 40))}`);
    } else out('  completion: no model serves completion; skipped');

    const chatModel = defaultModel(config, 'chat');
    if (chatModel) {
      const res = await post('chat', '/v1/chat/completions', {
        model: chatModel,
        messages: [{ role: 'user', content: 'Reply with one word: hello' }],
        max_tokens: 16,
        stream: false,
      });
      await expectStatus('chat', res, 200);
      const content = ((await res.json()) as { choices?: { message?: { content?: unknown } }[] }).choices?.[0]
        ?.message?.content;
      if (typeof content !== 'string')
        throw new SmokeError('smoke test, chat: 200 but the answer has no choices[0].message.content');
      out(`  chat: ${chatModel} answered ${JSON.stringify(content.slice(0, 40))}`);
    } else out('  chat: no model serves chat; skipped');
  } catch (err) {
    failure = err;
  }

  // Clean up even after a failure; a cleanup failure is reported only when nothing failed before.
  try {
    if (tokenId) {
      await inStack('clean-up (revoke token)', ['tokens', 'revoke', tokenId]);
      out(`  clean-up: revoked token ${tokenId}`);
    }
    await inStack('clean-up (disable user)', ['users', 'disable', user]);
    out(
      `  clean-up: disabled ${user} (kept for the next run: users cannot be deleted, they keep their usage history)`,
    );
  } catch (err) {
    if (failure === undefined) failure = err;
    else out(`  clean-up failed too: ${(err as Error).message}`);
  }
  if (failure !== undefined) throw failure;
}
