/**
 * AdaBN (Li et al. 2016): a network trained with batch normalisation is adapted to a domain by
 * re-estimating each batch-norm layer's statistics on that domain's (unlabelled) images. With
 * per-domain batch norm in DANN training the label head learns on source features normalised by
 * source statistics; at test time target images must be normalised by target statistics, which
 * the running averages (a mix of both domains) are not. Layers are recalibrated in order, each on
 * the outputs of the already recalibrated layers before it. No Node API here.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { AdvxError } from '../core/errors.ts';

const isBatchNorm = (l: tfl.layers.Layer) => l.getClassName() === 'BatchNormalization';

/** True when `model` (a Sequential) has batch-norm layers at its top level. */
export function hasBatchNorm(model: tfl.LayersModel): boolean {
  return model.layers.some(isBatchNorm);
}

/**
 * Sets the moving mean and variance of every top-level BatchNormalization layer of the sequential
 * `model` to the statistics of its inputs over `images` (exact, not a running average).
 */
export function recalibrateBatchNorm(model: tfl.LayersModel, images: tf.Tensor4D, batchSize = 256): void {
  if (!(model instanceof tfl.Sequential)) throw new AdvxError('batch-norm recalibration needs a sequential model');
  const n = images.shape[0];
  if (n < 2) throw new AdvxError(`batch-norm recalibration needs at least 2 images, got ${n}`);
  model.layers.forEach((layer, k) => {
    if (!isBatchNorm(layer)) return;
    const before = model.layers.slice(0, k);
    // Per-channel sums of x and x² over all positions of all images.
    let sum: tf.Tensor | undefined;
    let sumSq: tf.Tensor | undefined;
    let count = 0;
    for (let start = 0; start < n; start += batchSize) {
      const size = Math.min(batchSize, n - start);
      const [s, q, positions] = tf.tidy(() => {
        let x: tf.Tensor = tf.slice(images, start, size);
        for (const l of before) x = l.apply(x, { training: false }) as tf.Tensor;
        const axes = x.shape.map((_, i) => i).slice(0, -1);
        return [tf.sum(x, axes), tf.sum(tf.square(x), axes), x.size / x.shape[x.shape.length - 1]!] as const;
      });
      count += positions;
      const nextSum = sum ? tf.add(sum, s) : s;
      const nextSq = sumSq ? tf.add(sumSq, q) : q;
      if (sum) tf.dispose([sum, s, sumSq!, q]);
      sum = nextSum;
      sumSq = nextSq;
    }
    const [mean, variance] = tf.tidy(() => {
      const m = tf.div(sum!, count);
      return [m, tf.relu(tf.sub(tf.div(sumSq!, count), tf.square(m)))];
    });
    tf.dispose([sum!, sumSq!]);
    // BatchNormalization's weights: [gamma, beta] (when scaled and centred), moving mean, moving variance.
    const weights = layer.getWeights();
    layer.setWeights([...weights.slice(0, -2), mean, variance]);
    tf.dispose([mean, variance]);
  });
}
