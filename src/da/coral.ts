/**
 * Deep CORAL (Sun & Saenko 2016): align the second-order statistics of source and target
 * features. ℓ_CORAL = ‖C_S − C_T‖²_F / (4d²), with C the (unbiased) covariance of a batch of d-dim
 * features. Differentiable in both batches, so the extractor learns features whose covariance is
 * the same in both domains; added to the source cross-entropy with a weight λ.
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
  return tf.tidy(() => tf.div(tf.sum(tf.square(tf.sub(covariance(source), covariance(target)))), 4 * d * d) as tf.Scalar);
}
