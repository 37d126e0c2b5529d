/** Clean accuracy of a classifier on a dataset, in batches. */
import * as tf from '@tensorflow/tfjs-core';
import type { Classifier } from '../models/classifier.ts';
import type { DecisionModel } from '../attacks/blackbox.ts';
import type { ImageDataset } from '../data/types.ts';
import { gatherBatch } from '../data/batch.ts';

/** Share of `data` the classifier labels correctly, computed in batches of `batchSize`. */
export async function accuracy(classifier: Classifier, data: ImageDataset, batchSize = 1000): Promise<number> {
  let correct = 0;
  for (let start = 0; start < data.count; start += batchSize) {
    const idx = Array.from({ length: Math.min(batchSize, data.count - start) }, (_, i) => start + i);
    const { x, y } = gatherBatch(data, idx);
    const hits = tf.tidy(() => tf.sum(tf.cast(tf.equal(tf.argMax(classifier.logits(x), 1), y), 'int32')));
    correct += (await hits.data())[0];
    tf.dispose([x, y, hits]);
  }
  return correct / data.count;
}

/** Clean accuracy of a model seen only through its labels (an endpoint): each image is one query. */
export async function labelAccuracy(model: DecisionModel, data: ImageDataset, batchSize = 1000): Promise<number> {
  let correct = 0;
  for (let start = 0; start < data.count; start += batchSize) {
    const idx = Array.from({ length: Math.min(batchSize, data.count - start) }, (_, i) => start + i);
    const { x, y } = gatherBatch(data, idx);
    try {
      const [predicted, labels] = [await model.label(x), await y.data()];
      predicted.forEach((p, i) => (correct += p === labels[i] ? 1 : 0));
    } finally {
      tf.dispose([x, y]);
    }
  }
  return correct / data.count;
}
