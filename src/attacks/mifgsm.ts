/**
 * Momentum Iterative FGSM (Dong et al., 2018, Algorithm 1).
 *   g₀ = 0, x*₀ = x, α = ε / T
 *   gₜ₊₁ = μ · gₜ + ∇x J(x*ₜ, y) / ‖∇x J(x*ₜ, y)‖₁
 *   x*ₜ₊₁ = Π_{B(x,ε) ∩ bounds}(x*ₜ + α · sign(gₜ₊₁))      (L2: α · gₜ₊₁ / ‖gₜ₊₁‖₂)
 * Targeted: the same with −∇x J(x*ₜ, t). With μ = 0 it is I-FGSM (BIM).
 */
import * as tf from '@tensorflow/tfjs-core';
import { AdvxError } from '../core/errors.ts';
import { clipToBounds, normalizeGradient, perExample, projectBall, type Norm } from '../core/norms.ts';
import type { Classifier } from '../models/classifier.ts';
import { checkAttackInputs, lossGradient, summarize, type AttackGoal, type AttackResult } from './types.ts';

export interface MiFgsmOptions {
  eps: number;
  norm?: Norm;
  /** Iterations T (default 10, as in the paper). */
  steps?: number;
  /** Step size α (default ε/T: T steps can just reach the ball's edge). */
  stepSize?: number;
  /** Decay factor μ of the accumulated gradient (default 1.0, the paper's choice). */
  momentum?: number;
}

export async function mifgsm(classifier: Classifier, x: tf.Tensor, goal: AttackGoal, options: MiFgsmOptions): Promise<AttackResult> {
  const { eps, norm = 'linf', steps = 10, momentum = 1.0 } = options;
  checkAttackInputs(classifier, x, goal, eps);
  if (!Number.isInteger(steps) || steps < 1) throw new AdvxError(`steps must be a positive integer, got ${steps}`);
  if (!(Number.isFinite(momentum) && momentum >= 0)) throw new AdvxError(`momentum μ must be a non-negative number, got ${momentum}`);
  const alpha = options.stepSize ?? eps / steps;
  if (!(Number.isFinite(alpha) && alpha >= 0)) throw new AdvxError(`step size must be a non-negative number, got ${alpha}`);
  const bounds = classifier.info.bounds;

  let adv = tf.clone(x);
  let g = tf.zerosLike(x);
  for (let t = 0; t < steps; t++) {
    const [nextG, nextAdv] = tf.tidy(() => {
      const grad = lossGradient(classifier, adv, goal);
      // L1-normalising each example's gradient makes the momentum average directions, not magnitudes.
      const l1 = tf.sum(tf.abs(tf.reshape(grad, [grad.shape[0], -1])), 1) as tf.Tensor1D;
      const gt = tf.add(tf.mul(momentum, g), tf.div(grad, perExample(tf.maximum(l1, 1e-12) as tf.Tensor1D, grad)));
      const step = tf.mul(alpha, normalizeGradient(gt, norm));
      const delta = projectBall(tf.sub(tf.add(adv, step), x), norm, eps);
      return [gt, clipToBounds(tf.add(x, delta), bounds)];
    });
    tf.dispose([g, adv]);
    [g, adv] = [nextG, nextAdv];
  }
  g.dispose();
  return summarize(classifier, x, adv, goal, steps);
}
