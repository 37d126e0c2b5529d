/**
 * TRADES (Zhang, Yu, Jiao, Xing, El Ghaoui, Jordan, "Theoretically Principled Trade-off between
 * Robustness and Accuracy", ICML 2019). Robust error splits into natural error plus boundary
 * error; TRADES minimises a surrogate of each: cross-entropy on the clean input, plus β times how
 * far the prediction can be moved inside the ε-ball, measured between predictive distributions.
 *
 *   p(x) = softmax(f_θ(x))
 *   inner (L∞, label-free, model in inference mode, θ fixed):
 *     x′⁰   = Π(x + 0.001·N(0, I))
 *     x′ᵏ⁺¹ = Π(x′ᵏ + α · sign ∇_x′ KL(p(x) ‖ p(x′ᵏ)))          Π = projection onto B∞(x, ε) ∩ bounds
 *   outer (model in training mode, x′ = x′ᴷ held constant):
 *     L(θ) = CE(f_θ(x), y) + β · (1/B) Σᵢ KL(p_θ(xᵢ) ‖ p_θ(x′ᵢ)),   KL(p ‖ q) = Σ_c p_c (log p_c − log q_c)
 *
 * Unlike Madry's PGD training (adversarial-training.ts), which replaces the batch, TRADES keeps
 * the clean batch in the loss: the fitClassifier hooks are a `companion` (makes x′ before the
 * step) and a `loss` (sees x, its logits and x′). β trades clean accuracy for robustness (the
 * paper: β = 6 on MNIST and CIFAR-10; 1/β is its λ). Reference implementation: trades.py of
 * github.com/yaodongyu/TRADES; its MNIST run uses ε 0.3, α 0.01, 40 steps.
 */
import * as tf from '@tensorflow/tfjs-core';
import { AdvxError } from '../core/errors.ts';
import { normalizeGradient, projectToFeasible } from '../core/norms.ts';
import { crossEntropy, type FitOptions } from '../train/fit.ts';
import { epsilonRamp } from './adversarial-training.ts';
import type { Classifier } from '../models/classifier.ts';

/**
 * The defaults: β of the paper's MNIST and CIFAR-10 results; α of the reference's MNIST run, and its
 * 40 steps, the fewest of its settings whose path (40 × 0.01 = 0.4) can reach the ε = 0.3 surface
 * from x with room to turn (10 steps of 0.01 could not leave a 0.1-ball).
 */
export const TRADES_DEFAULTS = { beta: 6, steps: 40, alpha: 0.01 } as const;

/** The reference's random start: x + 0.001·N(0, I). At x′ = x the KL is at its minimum, where its gradient is 0. */
const START_STD = 0.001;

export interface TradesAttackOptions {
  /** L∞ budget ε. */
  eps: number;
  /** Sign-gradient steps (0: the random start only). */
  steps: number;
  /** Step size α. */
  alpha: number;
  /** Seed of the random start. */
  seed: number;
}

export interface TradesOptions {
  eps: number;
  /** Weight β > 0 of the KL term (default 6). */
  beta?: number;
  /** Steps of the inner maximisation (default 40). */
  steps?: number;
  /** Its step size α (default 0.01). */
  alpha?: number;
  /** Grow ε (and α) linearly from ~0 over this many epochs, as adversarialPerturbation does (default 0). */
  rampEpochs?: number;
}

/** KL(p ‖ q) per example, [batch], from log-probabilities [batch, classes]. */
export function klDivergence(logP: tf.Tensor2D, logQ: tf.Tensor2D): tf.Tensor1D {
  // From log-softmax rather than softmax: a confident model's small probabilities would round to
  // 0 and their logs to −∞.
  return tf.tidy(() => tf.sum(tf.mul(tf.exp(logP), tf.sub(logP, logQ)), 1) as tf.Tensor1D);
}

/**
 * The inner maximisation: x′ in B∞(x, ε) ∩ bounds with a large KL(p(x) ‖ p(x′)). It needs no
 * labels: it pushes the prediction away from the model's own on x, wherever that is. Run it with
 * the classifier in inference mode (dropout off, as the reference's model.eval()); x′ is a new
 * tensor, owned by the caller.
 */
export function tradesPerturbation(classifier: Classifier, x: tf.Tensor, o: TradesAttackOptions): tf.Tensor {
  if (!(Number.isFinite(o.eps) && o.eps >= 0)) throw new AdvxError(`TRADES needs ε ≥ 0, got ${o.eps}`);
  if (!(Number.isInteger(o.steps) && o.steps >= 0)) throw new AdvxError(`TRADES steps must be a non-negative integer, got ${o.steps}`);
  if (!(Number.isFinite(o.alpha) && o.alpha > 0)) throw new AdvxError(`the TRADES step size must be positive, got ${o.alpha}`);
  const bounds = classifier.info.bounds;
  // p(x) is the fixed reference of the whole search: one forward pass instead of one per step.
  const logP = tf.tidy(() => tf.logSoftmax(classifier.logits(x)) as tf.Tensor2D);
  const kl = tf.grad((a: tf.Tensor) => tf.sum(klDivergence(logP, tf.logSoftmax(classifier.logits(a)) as tf.Tensor2D)));
  let adv = tf.tidy(() => projectToFeasible(x, tf.add(x, tf.randomNormal(x.shape, 0, START_STD, 'float32', o.seed)), 'linf', o.eps, bounds));
  for (let k = 0; k < o.steps; k++) {
    // The sum over the batch is the reference's KLDivLoss(reduction='sum'); each example's
    // gradient is its own, and sign() makes the scale irrelevant.
    const next = tf.tidy(() => projectToFeasible(x, tf.add(adv, tf.mul(o.alpha, normalizeGradient(kl(adv), 'linf'))), 'linf', o.eps, bounds));
    adv.dispose();
    adv = next;
  }
  logP.dispose();
  return adv;
}

/**
 * The TRADES training loss CE(f(x), y) + β · mean KL(p(x) ‖ p(x′)) from the logits of the clean
 * and the perturbed batch. Both logits carry the gradient: the KL pulls p(x′) towards p(x) and
 * p(x) towards p(x′) (the reference does not detach its target either).
 */
export function tradesLoss(cleanLogits: tf.Tensor2D, adversarialLogits: tf.Tensor2D, labels: tf.Tensor1D, beta: number): tf.Scalar {
  return tf.tidy(() => {
    const robust = tf.mean(klDivergence(tf.logSoftmax(cleanLogits) as tf.Tensor2D, tf.logSoftmax(adversarialLogits) as tf.Tensor2D));
    return tf.add(crossEntropy(cleanLogits, labels), tf.mul(beta, robust)) as tf.Scalar;
  });
}

/**
 * The fitClassifier hooks of TRADES training. `current` must wrap the model being trained in
 * inference mode (as for adversarialPerturbation): the companion hook runs the inner maximisation
 * with it, outside the gradient tape, so x′ is a constant of the step; the loss hook then runs
 * the model in training mode on x′ (step.forward), as the reference's model.train() before its loss.
 */
export function tradesTraining(current: Classifier, o: TradesOptions): Required<Pick<FitOptions, 'companion' | 'loss'>> {
  const { beta = TRADES_DEFAULTS.beta, steps = TRADES_DEFAULTS.steps, alpha = TRADES_DEFAULTS.alpha } = o;
  if (!(Number.isFinite(o.eps) && o.eps > 0)) throw new AdvxError(`TRADES training needs ε > 0, got ${o.eps}`);
  if (!(Number.isFinite(beta) && beta > 0)) throw new AdvxError(`TRADES needs β > 0, got ${beta}`);
  if (!(Number.isInteger(steps) && steps >= 0)) throw new AdvxError(`TRADES steps must be a non-negative integer, got ${steps}`);
  if (!(Number.isFinite(alpha) && alpha > 0)) throw new AdvxError(`the TRADES step size must be positive, got ${alpha}`);
  const scale = epsilonRamp(o.rampEpochs ?? 0);
  return {
    companion: (x, _y, seed, epochs) => {
      const s = scale(epochs);
      return tradesPerturbation(current, x, { eps: s * o.eps, steps, alpha: s * alpha, seed });
    },
    loss: (logits, _x, y, step) => {
      if (!step.companion) throw new Error('the TRADES loss needs the companion hook (x′) of tradesTraining');
      return tradesLoss(logits, step.forward(step.companion), y, beta);
    },
  };
}
