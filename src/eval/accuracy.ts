/** Clean accuracy of a classifier on a dataset, in batches; and the per-example predictions that advx evaluate records. */
import * as tf from '@tensorflow/tfjs-core';
import type { Classifier } from '../models/classifier.ts';
import { predictLabels, type AnyModel } from '../attacks/index.ts';
import { shardBlocks, type Shard } from '../core/shards.ts';
import type { ImageDataset } from '../data/types.ts';
import { gatherBatch } from '../data/batch.ts';

/** A classifier's test accuracy, overall and on each class's examples (NaN for a class without any), in class order. */
export interface ClassAccuracy {
  accuracy: number;
  perClass: number[];
}

/** Accuracy of the classifier on `data`, overall and per class, from one pass in batches of `batchSize`. */
export async function classAccuracy(classifier: Classifier, data: ImageDataset, batchSize = 1000): Promise<ClassAccuracy> {
  const hits = new Array<number>(data.numClasses).fill(0);
  const counts = new Array<number>(data.numClasses).fill(0);
  for (let start = 0; start < data.count; start += batchSize) {
    const idx = Array.from({ length: Math.min(batchSize, data.count - start) }, (_, i) => start + i);
    const { x, y } = gatherBatch(data, idx);
    const predicted = tf.tidy(() => tf.argMax(classifier.logits(x), 1));
    const [p, labels] = [await predicted.data(), await y.data()];
    tf.dispose([x, y, predicted]);
    labels.forEach((label, i) => {
      counts[label]++;
      if (p[i] === label) hits[label]++;
    });
  }
  const correct = hits.reduce((a, b) => a + b, 0);
  return { accuracy: correct / data.count, perClass: hits.map((h, k) => (counts[k] ? h / counts[k] : NaN)) };
}

/** Share of `data` the classifier labels correctly, computed in batches of `batchSize`. */
export async function accuracy(classifier: Classifier, data: ImageDataset, batchSize = 1000): Promise<number> {
  return (await classAccuracy(classifier, data, batchSize)).accuracy;
}

/** One example's outcome: its position in the dataset, its label and the model's top-1 prediction. */
export interface LabelRecord {
  index: number;
  label: number;
  prediction: number;
  correct: boolean;
}

/**
 * The model's prediction for each example of the blocks of `batchSize` that `shard` takes (all
 * without one; see core/shards.ts), in index order. A served model answers each image once.
 */
export async function labelRecords(model: AnyModel, data: ImageDataset, batchSize: number, shard?: Shard, onProgress?: (done: number, total: number) => void): Promise<LabelRecord[]> {
  const records: LabelRecord[] = [];
  const blocks = shardBlocks(data.count, batchSize, shard);
  const total = blocks.reduce((n, block) => n + Math.min(batchSize, data.count - block * batchSize), 0);
  onProgress?.(0, total);
  for (const block of blocks) {
    const start = block * batchSize;
    const idx = Array.from({ length: Math.min(batchSize, data.count - start) }, (_, i) => start + i);
    const { x, y } = gatherBatch(data, idx);
    try {
      const [predicted, labels] = [await predictLabels(model, x), await y.data()];
      idx.forEach((index, i) => records.push({ index, label: labels[i], prediction: predicted[i], correct: predicted[i] === labels[i] }));
    } finally {
      tf.dispose([x, y]);
    }
    onProgress?.(records.length, total);
  }
  return records;
}
