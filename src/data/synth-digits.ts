/**
 * Synthetic digits (isomorphic): a "Syn Numbers"-style source domain for domain adaptation, as in
 * Ganin & Lempitsky's DANN paper — digits '0'..'9' rendered in several fonts with a random
 * position, size, rotation, ink and background colours (flat or a gradient), sometimes an
 * outline, then blurred and noised. Images are 28×28×3 bytes.
 *
 * Rendering text needs a rasteriser, which the caller gives (src/node/datasets/synth-digits.ts uses resvg
 * with the DejaVu fonts). Rasterising is by far the slowest step and its cost is mostly per call,
 * so many digits go into one SVG "sheet": a grid of cells drawn at SUPERSAMPLE× size with empty
 * gutters between them (wide enough that a digit poking out of its cell never reaches the next
 * one, which is cheaper than an SVG clip per cell). Each cell is then cut out, area-averaged down
 * to 28×28, blurred and noised here in JS.
 *
 * Determinism: the labels are a seeded permutation of a balanced list, and every image's style is
 * drawn from one Rng, image after image, so the first n images do not depend on how many are made;
 * image i always sits in the same cell of the same sheet, so its pixels do not either.
 */
import { AdvxError } from '../core/errors.ts';
import { Rng } from '../core/rng.ts';

/** RGBA bytes (row-major, width*height*4) of `svg` rendered at its own size, on an opaque background. */
export type Rasterize = (svg: string, width: number, height: number) => Uint8Array;

export interface SynthFont {
  family: 'DejaVu Sans' | 'DejaVu Serif' | 'DejaVu Sans Mono';
  bold: boolean;
  /** Oblique (Sans, Mono) or italic (Serif). */
  slanted: boolean;
  /** font-stretch: condensed; DejaVu has no condensed Mono. */
  condensed: boolean;
}

/** The 20 DejaVu variants: Sans and Serif × {normal, condensed} × {regular, bold} × {upright, slanted}, Mono × 4. */
export const SYNTH_FONTS: readonly SynthFont[] = (['DejaVu Sans', 'DejaVu Serif', 'DejaVu Sans Mono'] as const).flatMap((family) =>
  (family === 'DejaVu Sans Mono' ? [false] : [false, true]).flatMap((condensed) =>
    [false, true].flatMap((bold) => [false, true].map((slanted) => ({ family, bold, slanted, condensed }))),
  ),
);

export const SYNTH_SIDE = 28;
/** Cells are drawn this many times larger, then area-averaged down (anti-aliasing beyond resvg's own). */
export const SUPERSAMPLE = 2;
/** Cells per sheet side: 16×16 = 256 digits per rasteriser call. */
export const SHEET_CELLS = 16;
/** DejaVu's digits are 0.729 em tall (1493 of 2048 units) in all three families. */
const DIGIT_EM = 0.729;

type Rgb = [number, number, number];

/** Everything random about one image; all lengths are fractions of the image side. */
export interface DigitStyle {
  label: number;
  font: number;
  /** Height of the digit. */
  height: number;
  /** Rotation in degrees. */
  angle: number;
  /** Offset of the digit's centre from the image centre. */
  dx: number;
  dy: number;
  ink: Rgb;
  /** Two equal colours for a flat background. */
  background: [Rgb, Rgb];
  /** Direction of the background gradient, in radians. */
  gradientAngle: number;
  /** An outline around the strokes (width in em), or none. */
  outline: { colour: Rgb; width: number } | undefined;
  /** Gaussian blur σ in output pixels (0: none). */
  blur: number;
  /** Standard deviation of the Gaussian pixel noise, in [0, 1] units. */
  noise: number;
  noiseSeed: number;
}

/** Luma (Rec. 601) of a colour with channels in 0..255, in [0, 1]. */
function luma(c: Rgb): number {
  return (0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]) / 255;
}

function randomColour(rng: Rng): Rgb {
  return [rng.int(256), rng.int(256), rng.int(256)];
}

/** A colour whose luma is at least MIN_CONTRAST above (side 1) or below (side -1) `ink`'s, so the digit stays readable. */
const MIN_CONTRAST = 0.3;
function contrasting(rng: Rng, ink: Rgb, side: 1 | -1): Rgb {
  for (let tries = 0; tries < 100; tries++) {
    const c = randomColour(rng);
    if (side * (luma(c) - luma(ink)) >= MIN_CONTRAST) return c;
  }
  // Only when the room on `side` is thin: the extreme colour always has the contrast.
  return side === 1 ? [255, 255, 255] : [0, 0, 0];
}

const range = (rng: Rng, lo: number, hi: number) => lo + (hi - lo) * rng.next();

export function sampleStyle(rng: Rng, label: number): DigitStyle {
  const font = rng.int(SYNTH_FONTS.length);
  const height = range(rng, 0.45, 0.85);
  const angle = range(rng, -15, 15);
  // Most of the digit stays in the image; a tall one may lose an edge, as in cropped street numbers.
  const reach = Math.max(0.03, (1 - height) / 2);
  const dx = range(rng, -reach, reach);
  const dy = range(rng, -reach, reach);
  // Ink first, then a lighter or darker background, the side drawn in proportion to the room it
  // leaves beyond the contrast (every luma leaves some on one side, since MIN_CONTRAST < 0.5).
  const ink = randomColour(rng);
  const above = Math.max(0, 1 - luma(ink) - MIN_CONTRAST);
  const below = Math.max(0, luma(ink) - MIN_CONTRAST);
  const side: 1 | -1 = rng.next() * (above + below) < above ? 1 : -1;
  const bg0 = contrasting(rng, ink, side);
  const bg1 = rng.next() < 0.5 ? contrasting(rng, ink, side) : bg0;
  const gradientAngle = range(rng, 0, 2 * Math.PI);
  const outline = rng.next() < 0.2 ? { colour: randomColour(rng), width: range(rng, 0.02, 0.06) } : undefined;
  const blur = rng.next() < 0.5 ? range(rng, 0.3, 1) : 0;
  const noise = range(rng, 0, 0.04);
  return { label, font, height, angle, dx, dy, ink, background: [bg0, bg1], gradientAngle, outline, blur, noise, noiseSeed: rng.seed() };
}

/** `count` labels, as balanced as `count` allows (0..9 cycled), in a seeded random order. */
export function balancedLabels(count: number, rng: Rng): Uint8Array {
  const order = rng.permutation(count);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) labels[i] = order[i] % 10;
  return labels;
}

export const SHEET_CELL = SYNTH_SIDE * SUPERSAMPLE;
/**
 * Cell plus gutter. The widest cases (0.85 tall, rotated 15°, outlined, at a corner of the offset
 * range, every font and digit) poke out of their cell by 7 px of 56 (measured), so two neighbours
 * need 14 px: the gutter of 21 leaves room to spare (test/node/synth-digits.test.ts checks it).
 */
export const SHEET_PITCH = SHEET_CELL + Math.round(SHEET_CELL * 0.375);
export const SHEET_SIZE = SHEET_CELLS * SHEET_PITCH;

const f = (v: number) => String(Math.round(v * 100) / 100);
const colour = (c: Rgb) => `rgb(${c[0]},${c[1]},${c[2]})`;

/** One sheet: cell k of `styles` at row ⌊k/SHEET_CELLS⌋, column k mod SHEET_CELLS. */
export function sheetSvg(styles: readonly DigitStyle[]): string {
  if (styles.length > SHEET_CELLS * SHEET_CELLS) throw new AdvxError(`a sheet holds at most ${SHEET_CELLS ** 2} digits, got ${styles.length}`);
  const defs: string[] = [];
  const body: string[] = [];
  styles.forEach((s, k) => {
    const x0 = (k % SHEET_CELLS) * SHEET_PITCH;
    const y0 = Math.floor(k / SHEET_CELLS) * SHEET_PITCH;
    let fill = colour(s.background[0]);
    if (s.background[0].join() !== s.background[1].join()) {
      const ux = Math.cos(s.gradientAngle) * SHEET_CELL / 2;
      const uy = Math.sin(s.gradientAngle) * SHEET_CELL / 2;
      const cx = x0 + SHEET_CELL / 2;
      const cy = y0 + SHEET_CELL / 2;
      defs.push(
        `<linearGradient id="g${k}" gradientUnits="userSpaceOnUse" x1="${f(cx - ux)}" y1="${f(cy - uy)}" x2="${f(cx + ux)}" y2="${f(cy + uy)}">` +
          `<stop offset="0" stop-color="${colour(s.background[0])}"/><stop offset="1" stop-color="${colour(s.background[1])}"/></linearGradient>`,
      );
      fill = `url(#g${k})`;
    }
    body.push(`<rect x="${x0}" y="${y0}" width="${SHEET_CELL}" height="${SHEET_CELL}" fill="${fill}"/>`);
    const font = SYNTH_FONTS[s.font];
    const size = (s.height * SHEET_CELL) / DIGIT_EM;
    const outline = s.outline
      ? ` stroke="${colour(s.outline.colour)}" stroke-width="${f(s.outline.width * size)}" stroke-linejoin="round" paint-order="stroke"`
      : '';
    // The digit's box is centred on the origin: anchored in the middle, baseline half a digit down.
    body.push(
      `<text transform="translate(${f(x0 + SHEET_CELL * (0.5 + s.dx))} ${f(y0 + SHEET_CELL * (0.5 + s.dy))}) rotate(${f(s.angle)})" ` +
        `x="0" y="${f((DIGIT_EM * size) / 2)}" text-anchor="middle" font-family="${font.family}" font-size="${f(size)}"` +
        `${font.bold ? ' font-weight="bold"' : ''}${font.slanted ? ` font-style="${font.family === 'DejaVu Serif' ? 'italic' : 'oblique'}"` : ''}` +
        `${font.condensed ? ' font-stretch="condensed"' : ''} fill="${colour(s.ink)}"${outline}>${s.label}</text>`,
    );
  });
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${SHEET_SIZE}" height="${SHEET_SIZE}" viewBox="0 0 ${SHEET_SIZE} ${SHEET_SIZE}">` +
    `<defs>${defs.join('')}</defs>${body.join('')}</svg>`
  );
}

/** Separable Gaussian blur of one H×W×3 float image in place (edges repeated). */
function blur(img: Float32Array, sigma: number, tmp: Float32Array): void {
  const r = Math.ceil(2.5 * sigma);
  const kernel = new Float32Array(2 * r + 1);
  let sum = 0;
  for (let i = -r; i <= r; i++) sum += kernel[i + r] = Math.exp(-(i * i) / (2 * sigma * sigma));
  for (let i = 0; i < kernel.length; i++) kernel[i] /= sum;
  const n = SYNTH_SIDE;
  const clamp = (v: number) => (v < 0 ? 0 : v >= n ? n - 1 : v);
  for (const [src, dst, horizontal] of [[img, tmp, true], [tmp, img, false]] as const) {
    for (let y = 0; y < n; y++) {
      for (let x = 0; x < n; x++) {
        for (let c = 0; c < 3; c++) {
          let acc = 0;
          for (let i = -r; i <= r; i++) {
            const p = horizontal ? y * n + clamp(x + i) : clamp(y + i) * n + x;
            acc += kernel[i + r] * src[p * 3 + c];
          }
          dst[(y * n + x) * 3 + c] = acc;
        }
      }
    }
  }
}

/** Cuts cell k from a rendered sheet, area-averages it to 28×28, blurs, noises and writes bytes to `out`. */
export function finishCell(rgba: Uint8Array, k: number, style: DigitStyle, out: Uint8Array): void {
  const n = SYNTH_SIDE;
  const s = SUPERSAMPLE;
  const x0 = (k % SHEET_CELLS) * SHEET_PITCH;
  const y0 = Math.floor(k / SHEET_CELLS) * SHEET_PITCH;
  const img = new Float32Array(n * n * 3);
  for (let y = 0; y < n; y++) {
    for (let x = 0; x < n; x++) {
      for (let dy = 0; dy < s; dy++) {
        let p = ((y0 + y * s + dy) * SHEET_SIZE + x0 + x * s) * 4;
        for (let dx = 0; dx < s; dx++, p += 4) {
          img[(y * n + x) * 3] += rgba[p];
          img[(y * n + x) * 3 + 1] += rgba[p + 1];
          img[(y * n + x) * 3 + 2] += rgba[p + 2];
        }
      }
    }
  }
  for (let i = 0; i < img.length; i++) img[i] /= s * s;
  if (style.blur > 0) blur(img, style.blur, new Float32Array(img.length));
  const rng = new Rng(style.noiseSeed);
  const noise = style.noise * 255;
  for (let i = 0; i < img.length; i++) {
    const v = Math.round(img[i] + noise * rng.normal());
    out[i] = v < 0 ? 0 : v > 255 ? 255 : v;
  }
}

export interface SynthDigitsOptions {
  /** Size of the whole split: fixes the labels' order (balanced over all `total`). */
  total: number;
  /** Images to make: the first `count` of the split (default all). */
  count?: number;
  seed: number;
  rasterize: Rasterize;
}

/** The first `count` images (count*28*28*3 bytes) and labels of a split of `total` synthetic digits. */
export function generateSynthDigits(options: SynthDigitsOptions): { images: Uint8Array; labels: Uint8Array; count: number } {
  const { total, seed, rasterize } = options;
  const count = options.count ?? total;
  if (!Number.isInteger(total) || total < 0) throw new AdvxError(`synth-digits: the split size must be a non-negative integer, got ${total}`);
  if (!Number.isInteger(count) || count < 0 || count > total) {
    throw new AdvxError(`synth-digits: count must be an integer in [0, ${total}], got ${count}`);
  }
  if (!Number.isInteger(seed)) throw new AdvxError(`synth-digits: seed must be an integer, got ${seed}`);
  const rng = new Rng(seed);
  const labels = balancedLabels(total, rng).slice(0, count);
  const size = SYNTH_SIDE * SYNTH_SIDE * 3;
  const images = new Uint8Array(count * size);
  const perSheet = SHEET_CELLS * SHEET_CELLS;
  for (let start = 0; start < count; start += perSheet) {
    const styles: DigitStyle[] = [];
    for (let i = start; i < Math.min(count, start + perSheet); i++) styles.push(sampleStyle(rng, labels[i]));
    const rgba = rasterize(sheetSvg(styles), SHEET_SIZE, SHEET_SIZE);
    if (rgba.length !== SHEET_SIZE * SHEET_SIZE * 4) throw new Error(`rasteriser returned ${rgba.length} bytes for a ${SHEET_SIZE}×${SHEET_SIZE} sheet`);
    styles.forEach((style, k) => finishCell(rgba, k, style, images.subarray((start + k) * size, (start + k + 1) * size)));
  }
  return { images, labels, count };
}
