import svgCaptcha from 'svg-captcha';

/**
 * Draws a captcha answer as an SVG. svg-captcha turns each glyph into a path (no <text>), so the
 * answer cannot be read out of the markup. Its typings only declare `create()`, which picks the
 * text with Math.random; we choose the text ourselves (see service.ts) and call the renderer that
 * the package's default export is, typed here.
 */

type RenderOptions = NonNullable<Parameters<typeof svgCaptcha.create>[0]>;
const renderText = svgCaptcha as unknown as (text: string, options?: RenderOptions) => string;

export const CAPTCHA_WIDTH = 150;
export const CAPTCHA_HEIGHT = 50;

export function renderCaptchaSvg(answer: string): string {
  return renderText(answer, {
    width: CAPTCHA_WIDTH,
    height: CAPTCHA_HEIGHT,
    fontSize: 52,
    noise: 2,
    // Dark grey glyphs on a transparent ground: readable on any light page. (svg-captcha's
    // colour mode picks pale hues against a light background, which people misread.)
    color: false,
  });
}

export function svgDataUrl(svg: string): string {
  return `data:image/svg+xml;base64,${Buffer.from(svg, 'utf8').toString('base64')}`;
}
