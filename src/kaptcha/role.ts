import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RoleFactory } from '../gateway/role.js';
import { HttpError } from '../http/errors.js';
import { createRateLimiter } from '../http/rate-limit.js';
import { createCaptchaService } from './service.js';

/**
 * The kaptcha role: captcha images for login pages. `/captcha` is ours ({id, image});
 * `/realms/:realm/captcha/code` is the path and shape ({uuid, code}) of the original deployment's
 * kaptcha container, for pages written against it. Both draw from the same service the login
 * page verifies against.
 */

/** 20 at once, then 20 a minute: far more than a person retyping, far less than a script. */
export const CAPTCHA_RATE = { capacity: 20, refillPerMinute: 20, maxClients: 10_000 };

export const kaptchaRole: RoleFactory<'kaptcha'> = async (ctx) => {
  const captchas = createCaptchaService(ctx.ephemeral);
  const limiter = createRateLimiter(CAPTCHA_RATE);

  const issueFor = async (req: FastifyRequest, reply: FastifyReply) => {
    const decision = limiter.take(req.ip);
    if (!decision.allowed)
      throw new HttpError(
        429,
        'rate_limit_error',
        'too many captcha requests; try again shortly',
        undefined,
        decision.retryAfterSeconds,
      );
    // Each image belongs to one answer; a cached copy would be an image nobody can solve.
    reply.header('cache-control', 'no-store');
    return captchas.issue();
  };

  return {
    handlers: {
      'kaptcha.issue': async (req, reply) => issueFor(req, reply),
      'kaptcha.legacy': async (req, reply) => {
        const { realm } = req.params as { realm: string };
        if (realm !== ctx.config.identity.realm)
          throw new HttpError(404, 'not_found_error', `no realm ${JSON.stringify(realm)}`);
        const { id, image } = await issueFor(req, reply);
        return { uuid: id, code: image };
      },
    },
  };
};
