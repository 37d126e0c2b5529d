/**
 * Expectation over Transformation (Athalye et al. 2018): PGD on the expected loss over a
 * distribution T of transformations, so the example keeps fooling the model after rotation,
 * scaling, translation, lighting changes and noise (e.g. printed and photographed):
 *   xᵏ⁺¹ = Π_{B(x,ε) ∩ bounds}( xᵏ + α · sign( (1/K) Σ_{t∼T} ∇x J(t(xᵏ), y) ) )
 * and `survival` measures the share of random transformations under which an example still fools.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../core/rng.ts';
import { AdvxError } from '../core/errors.ts';
import type { Norm } from '../core/norms.ts';
import type { Classifier } from '../models/classifier.ts';
import { applyTransforms, PRINT_TRANSFORMS, sampleTransforms, type TransformDistribution } from '../data/transforms.ts';
import { lastIterate, projectedIterates } from './projected.ts';
import { checkAttackInputs, summarize, type AttackGoal, type AttackResult, type StepProgress } from './types.ts';

/** `onStep` counts the PGD steps. */
export interface EotOptions extends StepProgress {
  eps: number;
  norm?: Norm;
  steps?: number;
  stepSize?: number;
  /** Transformations sampled per example per step (K). */
  samples?: number;
  transforms?: TransformDistribution;
  seed?: number;
}

/**
 * Expectation over Transformation (Athalye et al.): PGD on the loss averaged over `samples` random
 * transformations per step (default PRINT_TRANSFORMS: rotation, scaling, translation, lighting,
 * noise), so that the example survives them. Untargeted or targeted. `result.iterations` counts
 * gradient evaluations (steps × samples). The caller disposes `result.adversarial`.
 */
export async function eot(classifier: Classifier, x: tf.Tensor, goal: AttackGoal, o: EotOptions): Promise<AttackResult> {
  const { eps, norm = 'linf', steps = 100, samples = 16, seed = 0 } = o;
  const transforms = o.transforms ?? PRINT_TRANSFORMS;
  checkAttackInputs(classifier, x, goal, eps);
  if (!Number.isInteger(samples) || samples < 1) throw new AdvxError(`samples must be a positive integer, got ${samples}`);
  const alpha = o.stepSize ?? (2.5 * eps) / steps;
  const rng = new Rng(seed);
  const n = x.shape[0];
  const bounds = classifier.info.bounds;
  const labels = tf.tidy(() => tf.tile(goal.labels, [samples]));
  const sign = goal.targeted ? -1 : 1;
  // ∇x of the summed loss over K copies of the batch, each under its own random transformation:
  // K times the Monte Carlo estimate of ∇x E_t J(t(x), y), the same direction after normalisation.
  const gradient = (input: tf.Tensor) => {
    const params = sampleTransforms(n * samples, transforms, rng);
    return tf.grad((v: tf.Tensor) => {
      const t = applyTransforms(tf.tile(v, [samples, 1, 1, 1]), params, bounds, transforms.noise ?? 0);
      const logits = classifier.logits(t);
      return tf.mul(sign, tf.losses.softmaxCrossEntropy(tf.oneHot(labels as tf.Tensor1D, logits.shape[1]), logits, undefined, 0, tf.Reduction.SUM));
    })(input);
  };
  try {
    const adv = lastIterate(projectedIterates(classifier, x, goal, { eps, norm, steps, stepSize: alpha, gradient, onStep: o.onStep }));
    return await summarize(classifier, x, adv, goal, steps * samples);
  } finally {
    labels.dispose();
  }
}

/**
 * Per example, the share of `trials` random transformations under which `adversarial` still meets
 * the goal (misclassified, or classified as the target).
 */
export async function survival(classifier: Classifier, adversarial: tf.Tensor, goal: AttackGoal, trials = 100, transforms: TransformDistribution = PRINT_TRANSFORMS, seed = 1): Promise<number[]> {
  const rng = new Rng(seed);
  const n = adversarial.shape[0];
  const labels = await goal.labels.data();
  const hits = new Array<number>(n).fill(0);
  for (let t = 0; t < trials; t++) {
    const params = sampleTransforms(n, transforms, rng);
    const transformed = applyTransforms(adversarial, params, classifier.info.bounds, transforms.noise ?? 0);
    const pred = await classifier.predict(transformed);
    transformed.dispose();
    pred.forEach((p, i) => {
      if (goal.targeted ? p === labels[i] : p !== labels[i]) hits[i]++;
    });
  }
  return hits.map((h) => h / trials);
}
