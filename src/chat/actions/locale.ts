/**
 * Which language a prompt is answered in. The extension sends no locale: the published build's
 * code-action tooltips are Chinese and the English build's are English, and a typed question is
 * in the user's language, so the prompt text itself is the best signal.
 */

export type ActionLocale = 'zh' | 'en';

/** Han ideographs (Chinese characters; also Japanese kanji, which this product does not target). */
const HAN = /\p{Script=Han}/u;

/** `zh` when the prompt contains at least one Han character, otherwise `en` (an empty prompt too). */
export function detectLocale(prompt: string): ActionLocale {
  return HAN.test(prompt) ? 'zh' : 'en';
}
