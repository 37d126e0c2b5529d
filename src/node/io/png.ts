/** PNG output for Node (pngjs): single images and grids of images, and RGB PNGs read back. */
import { PNG } from 'pngjs';
import { AdvxError } from '../../core/errors.ts';

const COLOR_TYPE = { 1: 0, 3: 2, 4: 6 } as const; // grayscale, RGB, RGBA

/**
 * Encodes width*height*channels pixels, row-major with channels last. Uint8Array values are
 * taken as 0..255; Float32Array values as [0, 1], clamped (NaN becomes 0).
 */
export function encodePng(pixels: Float32Array | Uint8Array, width: number, height: number, channels: 1 | 3 | 4): Buffer {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new AdvxError(`PNG size must be positive integers, got ${width}×${height}`);
  }
  if (channels !== 1 && channels !== 3 && channels !== 4) {
    throw new AdvxError(`PNG channels must be 1, 3 or 4, got ${channels}`);
  }
  const n = width * height * channels;
  if (pixels.length !== n) {
    throw new AdvxError(`PNG of ${width}×${height}×${channels} needs ${n} values, got ${pixels.length}`);
  }
  const data = Buffer.alloc(n);
  if (pixels instanceof Uint8Array) {
    data.set(pixels);
  } else {
    for (let i = 0; i < n; i++) {
      const v = pixels[i];
      data[i] = v > 0 ? (v < 1 ? Math.round(v * 255) : 255) : 0;
    }
  }
  const png = new PNG({ width, height });
  png.data = data;
  const colorType = COLOR_TYPE[channels];
  return PNG.sync.write(png, { colorType, inputColorType: colorType, inputHasAlpha: channels === 4 });
}

/** An RGB PNG (8-bit, alpha dropped) as [0, 1] floats: what encodePng wrote, back. */
export function decodePng(png: Buffer): { pixels: Float32Array; width: number; height: number } {
  const { data, width, height } = PNG.sync.read(png);
  const pixels = new Float32Array(width * height * 3);
  for (let i = 0; i < width * height; i++) for (let ch = 0; ch < 3; ch++) pixels[i * 3 + ch] = data[i * 4 + ch] / 255;
  return { pixels, width, height };
}

export interface ImageGrid {
  pixels: Float32Array;
  width: number;
  height: number;
  channels: number;
}

/**
 * Tiles the first `count` images of `images` (each h*w*c, values in [0, 1]) into a grid of `cols`
 * columns (fewer if count < cols), with `pad` pixels of `padValue` around and between them.
 */
export function imageGrid(
  images: Float32Array,
  count: number,
  h: number,
  w: number,
  c: number,
  cols: number,
  pad = 1,
  padValue = 1,
): ImageGrid {
  for (const [k, v] of Object.entries({ count, h, w, c, cols })) {
    if (!Number.isInteger(v) || v <= 0) throw new AdvxError(`imageGrid: ${k} must be a positive integer, got ${v}`);
  }
  if (!Number.isInteger(pad) || pad < 0) throw new AdvxError(`imageGrid: pad must be a non-negative integer, got ${pad}`);
  const size = h * w * c;
  if (images.length < count * size) {
    throw new AdvxError(`imageGrid: ${count} images of ${h}×${w}×${c} need ${count * size} values, got ${images.length}`);
  }
  const nc = Math.min(cols, count);
  const nr = Math.ceil(count / nc);
  const width = nc * (w + pad) + pad;
  const height = nr * (h + pad) + pad;
  const pixels = new Float32Array(width * height * c).fill(padValue);
  for (let k = 0; k < count; k++) {
    const x0 = pad + (k % nc) * (w + pad);
    const y0 = pad + Math.floor(k / nc) * (h + pad);
    for (let y = 0; y < h; y++) {
      const src = k * size + y * w * c;
      pixels.set(images.subarray(src, src + w * c), ((y0 + y) * width + x0) * c);
    }
  }
  return { pixels, width, height, channels: c };
}
