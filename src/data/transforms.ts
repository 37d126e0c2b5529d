/**
 * Random physical-world transformations of image batches — rotation, scaling, translation,
 * brightness, contrast and noise — differentiable with respect to the images, for
 * Expectation over Transformation (Athalye et al. 2018) and for testing how examples survive.
 *
 * Geometry is a bilinear resampling whose source indices and weights depend only on the sampled
 * parameters, so they are computed once in JS and the pixels flow through tf.gather (which has a
 * gradient), not through an op without one.
 */
import * as tf from '@tensorflow/tfjs-core';
import { AdvxError } from '../core/errors.ts';
import type { Rng } from '../core/rng.ts';

export interface TransformDistribution {
  /** Maximum rotation, degrees (uniform in ±). */
  rotation?: number;
  /** Scale range [min, max]. */
  scale?: [number, number];
  /** Maximum translation in pixels (uniform in ± on each axis). */
  translation?: number;
  /** Maximum additive brightness change (uniform in ±), in input units. */
  brightness?: number;
  /** Contrast factor range [min, max], applied around the middle of the bounds. */
  contrast?: [number, number];
  /** Standard deviation of additive Gaussian noise. */
  noise?: number;
}

/** The default distribution: what a printed and photographed digit goes through, roughly. */
export const PRINT_TRANSFORMS: Required<TransformDistribution> = {
  rotation: 20,
  scale: [0.85, 1.15],
  translation: 2,
  brightness: 0.1,
  contrast: [0.8, 1.2],
  noise: 0.03,
};

export interface TransformParams {
  angle: number;
  scale: number;
  dx: number;
  dy: number;
  brightness: number;
  contrast: number;
  noiseSeed: number;
}

export function sampleTransforms(count: number, d: TransformDistribution, rng: Rng): TransformParams[] {
  const u = (a: number, b: number) => a + (b - a) * rng.next();
  const [s0, s1] = d.scale ?? [1, 1];
  const [c0, c1] = d.contrast ?? [1, 1];
  if (!(s0 > 0 && s1 >= s0)) throw new AdvxError(`scale range must satisfy 0 < min ≤ max, got [${s0}, ${s1}]`);
  if (!(c0 >= 0 && c1 >= c0)) throw new AdvxError(`contrast range must satisfy 0 ≤ min ≤ max, got [${c0}, ${c1}]`);
  return Array.from({ length: count }, () => ({
    angle: (u(-1, 1) * (d.rotation ?? 0) * Math.PI) / 180,
    scale: u(s0, s1),
    dx: u(-1, 1) * (d.translation ?? 0),
    dy: u(-1, 1) * (d.translation ?? 0),
    brightness: u(-1, 1) * (d.brightness ?? 0),
    contrast: u(c0, c1),
    noiseSeed: rng.seed(),
  }));
}

/**
 * Applies params[i] to image i of x ([N, H, W, C]); out-of-image samples read 0 (the background
 * of MNIST-like data). `noise` is the σ of the Gaussian noise; results are clipped to `bounds`.
 */
export function applyTransforms(x: tf.Tensor, params: TransformParams[], bounds: [number, number], noise = 0): tf.Tensor {
  const [n, h, w, c] = x.shape;
  if (params.length !== n) throw new AdvxError(`${params.length} transformations for ${n} images`);
  const size = n * h * w;
  const idx = Array.from({ length: 4 }, () => new Int32Array(size));
  const wt = Array.from({ length: 4 }, () => new Float32Array(size));
  const cy = (h - 1) / 2;
  const cx = (w - 1) / 2;
  for (let b = 0; b < n; b++) {
    const p = params[b];
    const cos = Math.cos(p.angle) / p.scale;
    const sin = Math.sin(p.angle) / p.scale;
    for (let v = 0; v < h; v++) {
      for (let u = 0; u < w; u++) {
        // Inverse map: output pixel → source position (rotate by −angle, divide by scale).
        const ou = u - cx - p.dx;
        const ov = v - cy - p.dy;
        const sx = cos * ou + sin * ov + cx;
        const sy = -sin * ou + cos * ov + cy;
        const x0 = Math.floor(sx);
        const y0 = Math.floor(sy);
        const fx = sx - x0;
        const fy = sy - y0;
        const o = (b * h + v) * w + u;
        const corners: Array<[number, number, number]> = [
          [y0, x0, (1 - fy) * (1 - fx)],
          [y0, x0 + 1, (1 - fy) * fx],
          [y0 + 1, x0, fy * (1 - fx)],
          [y0 + 1, x0 + 1, fy * fx],
        ];
        corners.forEach(([yy, xx, weight], k) => {
          const inside = yy >= 0 && yy < h && xx >= 0 && xx < w;
          idx[k][o] = inside ? (b * h + yy) * w + xx : 0;
          wt[k][o] = inside ? weight : 0;
        });
      }
    }
  }
  return tf.tidy(() => {
    let out = tf.reshape(resample(tf.reshape(x, [size, c]), idx, wt), [n, h, w, c]);
    out = tf.reshape(out, [n, h, w, c]);
    const mid = (bounds[0] + bounds[1]) / 2;
    const contrast = tf.tensor4d(params.map((p) => p.contrast), [n, 1, 1, 1]);
    const brightness = tf.tensor4d(params.map((p) => p.brightness), [n, 1, 1, 1]);
    out = tf.add(tf.add(tf.mul(tf.sub(out, mid), contrast), mid), brightness);
    if (noise > 0) out = tf.add(out, tf.randomNormal(out.shape, 0, noise, 'float32', params[0].noiseSeed));
    return tf.clipByValue(out, bounds[0], bounds[1]);
  });
}

/**
 * out[o] = Σ_k wt[k][o] · flat[idx[k][o]], with its exact transpose as the gradient. (TF.js's
 * gather gradient needs UnsortedSegmentSum, which the WASM backend lacks; the scatter-add over
 * these fixed indices is a short loop.)
 */
function resample(flat: tf.Tensor2D, idx: Int32Array[], wt: Float32Array[]): tf.Tensor2D {
  const [size, c] = flat.shape;
  const op = tf.customGrad((input) => {
    const src = input as tf.Tensor2D;
    let value: tf.Tensor = tf.zeros([size, c]);
    for (let k = 0; k < idx.length; k++) {
      value = tf.add(value, tf.mul(tf.gather(src, tf.tensor1d(idx[k], 'int32')), tf.tensor2d(wt[k], [size, 1])));
    }
    return {
      value: value as tf.Tensor2D,
      gradFunc: (dy: tf.Tensor) => {
        const g = dy.dataSync();
        const dx = new Float32Array(size * c);
        for (let k = 0; k < idx.length; k++) {
          const ik = idx[k];
          const wk = wt[k];
          for (let o = 0; o < size; o++) {
            const weight = wk[o];
            if (weight === 0) continue;
            const to = ik[o] * c;
            for (let ch = 0; ch < c; ch++) dx[to + ch] += weight * g[o * c + ch];
          }
        }
        return [tf.tensor2d(dx, [size, c])];
      },
    };
  });
  return op(flat) as tf.Tensor2D;
}
