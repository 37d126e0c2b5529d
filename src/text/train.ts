/**
 * Training and accuracy for text classifiers: the classifiers' loop of src/train/fit.ts on
 * batches of token ids (no augmentation). Isomorphic.
 */
import * as tf from '@tensorflow/tfjs-core';
import { assertOption } from '../core/errors.ts';
import { trainLoop, type EpochInfo } from '../train/fit.ts';
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
  const w = classifier.window;
  const ids = encodeAll(classifier, data.texts);
  return trainLoop(classifier.model, {
    epochs: options.epochs,
    batchSize: options.batchSize ?? 32,
    learningRate: options.learningRate ?? 2e-3,
    seed: options.seed,
    onEpoch: options.onEpoch,
    part: 'text classifier',
    count: n,
    gather: (idx) => {
      const batchIds = new Int32Array(idx.length * w);
      idx.forEach((j, r) => batchIds.set(ids.subarray(j * w, (j + 1) * w), r * w));
      return { ids: batchIds, x: tf.tensor2d(batchIds, [idx.length, w], 'int32'), y: tf.tensor1d(Array.from(idx, (j) => data.labels[j]), 'int32') };
    },
    // With the batch's ids, the embedding is differentiable in its table (embed's trainIds).
    logits: (batch) => classifier.logitsFromEmbeddings(classifier.embed(batch.x as tf.Tensor2D, batch.ids), true),
  });
}

/** Fraction of texts classified as their label. */
export async function textAccuracy(classifier: TextClassifier, data: LabelledTexts): Promise<number> {
  const pred = await classifier.predict(data.texts);
  let right = 0;
  pred.forEach((p, i) => (right += p === data.labels[i] ? 1 : 0));
  return right / Math.max(1, pred.length);
}
