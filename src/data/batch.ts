/** Mini-batch assembly from a dataset held as typed arrays, with optional seeded augmentation. */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../core/rng.ts';
import type { ImageDataset } from './types.ts';

/**
 * Copies the images at `indices` into one batch tensor. With `shift > 0`, each image is translated
 * by a random whole number of pixels in [-shift, shift] on both axes, filling with zeros
 * (a cheap augmentation that adds ~0.2 points of MNIST accuracy to a small CNN).
 */
export function gatherBatch(data: ImageDataset, indices: ArrayLike<number>, rng?: Rng, shift = 0): { x: tf.Tensor4D; y: tf.Tensor1D } {
  const [h, w, c] = data.shape;
  const size = h * w * c;
  const n = indices.length;
  const xs = new Float32Array(n * size);
  const ys = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const src = indices[i] * size;
    ys[i] = data.labels[indices[i]];
    if (shift > 0 && rng) {
      const dy = rng.int(2 * shift + 1) - shift;
      const dx = rng.int(2 * shift + 1) - shift;
      for (let r = 0; r < h; r++) {
        const sr = r - dy;
        if (sr < 0 || sr >= h) continue;
        const c0 = Math.max(0, dx);
        const c1 = Math.min(w, w + dx);
        xs.set(data.images.subarray(src + (sr * w + c0 - dx) * c, src + (sr * w + c1 - dx) * c), i * size + (r * w + c0) * c);
      }
    } else {
      xs.set(data.images.subarray(src, src + size), i * size);
    }
  }
  return { x: tf.tensor4d(xs, [n, h, w, c]), y: tf.tensor1d(ys, 'int32') };
}
