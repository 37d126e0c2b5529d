/** The DANN paper's toy: two moons as the source, the same moons rotated about (0.5, 0.25) as the target. */
import { rotate, twoMoons } from '../../src/data/toy2d.ts';
import type { ImageDataset } from '../../src/data/types.ts';

/** 2-D points as an ImageDataset of 1×1×2 "images", so the image trainers take them. */
export function points(name: string, pts: Float32Array, labels: Uint8Array): ImageDataset {
  return { name, images: pts, labels, shape: [1, 1, 2], numClasses: 2, classNames: ['upper', 'lower'], count: labels.length };
}

export function rotatedMoons(degrees: number, n = 400): { source: ImageDataset; target: ImageDataset } {
  const s = twoMoons(n, { seed: 1, noise: 0.1 });
  const t = twoMoons(n, { seed: 2, noise: 0.1 });
  return {
    source: points('moons', s.points, s.labels),
    target: points('moons-rotated', rotate(t.points, (degrees * Math.PI) / 180, [0.5, 0.25]), t.labels),
  };
}
