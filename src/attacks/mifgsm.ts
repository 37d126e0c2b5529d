/**
 * Momentum Iterative FGSM (Dong et al., 2018, Algorithm 1).
 *   g₀ = 0, x*₀ = x, α = ε / T
 *   gₜ₊₁ = μ · gₜ + ∇x J(x*ₜ, y) / ‖∇x J(x*ₜ, y)‖₁
 *   x*ₜ₊₁ = Π_{B(x,ε) ∩ bounds}(x*ₜ + α · sign(gₜ₊₁))      (L2: α · gₜ₊₁ / ‖gₜ₊₁‖₂)
 * Targeted: the same with −∇x J(x*ₜ, t). With μ = 0 it is I-FGSM (BIM).
 */
import * as tf from '@tensorflow/tfjs-core';
import { AdvxError } from '../core/errors.ts';
import type { Norm } from '../core/norms.ts';
import type { Classifier } from '../models/classifier.ts';
import { lastIterate, projectedIterates } from './projected.ts';
import { checkAttackInputs, summarize, type AttackGoal, type AttackResult, type StepProgress } from './types.ts';

export interface MiFgsmOptions extends StepProgress {
  eps: number;
  norm?: Norm;
  /** Iterations T (default 10, as in the paper). */
  steps?: number;
  /** Step size α (default ε/T: T steps can just reach the ball's edge). */
  stepSize?: number;
  /** Decay factor μ of the accumulated gradient (default 1.0, the paper's choice). */
  momentum?: number;
}

/**
 * MI-FGSM (Dong et al.): iterative FGSM whose steps follow an accumulated, L1-normalised gradient
 * (decay `momentum`), projected onto the ε-ball and the bounds; no random start. Untargeted or
 * targeted. The caller disposes `result.adversarial`.
 */
export async function mifgsm(classifier: Classifier, x: tf.Tensor, goal: AttackGoal, options: MiFgsmOptions): Promise<AttackResult> {
  const { eps, norm = 'linf', steps = 10, momentum = 1.0 } = options;
  checkAttackInputs(classifier, x, goal, eps);
  if (!Number.isInteger(steps) || steps < 1) throw new AdvxError(`steps must be a positive integer, got ${steps}`);
  if (!(Number.isFinite(momentum) && momentum >= 0)) throw new AdvxError(`momentum μ must be a non-negative number, got ${momentum}`);
  const alpha = options.stepSize ?? eps / steps;
  if (!(Number.isFinite(alpha) && alpha >= 0)) throw new AdvxError(`step size must be a non-negative number, got ${alpha}`);
  const adv = lastIterate(projectedIterates(classifier, x, goal, { eps, norm, steps, stepSize: alpha, momentum, onStep: options.onStep }));
  return summarize(classifier, x, adv, goal, steps);
}
