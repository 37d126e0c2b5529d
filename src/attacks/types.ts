/** What every attack takes and returns. */
import * as tf from '@tensorflow/tfjs-core';
import { AdvxError } from '../core/errors.ts';
import { batchNorm } from '../core/norms.ts';
import type { Classifier } from '../models/classifier.ts';

export interface AttackGoal {
  /** True labels (untargeted) or target labels (targeted), shape [batch]. */
  labels: tf.Tensor1D;
  targeted?: boolean;
}

export interface AttackResult {
  adversarial: tf.Tensor;
  /** Per example: the goal is met (misclassified, or classified as the target). */
  success: boolean[];
  /** Per example: the perturbation's L∞ and L2 norms. */
  linf: number[];
  l2: number[];
  /** Gradient evaluations (white-box) or model queries (black-box), per example. */
  iterations: number;
  /** Black-box attacks: model queries spent on each example (images of it the model was asked about). */
  queries?: number[];
}

/** Gradient of the attack's loss with respect to the input: ascent direction of the goal. */
export function lossGradient(classifier: Classifier, x: tf.Tensor, goal: AttackGoal): tf.Tensor {
  return tf.tidy(() => {
    const sign = goal.targeted ? -1 : 1;
    const g = tf.grad((input: tf.Tensor) => {
      const logits = classifier.logits(input);
      return tf.mul(sign, tf.losses.softmaxCrossEntropy(tf.oneHot(goal.labels, logits.shape[1]), logits, undefined, 0, tf.Reduction.SUM));
    });
    return g(x);
  });
}

/** Checks an attack's inputs against the classifier and the goal, with messages a user can act on. */
export function checkAttackInputs(classifier: Classifier, x: tf.Tensor, goal: AttackGoal, eps?: number): void {
  if (eps !== undefined && !(Number.isFinite(eps) && eps >= 0)) throw new AdvxError(`ε must be a non-negative number, got ${eps}`);
  if (goal.labels.shape[0] !== x.shape[0]) {
    throw new AdvxError(`${goal.labels.shape[0]} labels for ${x.shape[0]} inputs`);
  }
  const want = classifier.info.inputShape;
  if (x.shape.slice(1).join(',') !== want.join(',')) {
    throw new AdvxError(`inputs of shape [${x.shape.slice(1)}] do not match the model's input [${want}]`);
  }
}

/** Measures an attack's outcome; the caller keeps ownership of `x` and `adversarial`. */
export async function summarize(classifier: Classifier, x: tf.Tensor, adversarial: tf.Tensor, goal: AttackGoal, iterations: number): Promise<AttackResult> {
  const [pred, linf, l2] = tf.tidy(() => {
    const d = tf.sub(adversarial, x);
    return [tf.argMax(classifier.logits(adversarial), 1), batchNorm(d, 'linf'), batchNorm(d, 'l2')];
  });
  const [p, labels, a, b] = await Promise.all([pred.data(), goal.labels.data(), linf.data(), l2.data()]);
  tf.dispose([pred, linf, l2]);
  const success = Array.from(p, (v, i) => (goal.targeted ? v === labels[i] : v !== labels[i]));
  return { adversarial, success, linf: Array.from(a), l2: Array.from(b), iterations };
}
