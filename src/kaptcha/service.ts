import { randomInt, randomUUID } from 'node:crypto';
import type { RoleContext } from '../gateway/role.js';
import { renderCaptchaSvg, svgDataUrl } from './render.js';

/**
 * Captcha challenges for the login page: issue an image, verify the typed answer once.
 * Answers live only in this process's memory (bounded, expiring) and are never logged.
 */

export interface CaptchaChallenge {
  id: string;
  /** A data: URL of an SVG image. */
  image: string;
}

export interface CaptchaService {
  issue(): CaptchaChallenge;
  /** Single use: any verify, right or wrong, consumes the id. Expired → false. Case-insensitive. */
  verify(id: string, answer: string): boolean;
}

export interface CaptchaServiceOptions {
  /** How long an answer stays valid; default 2 minutes. */
  ttlMs?: number;
  /** At most this many answers are kept; the oldest is evicted first. Default 10 000. */
  maxOutstanding?: number;
  /** A number in [0, 1); default draws from crypto. Tests inject a fixed sequence. */
  random?: () => number;
}

/**
 * No 0/O, 1/I/L, and no J (svg-captcha's font draws it like an I): the glyphs people misread.
 * Upper case only, since answers ignore case.
 */
export const CAPTCHA_ALPHABET = 'ABCDEFGHKMNPQRSTUVWXYZ23456789';
export const CAPTCHA_LENGTH = 4;
const DEFAULT_TTL_MS = 2 * 60_000;
const DEFAULT_MAX_OUTSTANDING = 10_000;

type AnswerObserver = (id: string, answer: string) => void;
let answerObserver: AnswerObserver | undefined;

/**
 * TEST-ONLY: lets a test learn each answer as it is issued, so a browser test can type the right
 * one. Nothing in src/ calls this; with no observer set (production) answers never leave the
 * service. Pass undefined to remove it. See test/identity.browser.test.ts.
 */
export function setCaptchaAnswerObserver(observer: AnswerObserver | undefined): void {
  answerObserver = observer;
}

export function createCaptchaService(opts: CaptchaServiceOptions = {}): CaptchaService {
  const ttlMs = opts.ttlMs ?? DEFAULT_TTL_MS;
  const maxOutstanding = Math.max(1, opts.maxOutstanding ?? DEFAULT_MAX_OUTSTANDING);
  const pick = opts.random
    ? (n: number) => Math.min(n - 1, Math.floor(opts.random!() * n))
    : (n: number) => randomInt(n);
  // A Map iterates in insertion order, and every entry has the same TTL, so the front is both
  // the oldest and the first to expire.
  const outstanding = new Map<string, { answer: string; expiresAt: number }>();

  const sweep = (now: number) => {
    for (const [id, entry] of outstanding) {
      if (entry.expiresAt > now) break;
      outstanding.delete(id);
    }
  };

  return {
    issue() {
      const now = Date.now();
      sweep(now);
      while (outstanding.size >= maxOutstanding) {
        const oldest = outstanding.keys().next().value as string;
        outstanding.delete(oldest);
      }
      let answer = '';
      for (let i = 0; i < CAPTCHA_LENGTH; i++) answer += CAPTCHA_ALPHABET[pick(CAPTCHA_ALPHABET.length)];
      const id = randomUUID();
      outstanding.set(id, { answer, expiresAt: now + ttlMs });
      answerObserver?.(id, answer);
      return { id, image: svgDataUrl(renderCaptchaSvg(answer)) };
    },
    verify(id, answer) {
      const entry = outstanding.get(id);
      if (!entry) return false;
      outstanding.delete(id);
      if (entry.expiresAt <= Date.now()) return false;
      return typeof answer === 'string' && answer.trim().toUpperCase() === entry.answer;
    },
  };
}

const perContext = new WeakMap<RoleContext, CaptchaService>();

/** One service per server (RoleContext), so the login page verifies what the kaptcha role issued. */
export function captchaServiceFor(ctx: RoleContext): CaptchaService {
  let service = perContext.get(ctx);
  if (!service) {
    service = createCaptchaService();
    perContext.set(ctx, service);
  }
  return service;
}
