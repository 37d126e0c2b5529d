/**
 * Fast Gradient Sign Method (Goodfellow et al., 2015).
 *   untargeted: x' = clip(x + ε · sign ∇x J(x, y))
 *   targeted:   x' = clip(x − ε · sign ∇x J(x, t))
 */
import * as tf from '@tensorflow/tfjs-core';
import { clipToBounds, exactSign } from '../core/norms.ts';
import type { Classifier } from '../models/classifier.ts';
import { checkAttackInputs, lossGradient, summarize, type AttackGoal, type AttackResult } from './types.ts';

export interface FgsmOptions {
  eps: number;
}

export function fgsmStep(classifier: Classifier, x: tf.Tensor, goal: AttackGoal, eps: number): tf.Tensor {
  return tf.tidy(() => clipToBounds(tf.add(x, tf.mul(eps, exactSign(lossGradient(classifier, x, goal)))), classifier.info.bounds));
}

export async function fgsm(classifier: Classifier, x: tf.Tensor, goal: AttackGoal, { eps }: FgsmOptions): Promise<AttackResult> {
  checkAttackInputs(classifier, x, goal, eps);
  return summarize(classifier, x, fgsmStep(classifier, x, goal, eps), goal, 1);
}
