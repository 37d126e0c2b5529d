/**
 * Training and accuracy for text classifiers: the image loop of src/train/fit.ts wants image
 * batches and shifts, so text gets its own small loop with the same habits (a generator per
 * epoch, Adam, a seed per dropout step, one loss read-back per epoch). Isomorphic.
 */
import * as tf from '@tensorflow/tfjs-core';
import { assertOption } from '../core/errors.ts';
import { Rng } from '../core/rng.ts';
import { createOptimizer, crossEntropy, type EpochInfo } from '../train/fit.ts';
import type { TextClassifier } from './models.ts';

export interface LabelledTexts {
  texts: string[];
  labels: ArrayLike<number>;
}

export interface TextFitOptions {
  epochs: number;
  batchSize?: number;
  learningRate?: number;
  seed: number;
  onEpoch?: (info: EpochInfo) => void | Promise<void>;
}

/** Encodes texts once: ids [n * window] (warnings of long texts are expected here and dropped). */
export function encodeAll(classifier: TextClassifier, texts: string[]): Int32Array {
  const w = classifier.window;
  const out = new Int32Array(texts.length * w);
  texts.forEach((t, i) => out.set(classifier.codec.encode(t).ids, i * w));
  return out;
}

export async function fitText(classifier: TextClassifier, data: LabelledTexts, options: TextFitOptions): Promise<EpochInfo[]> {
  const n = data.texts.length;
  assertOption(n > 0, 'the training set is empty');
  assertOption(data.labels.length === n, `${data.labels.length} labels for ${n} texts`);
  const batchSize = options.batchSize ?? 32;
  const lr = options.learningRate ?? 2e-3;
  const w = classifier.window;
  const ids = encodeAll(classifier, data.texts);
  const optimizer: tf.Optimizer = createOptimizer(lr);
  const vars = classifier.model.trainableWeights.map((v) => (v as unknown as { val: tf.Variable }).val);
  const dropouts = classifier.model.layers.filter((l) => l.getClassName() === 'Dropout') as unknown as Array<{ seed?: number }>;
  const history: EpochInfo[] = [];
  for (let epoch = 0; epoch < options.epochs; epoch++) {
    const rng = new Rng(options.seed * 1000003 + epoch);
    const order = rng.permutation(n);
    const start = performance.now();
    let lossSum = tf.scalar(0);
    let correct = tf.scalar(0);
    for (let s = 0; s < n; s += batchSize) {
      const idx = order.subarray(s, Math.min(n, s + batchSize));
      const batchIds = new Int32Array(idx.length * w);
      idx.forEach((j, r) => batchIds.set(ids.subarray(j * w, (j + 1) * w), r * w));
      for (const d of dropouts) d.seed = rng.seed();
      let hits: tf.Scalar | undefined;
      const [loss, right] = tf.tidy((): [tf.Scalar, tf.Scalar] => {
        const x = tf.tensor2d(batchIds, [idx.length, w], 'int32');
        const y = tf.tensor1d(Array.from(idx, (j) => data.labels[j]), 'int32');
        const { value, grads } = tf.variableGrads(() => {
          const logits = classifier.logitsFromEmbeddings(classifier.embed(x, batchIds), true);
          hits = tf.keep(tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), y), 'float32')) as tf.Scalar);
          return crossEntropy(logits, y);
        }, vars);
        optimizer.applyGradients(grads);
        return [tf.add(lossSum, tf.mul(value, idx.length)) as tf.Scalar, tf.add(correct, hits!) as tf.Scalar];
      });
      tf.dispose([lossSum, correct, hits!]);
      lossSum = loss;
      correct = right;
    }
    const info: EpochInfo = { epoch: epoch + 1, loss: (await lossSum.data())[0] / n, accuracy: (await correct.data())[0] / n, seconds: (performance.now() - start) / 1000, learningRate: lr };
    tf.dispose([lossSum, correct]);
    history.push(info);
    await options.onEpoch?.(info);
  }
  optimizer.dispose();
  return history;
}

/** Fraction of texts classified as their label. */
export async function textAccuracy(classifier: TextClassifier, data: LabelledTexts): Promise<number> {
  const pred = await classifier.predict(data.texts);
  let right = 0;
  pred.forEach((p, i) => (right += p === data.labels[i] ? 1 : 0));
  return right / Math.max(1, pred.length);
}
