/**
 * Restoring an optimizer's saved state (`getWeights()`) so that the steps after a resume are
 * bit-identical to those of a run that never stopped.
 *
 * `optimizer.setWeights` alone is exact for SGD, momentum, RMSProp, Adagrad and Adadelta: their
 * whole state is the iteration count and per-variable accumulators. Adam is the exception (TF.js
 * 4.22): besides its moments it keeps the running products β1^(t+1) and β2^(t+1) for the bias
 * correction, which training reaches by t float32 multiplications, while `setWeights` recomputes
 * them with one `pow`. The two differ in the last bits, and a resumed run drifts from the
 * uninterrupted one (by ~1e-7 in the weights after a few epochs, more after long runs).
 *
 * Rather than writing TF.js's private accumulators, the restore below rebuilds them the way
 * training does, through the public API: it restores the moments with an iteration count of 0
 * (so the products start at β¹, as in a fresh optimizer), then takes t steps without gradients,
 * each of which multiplies the products by β and counts one iteration, exactly as a training step
 * does. Cost: t scalar steps (tens of microseconds each), paid once per resume.
 */
import * as tf from '@tensorflow/tfjs-core';

/** What a checkpoint needs of an optimizer; a real tf.Optimizer, or several behind one façade. */
export type OptimizerState = Pick<tf.Optimizer, 'getWeights' | 'setWeights'> & { getClassName?: () => string };

/** Whether `optimizer.setWeights` loses state that `restoreOptimizerWeights` rebuilds. */
function keepsBetaPowers(optimizer: OptimizerState): optimizer is tf.Optimizer {
  return typeof optimizer.getClassName === 'function' && optimizer.getClassName() === 'Adam';
}

/**
 * Sets `optimizer`'s state to `weights` (as its `getWeights()` returned them: the iteration count
 * first), so that its next steps are those the saved optimizer would have taken. The caller keeps
 * ownership of the tensors in `weights`.
 */
export async function restoreOptimizerWeights(optimizer: OptimizerState, weights: Array<{ name: string; tensor: tf.Tensor }>): Promise<void> {
  if (!keepsBetaPowers(optimizer) || weights.length === 0) {
    await optimizer.setWeights(weights);
    return;
  }
  const steps = (await weights[0].tensor.data())[0];
  const zero = tf.scalar(0, 'int32');
  try {
    await optimizer.setWeights([{ name: weights[0].name, tensor: zero }, ...weights.slice(1)]);
  } finally {
    zero.dispose();
  }
  // An empty gradient list updates no variable but advances the β products and the count.
  for (let i = 0; i < steps; i++) optimizer.applyGradients([]);
}
