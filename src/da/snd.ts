/**
 * Soft Neighbourhood Density (Saito et al., ICCV 2021): an unsupervised score for choosing a domain
 * adaptation hyper-parameter (e.g. DANN's λ) without target labels. A good adapted classifier puts
 * target images into dense clusters of confident, similar predictions. For each target image, the
 * similarity of its L2-normalised softmax output to every other image's is turned into a
 * distribution by a softmax at temperature τ (0.05 in the paper); SND is the mean entropy of those
 * distributions. Higher is better. No Node API here.
 */
import * as tf from '@tensorflow/tfjs-core';
import { assertOption } from '../core/errors.ts';
import { toTensors, type ImageDataset } from '../data/types.ts';
import type { Classifier } from '../models/classifier.ts';

export interface SndOptions {
  /** Target images used (the first ones); default min(1000, all). */
  count?: number;
  /** Default 0.05. */
  temperature?: number;
}

/** SND of an n×C matrix of class probabilities. */
export function sndFromProbabilities(probs: tf.Tensor2D, temperature = 0.05): number {
  const n = probs.shape[0];
  assertOption(n >= 2, `SND needs at least 2 images, got ${n}`);
  assertOption(temperature > 0, `the SND temperature must be positive, got ${temperature}`);
  return tf.tidy(() => {
    const unit = tf.div(probs, tf.add(tf.norm(probs, 2, 1, true), 1e-12));
    // Each image's similarity to itself would dominate its own distribution: mask it out.
    const sim = tf.sub(tf.matMul(unit, unit, false, true), tf.mul(tf.eye(n), 1e9));
    const logP = tf.logSoftmax(tf.div(sim, temperature), 1);
    const entropy = tf.neg(tf.sum(tf.mul(tf.exp(logP), logP), 1));
    return tf.mean(entropy).dataSync()[0];
  });
}

/** SND of `classifier` on the first images of the (unlabelled) target set; labels are not read. */
export async function softNeighbourhoodDensity(classifier: Classifier, target: ImageDataset, options: SndOptions = {}): Promise<number> {
  const n = Math.min(options.count ?? 1000, target.count);
  const parts: tf.Tensor2D[] = [];
  for (let i = 0; i < n; i += 256) {
    const { x, y } = toTensors(target, Array.from({ length: Math.min(256, n - i) }, (_, k) => i + k));
    parts.push(classifier.probabilities(x));
    tf.dispose([x, y]);
  }
  const probs = tf.concat(parts) as tf.Tensor2D;
  tf.dispose(parts);
  try {
    return sndFromProbabilities(probs, options.temperature);
  } finally {
    probs.dispose();
  }
}
