/**
 * Fast Gradient Sign Method (Goodfellow et al., 2015).
 *   untargeted: x' = clip(x + ε · sign ∇x J(x, y))
 *   targeted:   x' = clip(x − ε · sign ∇x J(x, t))
 * Under L2 it is the fast gradient method: the sign becomes ∇/‖∇‖₂, the steepest step of L2 norm ε.
 */
import * as tf from '@tensorflow/tfjs-core';
import { clipToBounds, normalizeGradient, type Norm } from '../core/norms.ts';
import type { Classifier } from '../models/classifier.ts';
import { checkAttackInputs, lossGradient, summarize, type AttackGoal, type AttackResult } from './types.ts';

export interface FgsmOptions {
  /** Size ε of the single step, in the norm `norm`. */
  eps: number;
  /** 'linf' (default: the sign of the gradient) or 'l2' (the gradient scaled to L2 norm ε). */
  norm?: Norm;
}

/** One FGSM step from `x`, clipped to the classifier's bounds; a new tensor the caller disposes. */
export function fgsmStep(classifier: Classifier, x: tf.Tensor, goal: AttackGoal, eps: number, norm: Norm = 'linf'): tf.Tensor {
  return tf.tidy(() => clipToBounds(tf.add(x, tf.mul(eps, normalizeGradient(lossGradient(classifier, x, goal), norm))), classifier.info.bounds));
}

/**
 * FGSM (Goodfellow et al.): one step of size ε along the sign (L∞) or the direction (L2) of the
 * loss gradient, clipped to the classifier's bounds. Untargeted, or targeted with `goal.targeted`
 * (the step then descends the target's loss). The caller disposes `result.adversarial`.
 */
export async function fgsm(classifier: Classifier, x: tf.Tensor, goal: AttackGoal, { eps, norm = 'linf' }: FgsmOptions): Promise<AttackResult> {
  checkAttackInputs(classifier, x, goal, eps);
  return summarize(classifier, x, fgsmStep(classifier, x, goal, eps, norm), goal, 1);
}
