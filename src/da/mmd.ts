/**
 * Multi-kernel maximum mean discrepancy, the alignment loss of DAN (Long et al. 2015):
 *   MMD²(S, T) = E k(s, s') + E k(t, t') − 2 E k(s, t),  k = Σ_u exp(−‖a − b‖² / (2σ_u²)),
 * a sum of Gaussian kernels whose bandwidths σ_u² are the batch's mean squared distance times
 * 1/4 … 4 (a fixed family of kernels instead of DAN's learned weights). The bandwidth is computed
 * without gradient: it is a scale, not something for the extractor to inflate.
 * The biased (V-statistic) estimate over the whole batch, so it is ≥ 0.
 */
import * as tf from '@tensorflow/tfjs-core';
import { AdvxError } from '../core/errors.ts';
import { stopGradient } from './gradient-reversal.ts';

const BANDWIDTH_MULTIPLIERS = [0.25, 0.5, 1, 2, 4];

function squaredDistances(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  const aa = tf.sum(tf.square(a), 1, true);
  const bb = tf.reshape(tf.sum(tf.square(b), 1), [1, -1]);
  return tf.relu(tf.sub(tf.add(aa, bb), tf.mul(2, tf.matMul(a, b, false, true)))) as tf.Tensor2D;
}

export function mmdLoss(source: tf.Tensor2D, target: tf.Tensor2D): tf.Scalar {
  const [ns, d] = source.shape;
  const [nt, dt] = target.shape;
  if (d !== dt) throw new AdvxError(`MMD needs features of the same size, got ${d} (source) and ${dt} (target)`);
  if (ns < 1 || nt < 1) throw new AdvxError('MMD needs at least one feature per domain');
  return tf.tidy(() => {
    const all = tf.concat([source, target]) as tf.Tensor2D;
    const d2 = squaredDistances(all, all);
    const n = ns + nt;
    // A tensor, not a number read back: no device sync per step on GPU backends.
    const meanD2 = tf.maximum(tf.div(tf.sum(stopGradient(d2)), n * n - n), 1e-12);
    let kernel = tf.zerosLike(d2);
    for (const m of BANDWIDTH_MULTIPLIERS) kernel = tf.add(kernel, tf.exp(tf.div(d2, tf.mul(meanD2, -2 * m))));
    const ss = tf.mean(tf.slice(kernel, [0, 0], [ns, ns]));
    const tt = tf.mean(tf.slice(kernel, [ns, ns], [nt, nt]));
    const st = tf.mean(tf.slice(kernel, [0, ns], [ns, nt]));
    return tf.sub(tf.add(ss, tt), tf.mul(2, st)) as tf.Scalar;
  });
}
