import { randomInt } from 'node:crypto';
import svgCaptcha from 'svg-captcha';

/**
 * Draws a captcha answer as an SVG that a script cannot take apart. svg-captcha on its own emits
 * one <path> per glyph, in reading order once sorted by x, with the font's outline commands
 * intact: a script matched those command sequences and read 200 of 200 images. Here the glyph
 * outlines of svg-captcha's font are rotated, scaled and sheared one by one, packed so that
 * neighbours overlap, flattened into polylines with a random number of points per curve, bent by
 * a wave across the whole image, crossed by bands that cut through the glyphs, sprinkled with
 * specks, and all of it is written as ONE path whose contours are shuffled and start at random
 * points. No element, command sequence or contour order tells where a character is.
 */

export const CAPTCHA_WIDTH = 160;
export const CAPTCHA_HEIGHT = 60;

type Point = [number, number];
type Contour = Point[];

interface OutlineCommand {
  type: 'M' | 'L' | 'Q' | 'C' | 'Z';
  x?: number;
  y?: number;
  x1?: number;
  y1?: number;
  x2?: number;
  y2?: number;
}
interface Glyph {
  advanceWidth?: number;
  getPath(x: number, y: number, fontSize: number): { commands: OutlineCommand[] };
}
interface Font {
  unitsPerEm: number;
  charToGlyph(ch: string): Glyph;
}

// svg-captcha loads its bundled font (opentype.js) into its documented global options.
const font = (svgCaptcha.options as unknown as { font: Font }).font;

/** A number in [0, 1) from the crypto generator: the layout must not be predictable either. */
const defaultRandom = () => randomInt(1 << 30) / (1 << 30);

export function renderCaptchaSvg(answer: string, random: () => number = defaultRandom): string {
  const between = (lo: number, hi: number) => lo + (hi - lo) * random();
  const contours: Contour[] = [];

  // Glyphs, each transformed on its own and placed so that it overlaps its neighbours.
  const placed: Contour[][] = [];
  let cursor = 0;
  for (const ch of answer) {
    const size = between(58, 68);
    const glyph = font.charToGlyph(ch);
    const advance = ((glyph.advanceWidth ?? font.unitsPerEm / 2) * size) / font.unitsPerEm;
    const outline = flatten(glyph.getPath(0, 0, size).commands, random);
    const [cx, cy] = centre(outline);
    const angle = between(-0.4, 0.4);
    const shear = between(-0.3, 0.3);
    const sx = between(0.8, 1.15);
    const sy = between(0.85, 1.2);
    const x0 = cursor + advance / 2;
    const y0 = CAPTCHA_HEIGHT / 2 + between(-5, 5);
    const cos = Math.cos(angle);
    const sin = Math.sin(angle);
    placed.push(
      outline.map((c) =>
        c.map(([x, y]): Point => {
          const dx = (x - cx + shear * (y - cy)) * sx;
          const dy = (y - cy) * sy;
          return [x0 + dx * cos - dy * sin, y0 + dx * sin + dy * cos];
        }),
      ),
    );
    cursor += advance * between(0.68, 0.82);
  }
  // Fit the row into the image, leaving a margin.
  const all = placed.flat(2);
  const minX = Math.min(...all.map((p) => p[0]));
  const maxX = Math.max(...all.map((p) => p[0]));
  const fit = Math.min(1, (CAPTCHA_WIDTH - 16) / (maxX - minX));
  const left = (CAPTCHA_WIDTH - (maxX - minX) * fit) / 2;
  for (const glyphContours of placed)
    for (const c of glyphContours)
      contours.push(c.map(([x, y]): Point => [left + (x - minX) * fit, CAPTCHA_HEIGHT / 2 + (y - 30) * fit]));

  // Bands across the text; a band wound against a glyph's outline cuts a gap through it.
  const bands = 2 + Math.floor(random() * 2);
  for (let b = 0; b < bands; b++) contours.push(band(random, between));
  // Specks of about a stroke's size.
  const specks = 14 + Math.floor(random() * 10);
  for (let s = 0; s < specks; s++) {
    const x = between(2, CAPTCHA_WIDTH - 2);
    const y = between(2, CAPTCHA_HEIGHT - 2);
    const r = between(0.8, 2.2);
    const n = 3 + Math.floor(random() * 3);
    const a0 = between(0, Math.PI);
    contours.push(
      Array.from({ length: n }, (_, i): Point => {
        const a = a0 + (2 * Math.PI * i) / n;
        return [x + r * Math.cos(a), y + r * Math.sin(a)];
      }),
    );
  }

  // One wave bends everything, glyphs and noise alike.
  const ax = between(1.5, 3);
  const ay = between(2, 4);
  const lx = between(9, 16);
  const ly = between(20, 36);
  const px = between(0, 2 * Math.PI);
  const py = between(0, 2 * Math.PI);
  const warped = contours.map((c) =>
    c.map(([x, y]): Point => [x + ax * Math.sin(y / lx + px), y + ay * Math.sin(x / ly + py)]),
  );

  shuffle(warped, random);
  const d = warped
    .filter((c) => c.length >= 3)
    .map((c) => {
      const start = Math.floor(random() * c.length);
      const ring = [...c.slice(start), ...c.slice(0, start)];
      return `M${ring.map(([x, y]) => `${x.toFixed(1)} ${y.toFixed(1)}`).join('L')}Z`;
    })
    .join('');
  const line = (): string => {
    const y1 = between(8, CAPTCHA_HEIGHT - 8);
    const y2 = between(8, CAPTCHA_HEIGHT - 8);
    const c1 = `${between(40, 70).toFixed(1)} ${between(0, CAPTCHA_HEIGHT).toFixed(1)}`;
    const c2 = `${between(90, 120).toFixed(1)} ${between(0, CAPTCHA_HEIGHT).toFixed(1)}`;
    return `<path d="M2 ${y1.toFixed(1)}C${c1} ${c2} ${CAPTCHA_WIDTH - 2} ${y2.toFixed(1)}" stroke="#555" stroke-width="1" fill="none"/>`;
  };
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${CAPTCHA_WIDTH}" height="${CAPTCHA_HEIGHT}" ` +
    `viewBox="0 0 ${CAPTCHA_WIDTH} ${CAPTCHA_HEIGHT}"><rect width="100%" height="100%" fill="#fff"/>` +
    `<path fill="#333" d="${d}"/>${line()}</svg>`
  );
}

/** A wavy band 1.5-2.5 px thick from edge to edge, as a closed outline of random direction. */
function band(random: () => number, between: (lo: number, hi: number) => number): Contour {
  const y0 = between(CAPTCHA_HEIGHT * 0.3, CAPTCHA_HEIGHT * 0.7);
  const amp = between(4, 10);
  const wave = between(30, 70);
  const phase = between(0, 2 * Math.PI);
  const thick = between(1.5, 2.5);
  const steps = 14 + Math.floor(random() * 8);
  const top: Point[] = [];
  const bottom: Point[] = [];
  for (let i = 0; i <= steps; i++) {
    const x = (CAPTCHA_WIDTH * i) / steps;
    const y = y0 + amp * Math.sin(x / wave + phase);
    top.push([x, y - thick / 2]);
    bottom.push([x, y + thick / 2]);
  }
  const ring = [...top, ...bottom.reverse()];
  return random() < 0.5 ? ring : ring.reverse();
}

/** Outline commands to polylines; curves get a random number of points so no count is stable. */
function flatten(commands: OutlineCommand[], random: () => number): Contour[] {
  const out: Contour[] = [];
  let current: Contour = [];
  let last: Point = [0, 0];
  const steps = () => 2 + Math.floor(random() * 4);
  for (const c of commands) {
    if (c.type === 'M') {
      if (current.length) out.push(current);
      last = [c.x!, c.y!];
      current = [last];
    } else if (c.type === 'L') {
      if (random() < 0.3) current.push([(last[0] + c.x!) / 2, (last[1] + c.y!) / 2]);
      last = [c.x!, c.y!];
      current.push(last);
    } else if (c.type === 'Q' || c.type === 'C') {
      const n = steps();
      const p0 = last;
      for (let i = 1; i <= n; i++) {
        const t = i / n;
        const u = 1 - t;
        last =
          c.type === 'Q'
            ? [
                u * u * p0[0] + 2 * u * t * c.x1! + t * t * c.x!,
                u * u * p0[1] + 2 * u * t * c.y1! + t * t * c.y!,
              ]
            : [
                u ** 3 * p0[0] + 3 * u * u * t * c.x1! + 3 * u * t * t * c.x2! + t ** 3 * c.x!,
                u ** 3 * p0[1] + 3 * u * u * t * c.y1! + 3 * u * t * t * c.y2! + t ** 3 * c.y!,
              ];
        current.push(last);
      }
    } else if (c.type === 'Z') {
      if (current.length) out.push(current);
      current = [];
    }
  }
  if (current.length) out.push(current);
  return out;
}

function centre(contours: Contour[]): Point {
  const pts = contours.flat();
  const xs = pts.map((p) => p[0]);
  const ys = pts.map((p) => p[1]);
  return [(Math.min(...xs) + Math.max(...xs)) / 2, (Math.min(...ys) + Math.max(...ys)) / 2];
}

function shuffle<T>(items: T[], random: () => number): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
}

export function svgDataUrl(svg: string): string {
  return `data:image/svg+xml;base64,${Buffer.from(svg, 'utf8').toString('base64')}`;
}
