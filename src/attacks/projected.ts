/**
 * The projected-gradient loop that PGD / BIM, MI-FGSM, EOT and the web lab share:
 *   x⁰ = x, or Π_bounds(x + δ) with δ ∼ U(−ε, ε)ⁿ (L∞) or N(0, ε²)ⁿ projected onto B(0, ε) (L2)
 *   gᵏ = ∇x J(xᵏ, y), or options.gradient(xᵏ) (EOT: the gradient over random transformations)
 *   mᵏ = μ · mᵏ⁻¹ + gᵏ / ‖gᵏ‖₁ per example, m⁻¹ = 0      (only with momentum μ: MI-FGSM, Dong et al.)
 *   xᵏ⁺¹ = Π_{B(x,ε) ∩ bounds}(xᵏ + α · dir(mᵏ or gᵏ))   dir = sign (L∞) or v/‖v‖₂ (L2)
 *
 * Ownership: each iterate xᵏ is yielded as a tensor the generator owns; it is disposed when the
 * consumer asks for the next one or stops (break, return, throw). Clone an iterate to keep it.
 */
import * as tf from '@tensorflow/tfjs-core';
import { clipToBounds, normalizeGradient, perExample, projectBall, projectToFeasible, type Norm } from '../core/norms.ts';
import type { Classifier } from '../models/classifier.ts';
import { lossGradient, type AttackGoal, type StepProgress } from './types.ts';

/** `onStep(k, steps)` after step k's iterate is computed. */
export interface ProjectedOptions extends StepProgress {
  eps: number;
  norm: Norm;
  /** Steps; the generator yields steps + 1 iterates, x⁰ … x^steps. */
  steps: number;
  /** Step size α. */
  stepSize: number;
  randomStart?: boolean;
  /** Seed of the random start. */
  seed?: number;
  /**
   * Decay μ of the accumulated gradient (MI-FGSM). Unset: plain PGD. Set, even to 0: the gradient
   * is L1-normalised per example first, so it is MI-FGSM's direction whatever μ.
   */
  momentum?: number;
  /** Replaces ∇x J(xᵏ, y): called once per step, inside a tidy that frees what it returns. */
  gradient?: (x: tf.Tensor) => tf.Tensor;
}

export function* projectedIterates(classifier: Classifier, x: tf.Tensor, goal: AttackGoal, o: ProjectedOptions): Generator<tf.Tensor, void, undefined> {
  const { eps, norm, steps, stepSize: alpha, momentum } = o;
  const bounds = classifier.info.bounds;
  const gradient = o.gradient ?? ((input: tf.Tensor) => lossGradient(classifier, input, goal));
  let adv: tf.Tensor | null = null;
  let g: tf.Tensor | null = null;
  try {
    adv = tf.tidy(() => {
      if (!o.randomStart || eps === 0) return tf.clone(x);
      const noise = norm === 'linf' ? tf.randomUniform(x.shape, -eps, eps, 'float32', o.seed) : projectBall(tf.randomNormal(x.shape, 0, eps, 'float32', o.seed), 'l2', eps);
      return clipToBounds(tf.add(x, noise), bounds);
    });
    if (momentum !== undefined) g = tf.zerosLike(x);
    yield adv;
    for (let k = 0; k < steps; k++) {
      const cur: tf.Tensor = adv;
      const gPrev: tf.Tensor | null = g;
      const [next, gNext = null] = tf.tidy((): tf.Tensor[] => {
        let dir = gradient(cur);
        if (gPrev && momentum !== undefined) {
          // L1-normalising each example's gradient makes the momentum average directions, not
          // magnitudes, and keeps one example's large gradient from drowning another's in a batch.
          const l1 = tf.sum(tf.abs(tf.reshape(dir, [dir.shape[0], -1])), 1) as tf.Tensor1D;
          dir = tf.add(tf.mul(momentum, gPrev), tf.div(dir, perExample(tf.maximum(l1, 1e-12) as tf.Tensor1D, dir)));
        }
        const v = tf.add(cur, tf.mul(alpha, normalizeGradient(dir, norm)));
        const xNext = projectToFeasible(x, v, norm, eps, bounds);
        return gPrev ? [xNext, dir] : [xNext];
      });
      [adv, g] = [next, gNext];
      cur.dispose();
      gPrev?.dispose();
      o.onStep?.(k + 1, steps);
      yield adv;
    }
  } finally {
    adv?.dispose();
    g?.dispose();
  }
}

/** Runs the iterates to the end and returns the last one, which the caller owns. */
export function lastIterate(iterates: Iterable<tf.Tensor>): tf.Tensor {
  let last: tf.Tensor | null = null;
  for (const xk of iterates) {
    last?.dispose();
    last = tf.clone(xk);
  }
  if (!last) throw new Error('no iterates');
  return last;
}
