/**
 * The gradient reversal layer of Ganin & Lempitsky (DANN): identity in the forward pass, the
 * incoming gradient multiplied by −λ in the backward pass, so that minimising the domain
 * classifier's loss through it maximises that loss for the feature extractor. Also the paper's
 * schedules for λ and the learning rate as functions of training progress p ∈ [0, 1].
 */
import * as tf from '@tensorflow/tfjs-core';
import { AdvxError } from '../core/errors.ts';

function checkLambda(lambda: number): void {
  if (!Number.isFinite(lambda) || lambda < 0) {
    throw new AdvxError(`the gradient reversal weight λ must be a finite number ≥ 0, got ${lambda}`);
  }
}

/** Identity forward; backward, the gradient times −λ (λ ≥ 0). */
export function gradientReversal<T extends tf.Tensor>(x: T, lambda = 1): T {
  checkLambda(lambda);
  const op = tf.customGrad((input) => ({
    value: tf.clone(input as tf.Tensor),
    gradFunc: (dy: tf.Tensor) => tf.mul(dy, tf.scalar(-lambda, dy.dtype)),
  }));
  return op(x) as T;
}

/** Identity forward, zero gradient backward: a value used as a constant (TF's stop_gradient). */
export function stopGradient<T extends tf.Tensor>(x: T): T {
  const op = tf.customGrad((input) => ({ value: tf.clone(input as tf.Tensor), gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy) }));
  return op(x) as T;
}

function checkProgress(p: number): void {
  if (!Number.isFinite(p) || p < 0 || p > 1) throw new AdvxError(`training progress p must be in [0, 1], got ${p}`);
}

/** λ_p = 2 / (1 + exp(−γ·p)) − 1 (γ = 10 in the paper): 0 at the start, → 1 at the end. */
export function lambdaSchedule(p: number, gamma = 10): number {
  checkProgress(p);
  if (!Number.isFinite(gamma) || gamma <= 0) throw new AdvxError(`λ schedule's γ must be positive, got ${gamma}`);
  return 2 / (1 + Math.exp(-gamma * p)) - 1;
}

/** μ_p = μ0 / (1 + α·p)^β (α = 10, β = 0.75 in the paper). */
export function lrSchedule(p: number, mu0: number, alpha = 10, beta = 0.75): number {
  checkProgress(p);
  if (!Number.isFinite(mu0) || mu0 <= 0) throw new AdvxError(`the initial learning rate must be positive, got ${mu0}`);
  return mu0 / (1 + alpha * p) ** beta;
}
