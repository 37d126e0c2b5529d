/** What every attack takes and returns. */
import * as tf from '@tensorflow/tfjs-core';
import { AdvxError } from '../core/errors.ts';
import { batchNorm } from '../core/norms.ts';
import type { Classifier, ClassifierInfo } from '../models/classifier.ts';

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

/**
 * Progress of one attack call: `step` of `steps` done. White-box attacks count iterations (all of
 * them: PGD's restarts × steps, C&W's binary steps × Adam steps), black-box attacks the queries per
 * example (the fewest spent by an example still running; finished examples count as done).
 */
export type OnStep = (step: number, steps: number) => void;

/** The per-iteration progress callback every attack's options take. */
export interface StepProgress {
  /**
   * Called synchronously as the attack advances, with `step` non-decreasing and the last call
   * (steps, steps) when the attack returns normally; an attack that stops early (every example
   * fooled, C&W's early abort) jumps ahead. It reads no tensor and draws no random number, so
   * results are the same with or without it. Keep it cheap and do not throw from it.
   */
  onStep?: OnStep;
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

/** What the input checks need to know of a model: a Classifier's info, or a black-box model's. */
export type InputSpec = Pick<ClassifierInfo, 'inputShape' | 'numClasses' | 'bounds'>;

/**
 * Checks an attack's inputs against the classifier and the goal, with messages a user can act on.
 * Besides the shapes it reads the inputs and labels synchronously (dataSync of three reductions
 * of the batch, and the labels; about 0.3% of a PGD-10 run on 128 MNIST images): no NaN or
 * infinite pixel, every pixel within the model's bounds, every label an int32 class index.
 */
export function checkAttackInputs(classifier: Classifier, x: tf.Tensor, goal: AttackGoal, eps?: number): void {
  checkInputsAgainst(classifier.info, x, goal, eps);
}

/**
 * Slack of the bounds check, as a fraction of the bounds' width: float32 rounding (an image
 * divided by 255, a preprocessing round trip) may land an ulp or so outside; a mistake does not.
 */
const BOUNDS_SLACK = 1e-5;

/** The checks of checkAttackInputs against a model's facts; black-box attacks use them too (checkBlackBoxInputs). */
export function checkInputsAgainst(spec: InputSpec, x: tf.Tensor, goal: AttackGoal, eps?: number): void {
  if (eps !== undefined && !(Number.isFinite(eps) && eps >= 0)) throw new AdvxError(`ε must be a non-negative number, got ${eps}`);
  if (typeof x?.dataSync !== 'function') throw new AdvxError('the inputs must be a tensor [batch, ...inputShape]');
  if (x.isDisposed) throw new AdvxError('the inputs tensor has been disposed');
  const labels = goal?.labels;
  if (typeof labels?.dataSync !== 'function') throw new AdvxError('the goal needs labels: an int32 tensor [batch] of class indices');
  if (labels.isDisposed) throw new AdvxError('the labels tensor has been disposed');
  if (labels.rank !== 1) throw new AdvxError(`labels must be a 1-D tensor of class indices, got shape [${labels.shape}]`);
  if (labels.dtype !== 'int32') throw new AdvxError(`labels must be an int32 tensor of class indices, got ${labels.dtype}`);
  if (x.rank >= 1 && x.shape[0] === 0) throw new AdvxError('no inputs to attack');
  if (labels.shape[0] !== x.shape[0]) throw new AdvxError(`${labels.shape[0]} labels for ${x.shape[0]} inputs`);
  const want = spec.inputShape;
  if (x.rank !== want.length + 1 || x.shape.slice(1).join(',') !== want.join(',')) {
    throw new AdvxError(`inputs of shape [${x.shape.slice(1)}] do not match the model's input [${want}]`);
  }
  if (x.dtype !== 'float32' && x.dtype !== 'int32') throw new AdvxError(`inputs must be a float32 tensor, got ${x.dtype}`);
  checkPixels(x, spec.bounds);
  const k = spec.numClasses;
  const l = labels.dataSync() as Int32Array;
  for (let i = 0; i < l.length; i++) {
    if (!(l[i] >= 0 && l[i] < k)) throw new AdvxError(`label ${l[i]} at index ${i} is not a class of this ${k}-class model`);
  }
}

function checkPixels(x: tf.Tensor, bounds: [number, number]): void {
  // Three reductions on the backend and three numbers back, rather than the whole batch: x − x
  // is 0 for every finite value and NaN for NaN and ±Infinity, so the sum is 0 iff all are finite.
  const summary = tf.tidy(() => tf.stack([tf.min(x), tf.max(x), tf.sum(tf.sub(x, x))]));
  let [min, max, nonFinite] = summary.dataSync();
  summary.dispose();
  if (nonFinite !== 0 || !Number.isFinite(min) || !Number.isFinite(max)) {
    // Almost surely on the way to an error: count them on the host (and take min and max there,
    // should a backend's reductions have disagreed).
    const values = x.dataSync() as Float32Array;
    let bad = 0;
    [min, max] = [Infinity, -Infinity];
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (!Number.isFinite(v)) bad++;
      else [min, max] = [Math.min(min, v), Math.max(max, v)];
    }
    if (bad > 0) throw new AdvxError(`inputs contain ${bad} NaN or infinite value${bad === 1 ? '' : 's'}`);
  }
  const [lo, hi] = bounds;
  const slack = BOUNDS_SLACK * (hi - lo);
  if (min < lo - slack || max > hi + slack) {
    throw new AdvxError(`inputs range over [${short(min)}, ${short(max)}] but the model's bounds are [${short(lo)}, ${short(hi)}]: scale the inputs or declare the bounds in advx.json`);
  }
}

/** A number in a message: 6 significant digits at most. */
function short(v: number): string {
  return String(Number(v.toPrecision(6)));
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
