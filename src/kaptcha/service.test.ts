import { afterEach, describe, expect, it } from 'vitest';
import { MemoryEphemeralStore } from '../storage/ephemeral.js';
import {
  CAPTCHA_ALPHABET,
  CAPTCHA_LENGTH,
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

afterEach(() => setCaptchaAnswerObserver(undefined));

describe('captcha service', () => {
  it('issues an SVG data URL whose markup does not contain the answer as text', async () => {
    const seen: string[] = [];
    setCaptchaAnswerObserver((_id, answer) => seen.push(answer));
    const service = createCaptchaService(new MemoryEphemeralStore());
    const { id, image } = await service.issue();
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

  it('accepts the right answer in any case, with surrounding spaces', async () => {
    const service = createCaptchaService(new MemoryEphemeralStore(), { random: alwaysFirst });
    const a = await service.issue();
    expect(await service.verify(a.id, ` ${KNOWN_ANSWER.toLowerCase()} `)).toBe(true);
  });

  it('is single use: a wrong answer consumes the id, and so does a right one', async () => {
    const service = createCaptchaService(new MemoryEphemeralStore(), { random: alwaysFirst });
    const wrong = await service.issue();
    expect(await service.verify(wrong.id, 'ZZZZ')).toBe(false);
    expect(await service.verify(wrong.id, KNOWN_ANSWER)).toBe(false);
    const right = await service.issue();
    expect(await service.verify(right.id, KNOWN_ANSWER)).toBe(true);
    expect(await service.verify(right.id, KNOWN_ANSWER)).toBe(false);
  });

  it('refuses unknown ids, discarded ids and non-string answers', async () => {
    const service = createCaptchaService(new MemoryEphemeralStore(), { random: alwaysFirst });
    expect(await service.verify('no-such-id', KNOWN_ANSWER)).toBe(false);
    const c = await service.issue();
    expect(await service.verify(c.id, undefined as unknown as string)).toBe(false);
    const dropped = await service.issue();
    await service.discard(dropped.id);
    expect(await service.verify(dropped.id, KNOWN_ANSWER)).toBe(false);
  });

  it('expires answers after the TTL (two minutes by default)', async () => {
    let now = 1_000_000;
    const store = new MemoryEphemeralStore({ now: () => now });
    const short = createCaptchaService(store, { random: alwaysFirst, ttlMs: 1000 });
    const early = await short.issue();
    const late = await short.issue();
    now += 999;
    expect(await short.verify(early.id, KNOWN_ANSWER)).toBe(true);
    now += 2;
    expect(await short.verify(late.id, KNOWN_ANSWER)).toBe(false);

    const standard = createCaptchaService(store, { random: alwaysFirst });
    const kept = await standard.issue();
    const dropped = await standard.issue();
    now += 2 * 60_000 - 1;
    expect(await standard.verify(kept.id, KNOWN_ANSWER)).toBe(true);
    now += 2;
    expect(await standard.verify(dropped.id, KNOWN_ANSWER)).toBe(false);
  });

  it('draws characters from the injected random source', async () => {
    const seen: string[] = [];
    setCaptchaAnswerObserver((_id, answer) => seen.push(answer));
    await createCaptchaService(new MemoryEphemeralStore(), { random: () => 0.999_999 }).issue();
    expect(seen[0]).toBe(CAPTCHA_ALPHABET.at(-1)!.repeat(CAPTCHA_LENGTH));
  });

  it('two services on one store are one: what one issues the other verifies, once', async () => {
    const store = new MemoryEphemeralStore();
    const kaptcha = createCaptchaService(store, { random: alwaysFirst });
    const identity = createCaptchaService(store);
    const issued = await kaptcha.issue();
    expect(await identity.verify(issued.id, KNOWN_ANSWER)).toBe(true);
    expect(await kaptcha.verify(issued.id, KNOWN_ANSWER)).toBe(false);
    const elsewhere = createCaptchaService(new MemoryEphemeralStore());
    expect(await elsewhere.verify((await kaptcha.issue()).id, KNOWN_ANSWER)).toBe(false);
  });
});
