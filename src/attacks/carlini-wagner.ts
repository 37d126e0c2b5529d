/**
 * Carlini & Wagner L2 (2017), with the f₆ objective.
 *   x′(w) = lo + (hi − lo) · (tanh(w) + 1) / 2        change of variables: x′ is always inside the bounds
 *   minimise over w:  ‖(x′ − x) / (hi − lo)‖₂² + c · f(x′)
 *   f(x′) = max(Z_y − max_{i≠y} Z_i, −κ)               untargeted (Z: logits, y: true label)
 *   f(x′) = max(max_{i≠t} Z_i − Z_t, −κ)               targeted (t: target)
 * Adam on w from x′ = x. Around it, a binary search over c for each example: after a success c
 * bisects downwards, after a failure it bisects upwards (×10 while no success bounds it).
 * Each example keeps its smallest-L2 success; an example never fooled is returned unchanged.
 * The distance is measured in units of the box width, so c means the same for [0,1] or [0,255].
 */
import * as tf from '@tensorflow/tfjs-core';
import { AdvxError } from '../core/errors.ts';
import { perExample } from '../core/norms.ts';
import type { Classifier } from '../models/classifier.ts';
import { checkAttackInputs, summarize, type AttackGoal, type AttackResult, type StepProgress } from './types.ts';

/** `onStep` counts binarySteps × steps Adam iterations; an early abort skips to the next binary step's. */
export interface CarliniWagnerOptions extends StepProgress {
  /** κ: how far past the boundary the logit margin must go (default 0). */
  confidence?: number;
  /** c at the first binary step (default 1: succeeds on MNIST in the first step, then shrinks). */
  initialConst?: number;
  /** Binary search steps over c (default 9, as in the paper). */
  binarySteps?: number;
  /** Adam iterations per binary step (default 100; the paper allows up to 10,000). */
  steps?: number;
  /**
   * Adam's learning rate on w (default 0.1). A pixel on the bounds (MNIST's background) starts at
   * |w| ≈ 7, where tanh is flat, and Adam moves w by about the learning rate per step, so it can only
   * use such pixels if learningRate · steps ≳ 10. The paper's 0.01 assumes thousands of iterations:
   * on an MNIST MLP with 5 binary steps × 50 iterations it fooled 19% of the examples, 0.1 all of them.
   */
  learningRate?: number;
  /** Stop a binary step when the loss has not fallen over a tenth of its iterations (default true). */
  abortEarly?: boolean;
}

const BETA1 = 0.9;
const BETA2 = 0.999;
/** c above this counts as "no success has bounded c from above yet". */
const NO_UPPER = 1e10;

/**
 * Carlini & Wagner's L2 attack: Adam on a tanh change of variables (so every iterate lies within
 * the bounds) minimising the squared L2 distance plus c times a logit-margin loss, with a binary
 * search over c per example. Each example keeps its smallest successful perturbation; one never
 * fooled comes back unchanged. Untargeted or targeted. The caller disposes `result.adversarial`.
 */
export async function carliniWagnerL2(classifier: Classifier, x: tf.Tensor, goal: AttackGoal, options: CarliniWagnerOptions = {}): Promise<AttackResult> {
  const { confidence = 0, initialConst = 1, binarySteps = 9, steps = 100, learningRate = 0.1, abortEarly = true } = options;
  checkAttackInputs(classifier, x, goal);
  if (!(Number.isFinite(confidence) && confidence >= 0)) throw new AdvxError(`confidence κ must be a non-negative number, got ${confidence}`);
  if (!(Number.isFinite(initialConst) && initialConst > 0)) throw new AdvxError(`initial constant c must be a positive number, got ${initialConst}`);
  if (!Number.isInteger(binarySteps) || binarySteps < 1) throw new AdvxError(`binarySteps must be a positive integer, got ${binarySteps}`);
  if (!Number.isInteger(steps) || steps < 1) throw new AdvxError(`steps must be a positive integer, got ${steps}`);
  if (!(Number.isFinite(learningRate) && learningRate > 0)) throw new AdvxError(`learning rate must be a positive number, got ${learningRate}`);
  const [lo, hi] = classifier.info.bounds;
  const n = x.shape[0];
  const sign = goal.targeted ? -1 : 1;

  const toInput = (w: tf.Tensor) => tf.add(lo, tf.mul((hi - lo) / 2, tf.add(tf.tanh(w), 1)));
  const sqDist = (adv: tf.Tensor) => tf.sum(tf.square(tf.reshape(tf.div(tf.sub(adv, x), hi - lo), [n, -1])), 1);
  /** margin = Z_y − max_{i≠y} Z_i (untargeted) or max_{i≠t} Z_i − Z_t (targeted): the goal is met when margin < −κ. */
  const margin = (logits: tf.Tensor2D) => {
    const hot = tf.oneHot(goal.labels, logits.shape[1]);
    const own = tf.sum(tf.mul(logits, hot), 1);
    const other = tf.max(tf.sub(logits, tf.mul(hot, 1e9)), 1);
    return tf.mul(sign, tf.sub(own, other));
  };

  // w₀ with x′(w₀) = x; the factor 1 − 10⁻⁶ keeps atanh finite for pixels on the bounds.
  const w0 = tf.tidy(() => tf.atanh(tf.mul(1 - 1e-6, tf.sub(tf.mul(2 / (hi - lo), tf.sub(x, lo)), 1))));
  const c = new Float64Array(n).fill(initialConst);
  const lower = new Float64Array(n);
  const upper = new Float64Array(n).fill(NO_UPPER);
  let bestDist = tf.fill([n], Infinity);
  let bestAdv = tf.clone(x);
  let iterations = 0;
  const onStep = options.onStep;
  const total = binarySteps * steps;
  for (let b = 0; b < binarySteps; b++) {
    const cT = tf.tensor1d(Float32Array.from(c));
    // The forward pass of the gradient also hands out its distances and margins (kept past its
    // tidy, disposed below), which saves a second forward pass per iteration.
    let seen: tf.Tensor[] = [];
    const objective = (w: tf.Tensor) => {
      const adv = toInput(w);
      const [dist, mg] = [sqDist(adv), margin(classifier.logits(adv))];
      seen = [tf.keep(dist), tf.keep(mg)];
      return tf.sum(tf.add(dist, tf.mul(cT, tf.maximum(mg, -confidence))));
    };
    // Every binary step restarts Adam from x′ = x, as in the paper's code.
    let [w, m, v] = [tf.clone(w0), tf.zerosLike(w0), tf.zerosLike(w0)];
    let succeeded = tf.zeros([n], 'bool');
    let previous = Infinity;
    for (let t = 1; t <= steps; t++) {
      const [loss, g] = tf.tidy(() => {
        const { value, grad } = tf.valueAndGrad(objective)(w);
        return [value, grad];
      });
      const next = tf.tidy(() => {
        // Record the iterate w is at now (before the step): a success with a smaller distance replaces the best.
        const [dist, mg] = seen;
        const ok = tf.less(mg, -confidence);
        const better = tf.logicalAnd(ok, tf.less(dist, bestDist));
        const m1 = tf.add(tf.mul(BETA1, m), tf.mul(1 - BETA1, g));
        const v1 = tf.add(tf.mul(BETA2, v), tf.mul(1 - BETA2, tf.square(g)));
        const stepSize = (learningRate * Math.sqrt(1 - BETA2 ** t)) / (1 - BETA1 ** t);
        return [
          tf.sub(w, tf.mul(stepSize, tf.div(m1, tf.add(tf.sqrt(v1), 1e-8)))),
          m1,
          v1,
          tf.where(better, dist, bestDist),
          tf.where(perExample(better as tf.Tensor1D, x), toInput(w), bestAdv),
          tf.logicalOr(succeeded, ok),
        ];
      });
      tf.dispose([...seen, g, w, m, v, bestDist, bestAdv, succeeded]);
      [w, m, v, bestDist, bestAdv, succeeded] = next;
      iterations++;
      if (t < steps) onStep?.(b * steps + t, total);
      // Early abort: the loss has stalled, more iterations at this c will not help.
      if (abortEarly && t % Math.max(1, Math.ceil(steps / 10)) === 0) {
        const now = (await loss.data())[0];
        if (now > previous * 0.9999) {
          loss.dispose();
          break;
        }
        previous = now;
      }
      loss.dispose();
    }
    const s = await succeeded.data();
    tf.dispose([cT, w, m, v, succeeded]);
    onStep?.((b + 1) * steps, total);
    for (let i = 0; i < n; i++) {
      if (s[i]) upper[i] = Math.min(upper[i], c[i]);
      else lower[i] = Math.max(lower[i], c[i]);
      c[i] = upper[i] < NO_UPPER ? (lower[i] + upper[i]) / 2 : c[i] * 10;
    }
  }
  tf.dispose([w0, bestDist]);
  return summarize(classifier, x, bestAdv, goal, iterations);
}
