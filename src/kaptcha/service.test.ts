import { afterEach, describe, expect, it, vi } from 'vitest';
import type { RoleContext } from '../gateway/role.js';
import {
  CAPTCHA_ALPHABET,
  CAPTCHA_LENGTH,
  captchaServiceFor,
  createCaptchaService,
  setCaptchaAnswerObserver,
} from './service.js';

/** random() = 0 always picks the alphabet's first character, so the answer is known. */
const alwaysFirst = () => 0;
const KNOWN_ANSWER = CAPTCHA_ALPHABET[0]!.repeat(CAPTCHA_LENGTH);

function decodeSvg(dataUrl: string): string {
  expect(dataUrl.startsWith('data:image/svg+xml;base64,')).toBe(true);
  return Buffer.from(dataUrl.slice(dataUrl.indexOf(',') + 1), 'base64').toString('utf8');
}

afterEach(() => {
  vi.useRealTimers();
  setCaptchaAnswerObserver(undefined);
});

describe('captcha service', () => {
  it('issues an SVG data URL whose markup does not contain the answer as text', () => {
    const seen: string[] = [];
    setCaptchaAnswerObserver((_id, answer) => seen.push(answer));
    const service = createCaptchaService();
    const { id, image } = service.issue();
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const svg = decodeSvg(image);
    expect(svg).toMatch(/^<svg /);
    expect(svg).not.toMatch(/<text/);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatch(new RegExp(`^[${CAPTCHA_ALPHABET}]{${CAPTCHA_LENGTH}}$`));
    expect(svg).not.toContain(seen[0]);
  });

  it('never uses characters people confuse', () => {
    expect(CAPTCHA_ALPHABET).not.toMatch(/[0OoIiLlJj1]/);
  });

  it('accepts the right answer in any case, with surrounding spaces', () => {
    const service = createCaptchaService({ random: alwaysFirst });
    const a = service.issue();
    expect(service.verify(a.id, ` ${KNOWN_ANSWER.toLowerCase()} `)).toBe(true);
  });

  it('is single use: a wrong answer consumes the id, and so does a right one', () => {
    const service = createCaptchaService({ random: alwaysFirst });
    const wrong = service.issue();
    expect(service.verify(wrong.id, 'ZZZZ')).toBe(false);
    expect(service.verify(wrong.id, KNOWN_ANSWER)).toBe(false);
    const right = service.issue();
    expect(service.verify(right.id, KNOWN_ANSWER)).toBe(true);
    expect(service.verify(right.id, KNOWN_ANSWER)).toBe(false);
  });

  it('refuses unknown ids and non-string answers', () => {
    const service = createCaptchaService({ random: alwaysFirst });
    expect(service.verify('no-such-id', KNOWN_ANSWER)).toBe(false);
    const c = service.issue();
    expect(service.verify(c.id, undefined as unknown as string)).toBe(false);
  });

  it('expires answers after the TTL', () => {
    vi.useFakeTimers();
    const service = createCaptchaService({ random: alwaysFirst, ttlMs: 1000 });
    const early = service.issue();
    const late = service.issue();
    vi.advanceTimersByTime(999);
    expect(service.verify(early.id, KNOWN_ANSWER)).toBe(true);
    vi.advanceTimersByTime(1);
    expect(service.verify(late.id, KNOWN_ANSWER)).toBe(false);
  });

  it('defaults to a two-minute TTL', () => {
    vi.useFakeTimers();
    const service = createCaptchaService({ random: alwaysFirst });
    const kept = service.issue();
    const dropped = service.issue();
    vi.advanceTimersByTime(2 * 60_000 - 1);
    expect(service.verify(kept.id, KNOWN_ANSWER)).toBe(true);
    vi.advanceTimersByTime(1);
    expect(service.verify(dropped.id, KNOWN_ANSWER)).toBe(false);
  });

  it('keeps at most maxOutstanding answers, evicting the oldest', () => {
    const service = createCaptchaService({ random: alwaysFirst, maxOutstanding: 3 });
    const ids = Array.from({ length: 4 }, () => service.issue().id);
    expect(service.verify(ids[0]!, KNOWN_ANSWER)).toBe(false);
    for (const id of ids.slice(1)) expect(service.verify(id, KNOWN_ANSWER)).toBe(true);
  });

  it('draws characters from the injected random source', () => {
    const seen: string[] = [];
    setCaptchaAnswerObserver((_id, answer) => seen.push(answer));
    const last = 0.999_999;
    createCaptchaService({ random: () => last }).issue();
    expect(seen[0]).toBe(CAPTCHA_ALPHABET.at(-1)!.repeat(CAPTCHA_LENGTH));
  });

  it('gives one shared instance per role context', () => {
    const ctxA = {} as RoleContext;
    const ctxB = {} as RoleContext;
    expect(captchaServiceFor(ctxA)).toBe(captchaServiceFor(ctxA));
    expect(captchaServiceFor(ctxA)).not.toBe(captchaServiceFor(ctxB));
    const issued = captchaServiceFor(ctxA).issue();
    expect(captchaServiceFor(ctxB).verify(issued.id, 'AAAA')).toBe(false);
  });
});
