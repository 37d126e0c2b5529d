/**
 * Mode coverage of a 2-D toy GAN, the protocol of the mode-collapse literature (Unrolled GAN,
 * VEEGAN, PacGAN): draw samples (2 500 in those papers), register each to its nearest mode
 * centre; a sample is high quality if it lies within 3σ of that centre; a mode is captured if at
 * least 20 of 2 500 samples (PacGAN's threshold, 0.8 %; scaled to the sample count here) are
 * high-quality samples registered to it. The mixtures are those of src/data/toy2d.ts: a ring of
 * 8 (radius 2) and a 5×5 grid at {−4, −2, 0, 2, 4}², σ = 0.02.
 */
import { AdvxError } from '../core/errors.ts';
import { gridOfGaussians, ringOfGaussians } from '../data/toy2d.ts';
import type { Rng } from '../core/rng.ts';

export const TOY_MIXTURES = ['ring', 'grid'] as const;
export type ToyMixtureName = (typeof TOY_MIXTURES)[number];

export interface ToyMixture {
  name: ToyMixtureName;
  /** modes × 2 means. */
  centers: Float32Array;
  std: number;
  /** n points, row-major n × 2, from the mixture (a fresh seed from `rng`). */
  sample(n: number, rng: Rng): Float32Array;
}

export function toyMixture(name: ToyMixtureName, std = 0.02): ToyMixture {
  const draw = name === 'ring' ? ringOfGaussians : name === 'grid' ? gridOfGaussians : undefined;
  if (!draw) throw new AdvxError(`unknown toy mixture "${String(name)}": choose one of ${TOY_MIXTURES.join(', ')}`);
  return {
    name,
    centers: draw(1, { std }).centers!,
    std,
    sample: (n, rng) => draw(n, { std, seed: rng.seed() }).points,
  };
}

/** PacGAN's "at least 20 high-quality samples of 2 500" for a mode to count as captured. */
export const CAPTURE_SHARE = 20 / 2500;

export interface ModeCoverage {
  modesCaptured: number;
  totalModes: number;
  /** Share of samples within `sigmas`·σ of their nearest mode. */
  highQualityShare: number;
  /** High-quality samples registered to each mode. */
  perMode: number[];
  /** Mean distance of a sample to its nearest mode centre. */
  meanDistance: number;
  /** High-quality samples a mode needed to count as captured. */
  minCount: number;
}

export interface CoverageOptions {
  /** Radius of a high-quality sample in σ; default 3. */
  sigmas?: number;
  /** High-quality samples a mode needs; default max(1, round(CAPTURE_SHARE · n)) — 20 for 2 500. */
  minCount?: number;
}

export function modeCoverage(samples: Float32Array, centers: Float32Array, std: number, options: CoverageOptions = {}): ModeCoverage {
  if (samples.length % 2 !== 0 || centers.length % 2 !== 0) throw new AdvxError('samples and centres must hold x, y pairs');
  const n = samples.length / 2;
  const modes = centers.length / 2;
  if (n === 0 || modes === 0) throw new AdvxError(`mode coverage needs samples and modes, got ${n} samples and ${modes} modes`);
  if (!(std > 0)) throw new AdvxError(`σ must be positive, got ${std}`);
  const radius = (options.sigmas ?? 3) * std;
  const minCount = options.minCount ?? Math.max(1, Math.round(CAPTURE_SHARE * n));
  const perMode = new Array<number>(modes).fill(0);
  let good = 0;
  let distanceSum = 0;
  for (let i = 0; i < n; i++) {
    const [x, y] = [samples[2 * i], samples[2 * i + 1]];
    let best = -1;
    let bestD2 = Infinity;
    for (let m = 0; m < modes; m++) {
      const d2 = (x - centers[2 * m]) ** 2 + (y - centers[2 * m + 1]) ** 2;
      if (d2 < bestD2) [best, bestD2] = [m, d2];
    }
    // A NaN sample has no nearest mode: it counts as far from all of them.
    const d = best < 0 ? Infinity : Math.sqrt(bestD2);
    distanceSum += d;
    if (d <= radius) {
      good++;
      perMode[best]++;
    }
  }
  return {
    modesCaptured: perMode.filter((c) => c >= minCount).length,
    totalModes: modes,
    highQualityShare: good / n,
    perMode,
    meanDistance: distanceSum / n,
    minCount,
  };
}
