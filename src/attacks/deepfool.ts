/**
 * DeepFool (Moosavi-Dezfooli et al., 2016, Algorithm 2: multi-class), untargeted.
 *   x₀ = x, r = 0.  While k̂(xᵢ) = y and i < steps:
 *     for each candidate class k ≠ y:  w′ₖ = ∇fₖ(xᵢ) − ∇f_y(xᵢ),  f′ₖ = fₖ(xᵢ) − f_y(xᵢ)
 *     l̂  = argminₖ |f′ₖ| / ‖w′ₖ‖_q                       (q: the dual norm, 2 for L2, 1 for L∞)
 *     rᵢ = (|f′_l̂| / ‖w′_l̂‖₂ + 10⁻⁴) · w′_l̂ / ‖w′_l̂‖₂     (L∞: (|f′_l̂| / ‖w′_l̂‖₁ + 10⁻⁴) · sign(w′_l̂))
 *     r += rᵢ,  xᵢ₊₁ = clip(x + (1 + overshoot) · r)
 * The candidates are the top-k classes of the clean logits (the paper's practical choice).
 * Batched: each iteration linearises only the examples still classified as y.
 */
import * as tf from '@tensorflow/tfjs-core';
import { AdvxError } from '../core/errors.ts';
import { clipToBounds, exactSign, type Norm } from '../core/norms.ts';
import type { Classifier } from '../models/classifier.ts';
import { checkAttackInputs, summarize, type AttackGoal, type AttackResult, type StepProgress } from './types.ts';

/** `onStep` counts linearisations; once every example is fooled it jumps to the end. */
export interface DeepFoolOptions extends StepProgress {
  /** L2 (the paper's main attack) or L∞ (its ℓp variant with p = ∞). Default l2. */
  norm?: Norm;
  /** Maximum iterations (default 50). */
  steps?: number;
  /** How many top classes to consider, the true one included (default 10). */
  candidates?: number;
  /** Overshoot η: the step goes (1 + η)·r, to land just past the boundary (default 0.02). */
  overshoot?: number;
}

/**
 * DeepFool (Moosavi-Dezfooli et al.): a minimal-norm attack that linearises the classifier around
 * the current point and steps to the nearest linearised boundary among the top `candidates`
 * classes, until the label changes (at most `steps` times), then overshoots a little. L2 (default)
 * or L∞; untargeted only. The caller disposes `result.adversarial`.
 */
export async function deepfool(classifier: Classifier, x: tf.Tensor, goal: AttackGoal, options: DeepFoolOptions = {}): Promise<AttackResult> {
  const { norm = 'l2', steps = 50, candidates = 10, overshoot = 0.02 } = options;
  checkAttackInputs(classifier, x, goal);
  if (goal.targeted) throw new AdvxError('DeepFool is untargeted only: it crosses the nearest decision boundary, whichever class lies beyond it');
  if (norm !== 'l2' && norm !== 'linf') throw new AdvxError(`norm must be l2 or linf, got "${norm}"`);
  if (!Number.isInteger(steps) || steps < 1) throw new AdvxError(`steps must be a positive integer, got ${steps}`);
  if (!Number.isInteger(candidates) || candidates < 2) throw new AdvxError(`candidates must be an integer ≥ 2, got ${candidates}`);
  if (!(Number.isFinite(overshoot) && overshoot >= 0)) throw new AdvxError(`overshoot must be a non-negative number, got ${overshoot}`);
  const bounds = classifier.info.bounds;
  const k = Math.min(candidates, classifier.info.numClasses);

  // For every example still classified as y, y is the top clean class, so the others are columns 1…k−1.
  const others = tf.tidy(() => tf.slice(tf.topk(classifier.logits(x), k).indices, [0, 1], [-1, k - 1]));
  const labels = await goal.labels.data();
  let r = tf.zerosLike(x);
  let adv = tf.clone(x);
  let iterations = 0;
  for (; iterations < steps; iterations++) {
    const pred = await classifier.predict(adv);
    const active: number[] = [];
    for (let i = 0; i < labels.length; i++) if (pred[i] === labels[i]) active.push(i);
    if (active.length === 0) break;
    const idx = tf.tensor1d(active, 'int32');
    const next = tf.tidy(() => {
      const ri = deepfoolStep(classifier, tf.gather(adv, idx), tf.gather(goal.labels, idx), tf.gather(others, idx), norm, bounds);
      // Examples already fooled stay where they are: the step is scattered into the active rows only.
      return tf.add(r, tf.scatterND(tf.expandDims(idx, 1), ri, x.shape));
    });
    tf.dispose([idx, r, adv]);
    r = next;
    adv = tf.tidy(() => clipToBounds(tf.add(x, tf.mul(1 + overshoot, r)), bounds));
    if (iterations + 1 < steps) options.onStep?.(iterations + 1, steps);
  }
  options.onStep?.(steps, steps);
  tf.dispose([r, others]);
  // Iterations = linearisations; each costs one backward pass over k−1 copies of the active batch.
  return summarize(classifier, x, adv, goal, iterations);
}

/** One DeepFool step rᵢ for a batch x [m, …] of true labels y [m] and candidate classes c [m, k−1]. */
function deepfoolStep(classifier: Classifier, x: tf.Tensor, y: tf.Tensor1D, c: tf.Tensor2D, norm: Norm, bounds: [number, number]): tf.Tensor {
  return tf.tidy(() => {
    const [m, nc] = c.shape;
    const numClasses = classifier.info.numClasses;
    const yHot = tf.oneHot(y, numClasses);
    // f′ₖ for all candidates, laid out [k−1, m] (candidate-major, like the tiled batch below).
    const logits = classifier.logits(x);
    const fy = tf.sum(tf.mul(logits, yHot), 1);
    const fPrime = tf.transpose(tf.sub(tf.sum(tf.mul(tf.expandDims(logits, 1), tf.oneHot(c, numClasses)), 2), tf.expandDims(fy, 1)));
    // All k−1 gradients w′ₖ in one backward pass: row j·m + b of the tiled batch is example b against candidate j.
    const tiled = tf.tile(x, [nc, ...x.shape.slice(1).map(() => 1)]);
    const diffHot = tf.sub(tf.oneHot(tf.reshape(tf.transpose(c), [-1]), numClasses), tf.tile(yHot, [nc, 1]));
    const w = tf.reshape(tf.grad((z: tf.Tensor) => tf.sum(tf.mul(classifier.logits(z), diffHot)))(tiled), [nc, m, -1]);
    const dual = (t: tf.Tensor) => (norm === 'l2' ? tf.sqrt(tf.sum(tf.square(t), -1)) : tf.sum(tf.abs(t), -1));
    const dist = tf.div(tf.abs(fPrime), tf.add(dual(w), 1e-12)); // [k−1, m]: distance to each linearised boundary
    const pick = tf.expandDims(tf.transpose(tf.oneHot(tf.argMin(dist, 0), nc)), 2); // [k−1, m, 1]
    const wBest = tf.sum(tf.mul(pick, w), 0); // [m, D]
    // 10⁻⁴ of the box width (the paper's 10⁻⁴ on [0, 1]) keeps the step from stopping on the boundary.
    const size = tf.add(tf.sum(tf.mul(tf.squeeze(pick, [2]), dist), 0), 1e-4 * (bounds[1] - bounds[0]));
    const dir = norm === 'l2' ? tf.div(wBest, tf.expandDims(tf.add(dual(wBest), 1e-12), 1)) : exactSign(wBest);
    return tf.reshape(tf.mul(tf.expandDims(size, 1), dir), x.shape);
  });
}
