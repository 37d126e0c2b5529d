/**
 * Conditional adversarial domain adaptation (CDAN, Long et al. 2018): DANN's domain head sees
 * the multilinear map of the features f and the label head's class probabilities g,
 *   T(f, g) = g ⊗ f  (the outer product, flattened to [batch, classes · dim]),
 * so the extractor must align the two domains class by class rather than only as wholes: a
 * marginal match that puts target 3s on source 8s still lets the domain head win. As in the
 * authors' code, g is held constant in this map: the reversed gradient reaches the extractor
 * through f, and the label head learns from the source labels alone. No Node API here.
 */
import * as tf from '@tensorflow/tfjs-core';
import { stopGradient } from './gradient-reversal.ts';

/** g ⊗ f per row: [batch, dim] features and [batch, classes] logits → [batch, classes · dim]. */
export function multilinearMap(features: tf.Tensor2D, logits: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const [n, dim] = features.shape;
    const g = stopGradient(tf.softmax(logits)) as tf.Tensor2D;
    return tf.reshape(tf.mul(tf.expandDims(g, 2), tf.expandDims(features, 1)), [n, g.shape[1] * dim]) as tf.Tensor2D;
  });
}
