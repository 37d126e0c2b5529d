/**
 * A classifier's probability of one class on a regular 2-D grid: the data behind a decision
 * boundary picture of a 2-D toy (the two moons of DANN), drawn by decisionBoundarySvg.
 */
import * as tf from '@tensorflow/tfjs-core';
import { AdvxError } from '../core/errors.ts';
import type { Classifier } from '../models/classifier.ts';

export interface DecisionGrid {
  /** nx sample x-coordinates, increasing; the first and last are the bounds. */
  xs: Float32Array;
  /** ny sample y-coordinates, increasing. */
  ys: Float32Array;
  /** ny×nx probabilities, row by row: prob[iy * nx + ix] is P(class) at (xs[ix], ys[iy]). */
  prob: Float32Array;
}

export interface DecisionGridOptions {
  /** The class whose probability is returned; default 1 (P(class 1), the red side of the picture). */
  classIndex?: number;
  batchSize?: number;
}

function linspace(lo: number, hi: number, steps: number): Float32Array {
  return Float32Array.from({ length: steps }, (_, i) => lo + ((hi - lo) * i) / (steps - 1));
}

/**
 * Evaluates a classifier of 2-D inputs (input shape [2], or [1, 1, 2] as the moons toy is fed)
 * on steps (or [nx, ny]) evenly spaced points per axis over bounds [xmin, xmax, ymin, ymax].
 */
export async function decisionGrid(
  classifier: Classifier,
  bounds: [number, number, number, number],
  steps: number | [number, number],
  options: DecisionGridOptions = {},
): Promise<DecisionGrid> {
  const { classIndex = 1, batchSize = 4096 } = options;
  const shape = classifier.info.inputShape;
  if (shape.reduce((a, d) => a * d, 1) !== 2) {
    throw new AdvxError(`decisionGrid needs a classifier of 2-D points, got input shape [${shape}]`);
  }
  const [xmin, xmax, ymin, ymax] = bounds;
  if (bounds.length !== 4 || !bounds.every(Number.isFinite) || !(xmin < xmax) || !(ymin < ymax)) {
    throw new AdvxError(`decision grid bounds must be finite [xmin, xmax, ymin, ymax] with min < max, got [${bounds}]`);
  }
  const [nx, ny] = typeof steps === 'number' ? [steps, steps] : steps;
  for (const s of [nx, ny]) {
    if (!Number.isInteger(s) || s < 2 || s > 2000) throw new AdvxError(`decision grid steps must be integers in [2, 2000], got ${steps}`);
  }
  if (!Number.isInteger(classIndex) || classIndex < 0 || classIndex >= classifier.info.numClasses) {
    throw new AdvxError(`classIndex ${classIndex} is not a class of this ${classifier.info.numClasses}-class classifier`);
  }
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new AdvxError(`batch size must be a positive integer, got ${batchSize}`);

  const xs = linspace(xmin, xmax, nx);
  const ys = linspace(ymin, ymax, ny);
  const total = nx * ny;
  const prob = new Float32Array(total);
  for (let start = 0; start < total; start += batchSize) {
    const size = Math.min(batchSize, total - start);
    const coords = new Float32Array(2 * size);
    for (let k = 0; k < size; k++) {
      coords[2 * k] = xs[(start + k) % nx];
      coords[2 * k + 1] = ys[Math.floor((start + k) / nx)];
    }
    const p = tf.tidy(() => {
      const probs = classifier.probabilities(tf.tensor(coords, [size, ...shape]));
      return tf.reshape(tf.slice(probs, [0, classIndex], [size, 1]), [size]);
    });
    prob.set(await p.data(), start);
    p.dispose();
  }
  return { xs, ys, prob };
}
