/**
 * 2-D toy data sets (isomorphic): two moons for domain adaptation, and the mixtures of Gaussians
 * used to measure GAN mode collapse (VEEGAN, Unrolled GAN): a ring of 8 modes of radius 2 and a
 * 5×5 grid at {-4, -2, 0, 2, 4}², both with std 0.02. The same seed gives the same points.
 */
import { AdvxError } from '../core/errors.ts';
import { Rng } from '../core/rng.ts';
import type { ImageDataset } from './types.ts';

export interface Toy2d {
  /** n*2 coordinates: x0, y0, x1, y1, ... */
  points: Float32Array;
  /** Moon (0 upper, 1 lower) or mode index per point. */
  labels: Uint8Array;
  /** modes*2 coordinates of the mixture's means (Gaussian mixtures only). */
  centers?: Float32Array;
}

function checkCount(n: number): void {
  if (!Number.isInteger(n) || n <= 0) throw new AdvxError(`number of points must be a positive integer, got ${n}`);
}

function checkNonNegative(name: string, v: number): void {
  if (!Number.isFinite(v) || v < 0) throw new AdvxError(`${name} must be a non-negative number, got ${v}`);
}

/**
 * Two interleaving half circles (as scikit-learn's make_moons, but with angles drawn uniformly):
 * moon 0 is (cos t, sin t), moon 1 is (1 - cos t, 0.5 - sin t), t in [0, π], plus Gaussian noise
 * of std `noise`. Labels alternate 0, 1, 0, 1, ... so any slice is balanced.
 */
export function twoMoons(n: number, options: { noise?: number; seed?: number } = {}): Toy2d {
  checkCount(n);
  const { noise = 0.1, seed = 0 } = options;
  checkNonNegative('noise', noise);
  const rng = new Rng(seed);
  const points = new Float32Array(n * 2);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const moon = i % 2;
    const t = Math.PI * rng.next();
    const x = moon === 0 ? Math.cos(t) : 1 - Math.cos(t);
    const y = moon === 0 ? Math.sin(t) : 0.5 - Math.sin(t);
    points[2 * i] = x + noise * rng.normal();
    points[2 * i + 1] = y + noise * rng.normal();
    labels[i] = moon;
  }
  return { points, labels };
}

function mixture(n: number, centers: Float32Array, std: number, seed: number): Toy2d {
  const modes = centers.length / 2;
  const rng = new Rng(seed);
  const points = new Float32Array(n * 2);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const m = rng.int(modes);
    points[2 * i] = centers[2 * m] + std * rng.normal();
    points[2 * i + 1] = centers[2 * m + 1] + std * rng.normal();
    labels[i] = m;
  }
  return { points, labels, centers };
}

/** `modes` Gaussians of std `std`, their means evenly spaced on a circle of `radius` (mode k at angle 2πk/modes); modes are drawn uniformly. */
export function ringOfGaussians(
  n: number,
  options: { modes?: number; radius?: number; std?: number; seed?: number } = {},
): Toy2d {
  checkCount(n);
  const { modes = 8, radius = 2, std = 0.02, seed = 0 } = options;
  if (!Number.isInteger(modes) || modes < 1 || modes > 256) throw new AdvxError(`modes must be an integer in 1..256, got ${modes}`);
  checkNonNegative('radius', radius);
  checkNonNegative('std', std);
  const centers = new Float32Array(modes * 2);
  for (let k = 0; k < modes; k++) {
    const a = (2 * Math.PI * k) / modes;
    centers[2 * k] = radius * Math.cos(a);
    centers[2 * k + 1] = radius * Math.sin(a);
  }
  return mixture(n, centers, std, seed);
}

/** side×side Gaussians of std `std` on a grid centred at the origin with `spacing` between means (5, 2 → {-4,-2,0,2,4}²); mode index = row*side + col. */
export function gridOfGaussians(
  n: number,
  options: { side?: number; spacing?: number; std?: number; seed?: number } = {},
): Toy2d {
  checkCount(n);
  const { side = 5, spacing = 2, std = 0.02, seed = 0 } = options;
  if (!Number.isInteger(side) || side < 1 || side > 16) throw new AdvxError(`side must be an integer in 1..16, got ${side}`);
  checkNonNegative('spacing', spacing);
  checkNonNegative('std', std);
  const centers = new Float32Array(side * side * 2);
  const offset = ((side - 1) * spacing) / 2;
  for (let r = 0; r < side; r++) {
    for (let c = 0; c < side; c++) {
      const k = r * side + c;
      centers[2 * k] = c * spacing - offset;
      centers[2 * k + 1] = r * spacing - offset;
    }
  }
  return mixture(n, centers, std, seed);
}

/** Points rotated counter-clockwise by `angleRad` about `center` (default the origin), as a new array. */
export function rotate(points: Float32Array, angleRad: number, center: [number, number] = [0, 0]): Float32Array {
  if (points.length % 2 !== 0) throw new AdvxError(`points must hold x, y pairs, got ${points.length} values`);
  const cos = Math.cos(angleRad);
  const sin = Math.sin(angleRad);
  const [cx, cy] = center;
  const out = new Float32Array(points.length);
  for (let i = 0; i < points.length; i += 2) {
    const x = points[i] - cx;
    const y = points[i + 1] - cy;
    out[i] = cx + cos * x - sin * y;
    out[i + 1] = cy + sin * x + cos * y;
  }
  return out;
}

/** 2-D points as an ImageDataset of 1×1×2 "images", so the image trainers take them. */
export function pointsDataset(name: string, points: Float32Array, labels: Uint8Array, classNames = ['upper', 'lower']): ImageDataset {
  return { name, images: points, labels, shape: [1, 1, 2], numClasses: classNames.length, classNames, count: labels.length };
}

/**
 * The DANN paper's toy (Ganin et al. 2016, Figure 2): n two-moons points (seed 1) as the labelled
 * source, n others (seed 2) rotated by `degrees` about (0.5, 0.25) as the target.
 */
export function rotatedMoons(degrees: number, n = 400): { source: ImageDataset; target: ImageDataset } {
  const s = twoMoons(n, { seed: 1, noise: 0.1 });
  const t = twoMoons(n, { seed: 2, noise: 0.1 });
  return {
    source: pointsDataset('moons', s.points, s.labels),
    target: pointsDataset(`moons rotated ${degrees}°`, rotate(t.points, (degrees * Math.PI) / 180, [0.5, 0.25]), t.labels),
  };
}
