/**
 * Deep CORAL (Sun & Saenko 2016): align the second-order statistics of source and target
 * features, C the (unbiased) covariance of a batch of d-dim features; added to the source
 * cross-entropy with a weight λ, and differentiable in both batches, so the extractor learns
 * features whose covariance is the same in both domains.
 *
 * Normalisation. The paper's ℓ = ‖C_S − C_T‖²_F / (4d²) is a quarter of the mean squared entry of
 * C_S − C_T, so it scales as the fourth power of the features: with the DANN extractor's 768
 * ReLU features (mean |f| ≈ 0.1, covariance entries ≈ 1e-3) it is ≈ 3e-7 against a cross-entropy
 * of ≈ 2.3, and λ ∈ {0, 1, 10, 100} trained the same model (the paper picks λ per network so that
 * the two losses end up equal). Here the difference is measured relative to the covariances:
 *
 *   ℓ_CORAL = ‖C_S − C_T‖²_F / (‖C_S‖²_F + ‖C_T‖²_F)  ∈ [0, 2],
 *
 * zero iff the covariances are equal, unchanged when both domains' features are multiplied by
 * one factor (the extractor cannot lower it by shrinking its features, as it can the paper's),
 * but not blind to scale: C_T = k·C_S gives (1 − k)²/(1 + k²). On MNIST-RGB → MNIST-M it starts
 * near 0.5, the order of the cross-entropy, so λ = 1 is a sensible default weight. A tiny constant
 * in the denominator keeps features that are all zero (dead ReLUs) at 0 rather than NaN.
 */
import * as tf from '@tensorflow/tfjs-core';
import { AdvxError } from '../core/errors.ts';

function covariance(f: tf.Tensor2D): tf.Tensor2D {
  const n = f.shape[0];
  const centred = tf.sub(f, tf.mean(f, 0, true));
  return tf.div(tf.matMul(centred, centred, true, false), n - 1) as tf.Tensor2D;
}

export function coralLoss(source: tf.Tensor2D, target: tf.Tensor2D): tf.Scalar {
  const [ns, d] = source.shape;
  const [nt, dt] = target.shape;
  if (d !== dt) throw new AdvxError(`CORAL needs features of the same size, got ${d} (source) and ${dt} (target)`);
  if (ns < 2 || nt < 2) throw new AdvxError(`CORAL needs at least 2 features per domain for a covariance, got ${ns} and ${nt}`);
  return tf.tidy(() => {
    const [cs, ct] = [covariance(source), covariance(target)];
    const scale = tf.add(tf.add(tf.sum(tf.square(cs)), tf.sum(tf.square(ct))), 1e-20);
    return tf.div(tf.sum(tf.square(tf.sub(cs, ct))), scale) as tf.Scalar;
  });
}
