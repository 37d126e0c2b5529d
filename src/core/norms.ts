/** Lp norms, projections and box clipping for batches of inputs (first axis = batch). */
import * as tf from '@tensorflow/tfjs-core';

export type Norm = 'linf' | 'l2';

function flat(t: tf.Tensor): tf.Tensor2D {
  return tf.reshape(t, [t.shape[0], -1]);
}

/** Per-example norm of a batch, shape [batch]. */
export function batchNorm(t: tf.Tensor, norm: Norm): tf.Tensor1D {
  return tf.tidy(() => {
    const f = flat(t);
    return (norm === 'linf' ? tf.max(tf.abs(f), 1) : tf.sqrt(tf.sum(tf.square(f), 1))) as tf.Tensor1D;
  });
}

/** Broadcasts a per-example [batch] tensor against a batch of inputs. */
export function perExample(v: tf.Tensor1D, like: tf.Tensor): tf.Tensor {
  return tf.reshape(v, [like.shape[0], ...like.shape.slice(1).map(() => 1)]);
}

/** Projects a perturbation onto the ε-ball of `norm`. */
export function projectBall(delta: tf.Tensor, norm: Norm, eps: number): tf.Tensor {
  return tf.tidy(() => {
    if (norm === 'linf') return tf.clipByValue(delta, -eps, eps);
    const n = batchNorm(delta, 'l2');
    const factor = tf.minimum(1, tf.div(eps, tf.maximum(n, 1e-12)));
    return tf.mul(delta, perExample(factor as tf.Tensor1D, delta));
  });
}

/**
 * sign(t) for every nonzero component, on any backend. TF.js's WASM Sign kernel returns 0 for
 * |t| < 1.2·10⁻⁷ (float epsilon), which would freeze pixels whose loss gradient is tiny (a
 * confident model, or an L1-normalised momentum) in every sign-gradient attack.
 */
export function exactSign(t: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.sub(tf.cast(tf.greater(t, 0), 'float32'), tf.cast(tf.less(t, 0), 'float32')));
}

/** The steepest-ascent direction of `norm` for a gradient: sign for L∞, unit L2 for L2. */
export function normalizeGradient(grad: tf.Tensor, norm: Norm): tf.Tensor {
  return tf.tidy(() => {
    if (norm === 'linf') return exactSign(grad);
    const n = batchNorm(grad, 'l2');
    return tf.div(grad, perExample(tf.maximum(n, 1e-12) as tf.Tensor1D, grad));
  });
}

export function clipToBounds(x: tf.Tensor, bounds: [number, number]): tf.Tensor {
  return tf.clipByValue(x, bounds[0], bounds[1]);
}

/**
 * The projection every projected attack makes: onto the ε-ball of `norm` around x, then into the
 * input bounds, Π_{B(x,ε) ∩ bounds}(v). For L2 the two steps in sequence are not the exact
 * projection onto the intersection, but the result is feasible, as in Madry et al. and AutoAttack.
 */
export function projectToFeasible(x: tf.Tensor, v: tf.Tensor, norm: Norm, eps: number, bounds: [number, number]): tf.Tensor {
  return tf.tidy(() => clipToBounds(tf.add(x, projectBall(tf.sub(v, x), norm, eps)), bounds));
}
