/**
 * The box-constrained attack of Szegedy et al. (2014, §4.1), the first adversarial examples.
 *   minimise over η:  c · ‖η / (hi − lo)‖₂² + J(x + η, t)      subject to  x + η ∈ bounds
 *   untargeted:       c · ‖η / (hi − lo)‖₂² − J(x + η, y)
 * The paper solves it with box-constrained L-BFGS; here with projected Adam from η = 0:
 *   η ← Π_{bounds − x}(η − Adam(∇η))
 * and a line search over c for each example: a larger c weighs the perturbation more, so the
 * smallest successful perturbation sits at the largest c that still succeeds. Success at c → raise
 * c, failure → lower it (×10 / ÷10 until bracketed, then geometric bisection).
 * Each example keeps its smallest-L2 success; an example never fooled is returned unchanged.
 * J is the cross-entropy; distances are in units of the box width, so c means the same for any bounds.
 */
import * as tf from '@tensorflow/tfjs-core';
import { AdvxError } from '../core/errors.ts';
import { clipToBounds, perExample } from '../core/norms.ts';
import type { Classifier } from '../models/classifier.ts';
import { checkAttackInputs, summarize, type AttackGoal, type AttackResult, type StepProgress } from './types.ts';

/** `onStep` counts searchSteps × steps Adam iterations. */
export interface SzegedyOptions extends StepProgress {
  /** c for the first line-search step (default 0.1: on MNIST most examples succeed at it, so the search then raises c). */
  initialConst?: number;
  /** Line-search steps over c (default 6). */
  searchSteps?: number;
  /** Projected-Adam iterations per c (default 100). */
  steps?: number;
  /** Adam's step size, in input units (default 1% of the bounds' width). */
  stepSize?: number;
}

const BETA1 = 0.9;
const BETA2 = 0.999;

/**
 * Szegedy et al.'s box-constrained attack, the first adversarial examples: minimises
 * c·‖η‖₂² plus the cross-entropy toward the goal with projected Adam (the paper used L-BFGS), with
 * a line search over c per example. Each example keeps its smallest successful perturbation; one
 * never fooled comes back unchanged. Untargeted or targeted. The caller disposes `result.adversarial`.
 */
export async function szegedy(classifier: Classifier, x: tf.Tensor, goal: AttackGoal, options: SzegedyOptions = {}): Promise<AttackResult> {
  const { initialConst = 0.1, searchSteps = 6, steps = 100 } = options;
  checkAttackInputs(classifier, x, goal);
  if (!(Number.isFinite(initialConst) && initialConst > 0)) throw new AdvxError(`initial constant c must be a positive number, got ${initialConst}`);
  if (!Number.isInteger(searchSteps) || searchSteps < 1) throw new AdvxError(`searchSteps must be a positive integer, got ${searchSteps}`);
  if (!Number.isInteger(steps) || steps < 1) throw new AdvxError(`steps must be a positive integer, got ${steps}`);
  const bounds = classifier.info.bounds;
  const width = bounds[1] - bounds[0];
  const lr = options.stepSize ?? 0.01 * width;
  if (!(Number.isFinite(lr) && lr > 0)) throw new AdvxError(`step size must be a positive number, got ${lr}`);
  const n = x.shape[0];
  const sign = goal.targeted ? 1 : -1; // descend on J toward the target, ascend on J away from the label

  const c = new Float64Array(n).fill(initialConst);
  const succeededAt = new Float64Array(n); // largest c that succeeded (0: none yet)
  const failedAt = new Float64Array(n).fill(Infinity); // smallest c that failed
  let bestDist = tf.fill([n], Infinity);
  let bestAdv = tf.clone(x);
  let iterations = 0;
  for (let s = 0; s < searchSteps; s++) {
    const cT = tf.tensor1d(Float32Array.from(c));
    // The gradient's forward pass also hands out distances and logits (kept past its tidy, disposed
    // below), which saves a second forward pass per iteration.
    let seen: tf.Tensor[] = [];
    const objective = (eta: tf.Tensor) => {
      const logits = classifier.logits(tf.add(x, eta));
      const dist = tf.sum(tf.square(tf.reshape(tf.div(eta, width), [n, -1])), 1);
      const ce = tf.losses.softmaxCrossEntropy(tf.oneHot(goal.labels, logits.shape[1]), logits, undefined, 0, tf.Reduction.NONE);
      seen = [tf.keep(dist), tf.keep(logits)];
      return tf.sum(tf.add(tf.mul(cT, dist), tf.mul(sign, ce)));
    };
    let [eta, m, v] = [tf.zerosLike(x), tf.zerosLike(x), tf.zerosLike(x)];
    let succeeded = tf.zeros([n], 'bool');
    for (let t = 1; t <= steps; t++) {
      const g = tf.tidy(() => tf.valueAndGrad(objective)(eta).grad);
      const next = tf.tidy(() => {
        // Record the point η is at now (before the step): a success with a smaller distance replaces the best.
        const [dist, logits] = seen;
        const pred = tf.argMax(logits, 1);
        const ok = goal.targeted ? tf.equal(pred, goal.labels) : tf.notEqual(pred, goal.labels);
        const better = tf.logicalAnd(ok, tf.less(dist, bestDist));
        const m1 = tf.add(tf.mul(BETA1, m), tf.mul(1 - BETA1, g));
        const v1 = tf.add(tf.mul(BETA2, v), tf.mul(1 - BETA2, tf.square(g)));
        const stepSize = (lr * Math.sqrt(1 - BETA2 ** t)) / (1 - BETA1 ** t);
        const stepped = tf.sub(eta, tf.mul(stepSize, tf.div(m1, tf.add(tf.sqrt(v1), 1e-8))));
        return [
          tf.sub(clipToBounds(tf.add(x, stepped), bounds), x), // the box constraint, by projection
          m1,
          v1,
          tf.where(better, dist, bestDist),
          tf.where(perExample(better as tf.Tensor1D, x), tf.add(x, eta), bestAdv),
          tf.logicalOr(succeeded, ok),
        ];
      });
      tf.dispose([...seen, g, eta, m, v, bestDist, bestAdv, succeeded]);
      [eta, m, v, bestDist, bestAdv, succeeded] = next;
      iterations++;
      if (iterations < searchSteps * steps) options.onStep?.(iterations, searchSteps * steps);
    }
    const ok = await succeeded.data();
    tf.dispose([cT, eta, m, v, succeeded]);
    for (let i = 0; i < n; i++) {
      if (ok[i]) succeededAt[i] = Math.max(succeededAt[i], c[i]);
      else failedAt[i] = Math.min(failedAt[i], c[i]);
      if (succeededAt[i] === 0) c[i] = failedAt[i] / 10;
      else if (failedAt[i] === Infinity) c[i] = succeededAt[i] * 10;
      else c[i] = Math.sqrt(succeededAt[i] * failedAt[i]);
    }
  }
  bestDist.dispose();
  options.onStep?.(searchSteps * steps, searchSteps * steps);
  return summarize(classifier, x, bestAdv, goal, iterations);
}
