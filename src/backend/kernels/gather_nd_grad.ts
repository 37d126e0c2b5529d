/**
 * The gradient of GatherNd with respect to params, which TF.js lacks on every backend
 * (converted detection and segmentation heads gather with it). As in TF, dy is scatter-added
 * into zeros of params' shape; here the index tuples become flat row numbers and the rows are
 * summed with UnsortedSegmentSum, which has a fast wasm kernel (unsorted_segment_sum.ts) and a
 * gradient of its own. Repeated indices add up, as they must.
 */
import * as tf from '@tensorflow/tfjs-core';

export function gatherNdGrad(dy: tf.Tensor, paramsShape: number[], indices: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const k = indices.shape[indices.rank - 1];
    const outer = paramsShape.slice(0, k);
    const inner = paramsShape.slice(k);
    const rows = indices.size / Math.max(k, 1);
    // Row-major strides of the indexed dimensions.
    const strides = outer.map((_, i) => outer.slice(i + 1).reduce((p, q) => p * q, 1));
    const flat: tf.Tensor1D = k === 0
      ? tf.zeros([rows], 'int32')
      : tf.sum(tf.mul(tf.reshape(indices, [rows, k]), tf.tensor1d(strides, 'int32')), 1);
    const innerSize = inner.reduce((p, q) => p * q, 1);
    const summed = tf.unsortedSegmentSum(tf.reshape(dy, [rows, innerSize]), flat, outer.reduce((p, q) => p * q, 1));
    return tf.reshape(summed, paramsShape);
  });
}

let registered = false;

export function registerGatherNdGradient(): void {
  if (registered || tf.getGradient(tf.GatherNd)) return;
  registered = true;
  tf.registerGradient({
    kernelName: tf.GatherNd,
    inputsToSave: ['params', 'indices'],
    gradFunc: (dy, saved) => {
      const [params, indices] = saved;
      // Integer indices have no gradient; TF.js's GatherV2 answers the same way.
      return { params: () => gatherNdGrad(dy as tf.Tensor, params.shape, indices), indices: () => indices };
    },
  });
}
