import { randomInt, randomUUID } from 'node:crypto';
import type { EphemeralStore } from '../storage/ephemeral.js';
import { renderCaptchaSvg, svgDataUrl } from './render.js';

/**
 * Captcha challenges for the login page: issue an image, verify the typed answer once. Answers
 * live in the shared short-lived store the server gives both the kaptcha and the identity role
 * (memory, or Redis so that any replica can check what another issued) and are never logged.
 */

export interface CaptchaChallenge {
  id: string;
  /** A data: URL of an SVG image. */
  image: string;
}

export interface CaptchaService {
  issue(): Promise<CaptchaChallenge>;
  /** Single use: any verify, right or wrong, consumes the id. Expired → false. Case-insensitive. */
  verify(id: string, answer: string): Promise<boolean>;
  /** Drops an issued answer unchecked (the page asked for a new image). */
  discard(id: string): Promise<void>;
}

export interface CaptchaServiceOptions {
  /** How long an answer stays valid; default 2 minutes. */
  ttlMs?: number;
  /** A number in [0, 1) for the answer's characters; default draws from crypto. */
  random?: () => number;
}

/**
 * No 0/O, 1/I/L, and no J (the font draws it like an I): the glyphs people misread.
 * Upper case only, since answers ignore case.
 */
export const CAPTCHA_ALPHABET = 'ABCDEFGHKMNPQRSTUVWXYZ23456789';
export const CAPTCHA_LENGTH = 4;
const DEFAULT_TTL_MS = 2 * 60_000;
const KEY = 'captcha:';
const ID = /^[0-9a-f-]{36}$/;

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

export function createCaptchaService(
  store: EphemeralStore,
  opts: CaptchaServiceOptions = {},
): CaptchaService {
  const ttlMs = opts.ttlMs ?? DEFAULT_TTL_MS;
  const pick = opts.random
    ? (n: number) => Math.min(n - 1, Math.floor(opts.random!() * n))
    : (n: number) => randomInt(n);

  return {
    async issue() {
      let answer = '';
      for (let i = 0; i < CAPTCHA_LENGTH; i++) answer += CAPTCHA_ALPHABET[pick(CAPTCHA_ALPHABET.length)];
      const id = randomUUID();
      await store.put(KEY + id, answer, ttlMs);
      answerObserver?.(id, answer);
      return { id, image: svgDataUrl(renderCaptchaSvg(answer)) };
    },
    async verify(id, answer) {
      if (typeof id !== 'string' || !ID.test(id)) return false;
      const expected = await store.take(KEY + id);
      if (!expected) return false;
      return typeof answer === 'string' && answer.trim().toUpperCase() === expected;
    },
    async discard(id) {
      if (typeof id === 'string' && ID.test(id)) await store.delete(KEY + id);
    },
  };
}
