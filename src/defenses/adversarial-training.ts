/**
 * Adversarial training: each batch is replaced by adversarial examples against the current model
 * (or, for ensemble adversarial training, against static pre-trained models), so the network
 * learns min_θ E[max_{‖δ‖≤ε} J(x+δ, y)] (Madry et al. 2018).
 *
 *   fgsm-rs  (Wong et al. 2020, "fast is better than free"): δ ~ U(−ε, ε); δ ← Π_ε(δ + α·sign ∇J); α = 1.25ε
 *   pgd      (Madry et al. 2018): PGD with random start, k steps of α
 *   ensemble (Tramèr et al. 2018): FGSM examples from the current model or, at random, from one
 *            of the static models, which decouples the examples from the model being trained
 *
 * TRADES (trades.ts) keeps the clean batch and changes the loss instead, so it is not one of these.
 */
import * as tf from '@tensorflow/tfjs-core';
import { AdvxError } from '../core/errors.ts';
import { Rng } from '../core/rng.ts';
import { clipToBounds, exactSign } from '../core/norms.ts';
import { lossGradient } from '../attacks/types.ts';
import { pgdRun } from '../attacks/pgd.ts';
import type { Classifier } from '../models/classifier.ts';

export const ADVERSARIAL_METHODS = ['fgsm-rs', 'pgd', 'ensemble'] as const;
export type AdversarialMethod = (typeof ADVERSARIAL_METHODS)[number];

export interface AdversarialTrainingOptions {
  method: AdversarialMethod;
  eps: number;
  /** Step size (fgsm-rs default 1.25ε; pgd default 2.5ε/steps). */
  alpha?: number;
  /** PGD steps (default 7). */
  steps?: number;
  /** Static models for ensemble adversarial training. */
  staticModels?: Classifier[];
  /** Grow ε linearly from ~0 to `eps` over this many epochs (default 0: full ε from the start). */
  rampEpochs?: number;
}

/**
 * The budget at a point of training (in epochs), as a fraction of ε: linear from 0.02 to 1 over
 * `rampEpochs` (0: always 1); step sizes scale with it. Starting at ε = 0.3 from random weights
 * often leaves an MNIST network stuck at chance for epochs, hence the ramp.
 */
export function epsilonRamp(rampEpochs: number): (epochs: number) => number {
  if (!(Number.isFinite(rampEpochs) && rampEpochs >= 0)) throw new AdvxError(`the ε ramp must be a number of epochs ≥ 0, got ${rampEpochs}`);
  return (epochs) => (rampEpochs > 0 ? Math.min(1, Math.max(0.02, epochs / rampEpochs)) : 1);
}

/** Returns the `perturb` hook of fitClassifier for the chosen method. */
export function adversarialPerturbation(current: Classifier, o: AdversarialTrainingOptions): (x: tf.Tensor, y: tf.Tensor1D, seed: number, epochs: number) => tf.Tensor {
  if (!(Number.isFinite(o.eps) && o.eps > 0)) throw new AdvxError(`adversarial training needs ε > 0, got ${o.eps}`);
  if (!(ADVERSARIAL_METHODS as readonly string[]).includes(o.method)) {
    throw new AdvxError(`unknown adversarial training method "${o.method}": choose one of ${ADVERSARIAL_METHODS.join(', ')}`);
  }
  const scale = epsilonRamp(o.rampEpochs ?? 0);
  const bounds = current.info.bounds;
  if (o.method === 'pgd') {
    const steps = o.steps ?? 7;
    const alpha = o.alpha ?? (2.5 * o.eps) / steps;
    return (x, y, seed, epochs) => {
      const s = scale(epochs);
      return pgdRun(current, x, { labels: y }, { eps: s * o.eps, norm: 'linf', steps, alpha: s * alpha, randomStart: true, seed });
    };
  }
  if (o.method === 'ensemble' && !o.staticModels?.length) throw new AdvxError('ensemble adversarial training needs at least one static model');
  return (x, y, seed, epochs) =>
    tf.tidy(() => {
      const eps = scale(epochs) * o.eps;
      const alpha = (o.alpha ?? 1.25 * o.eps) * (eps / o.eps);
      if (o.method === 'ensemble') {
        // Tramèr et al.: the source of each batch's examples is drawn among current + static models.
        const models = [current, ...o.staticModels!];
        const source = models[new Rng(seed).int(models.length)];
        return clipToBounds(tf.add(x, tf.mul(eps, exactSign(lossGradient(source, x, { labels: y })))), bounds);
      }
      const delta0 = tf.randomUniform(x.shape, -eps, eps, 'float32', seed);
      const start = clipToBounds(tf.add(x, delta0), bounds);
      const step = tf.mul(alpha, exactSign(lossGradient(current, start, { labels: y })));
      const delta = tf.clipByValue(tf.sub(tf.add(start, step), x), -eps, eps);
      return clipToBounds(tf.add(x, delta), bounds);
    });
}
