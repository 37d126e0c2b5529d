/**
 * How well the domains can be told apart from a network's features: a linear domain classifier
 * (logistic regression, full-batch Adam) trained on half of the source and target features and
 * tested on the other half, and the proxy A-distance d_A = 2(1 − 2ε) from its held-out error ε
 * (Ben-David et al.; DANN §5). d_A near 0: features indistinguishable; near 2: fully separable.
 */
import * as tf from '@tensorflow/tfjs-core';
import { AdvxError } from '../core/errors.ts';
import { Rng } from '../core/rng.ts';
import { toTensors, type ImageDataset } from '../data/types.ts';

export interface DomainSeparability {
  /** Held-out accuracy of the linear domain classifier (0.5 = chance on balanced halves). */
  accuracy: number;
  /** Proxy A-distance 2(1 − 2·error), clamped to [0, 2]. */
  aDistance: number;
}

export interface SeparabilityOptions {
  seed: number;
  /** Images used from each domain (the first ones); default all of the smaller domain. */
  count?: number;
  steps?: number;
  learningRate?: number;
}

async function featuresOf(forward: (x: tf.Tensor) => tf.Tensor, ds: ImageDataset, n: number): Promise<tf.Tensor2D> {
  const parts: tf.Tensor2D[] = [];
  for (let i = 0; i < n; i += 256) {
    const idx = Array.from({ length: Math.min(256, n - i) }, (_, k) => i + k);
    const { x, y } = toTensors(ds, idx);
    parts.push(tf.tidy(() => tf.reshape(forward(x), [idx.length, -1]) as tf.Tensor2D));
    tf.dispose([x, y]);
  }
  const all = tf.concat(parts) as tf.Tensor2D;
  tf.dispose(parts);
  return all;
}

/** Trains and tests a linear domain classifier on `forward`'s features of the two domains. */
export async function domainSeparability(
  forward: (x: tf.Tensor) => tf.Tensor,
  source: ImageDataset,
  target: ImageDataset,
  options: SeparabilityOptions,
): Promise<DomainSeparability> {
  const n = options.count ?? Math.min(source.count, target.count);
  if (!Number.isInteger(n) || n < 2 || n > source.count || n > target.count) {
    throw new AdvxError(`domain separability needs 2 to ${Math.min(source.count, target.count)} images per domain, got ${n}`);
  }
  const fs = await featuresOf(forward, source, n);
  const ft = await featuresOf(forward, target, n);
  const order = new Rng(options.seed).permutation(2 * n);
  const half = n; // train on n of the 2n points, test on the other n
  const trainIdx = tf.tensor1d(order.subarray(0, half), 'int32');
  const testIdx = tf.tensor1d(order.subarray(half), 'int32');
  const all = tf.tidy(() => {
    const f = tf.concat([fs, ft]);
    // Standardise each feature, so one step size suits any extractor.
    const { mean, variance } = tf.moments(f, 0);
    return tf.div(tf.sub(f, mean), tf.add(tf.sqrt(variance), 1e-6)) as tf.Tensor2D;
  });
  const labels = tf.tidy(() => tf.concat([tf.zeros([n]), tf.ones([n])]));
  const [xTrain, yTrain, xTest, yTest] = [tf.gather(all, trainIdx), tf.gather(labels, trainIdx), tf.gather(all, testIdx), tf.gather(labels, testIdx)];
  const dim = all.shape[1];
  const rng = new Rng(options.seed + 1);
  const w = tf.tidy(() => tf.variable(tf.tensor2d(Float32Array.from({ length: dim }, () => 0.01 * rng.normal()), [dim, 1])));
  const b = tf.tidy(() => tf.variable(tf.scalar(0)));
  const optimizer = tf.train.adam(options.learningRate ?? 0.05);
  for (let s = 0; s < (options.steps ?? 200); s++) {
    tf.tidy(() => {
      optimizer.minimize(() => tf.losses.sigmoidCrossEntropy(yTrain, tf.reshape(tf.add(tf.matMul(xTrain, w), b), [-1])) as tf.Scalar, false, [w, b]);
    });
  }
  const acc = tf.tidy(() => {
    const pred = tf.cast(tf.greater(tf.reshape(tf.add(tf.matMul(xTest, w), b), [-1]), 0), 'float32');
    return tf.mean(tf.cast(tf.equal(pred, yTest), 'float32'));
  });
  const accuracy = (await acc.data())[0];
  tf.dispose([fs, ft, trainIdx, testIdx, all, labels, xTrain, yTrain, xTest, yTest, w, b, acc]);
  optimizer.dispose();
  const error = 1 - accuracy;
  return { accuracy, aDistance: Math.min(2, Math.max(0, 2 * (1 - 2 * error))) };
}
