/**
 * The attack tests' target: a 2×256 MLP trained for 2 epochs on the first 3000 MNIST training
 * images (seed 3), accurate enough to attack honestly, and the first `testCount` test images.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { setup } from './backend.ts';
import { loadDataset } from '../../src/node/datasets/index.ts';
import { gatherBatch } from '../../src/data/batch.ts';
import { buildModel } from '../../src/models/zoo.ts';
import { Classifier } from '../../src/models/classifier.ts';
import { fitClassifier } from '../../src/train/fit.ts';

export async function smallMlpTarget(testCount: number): Promise<{ model: tfl.LayersModel; classifier: Classifier; x: tf.Tensor4D; y: tf.Tensor1D }> {
  await setup();
  const { train, test } = loadDataset('mnist', { limit: { train: 3000, test: testCount } });
  const model = buildModel('mlp', { inputShape: [28, 28, 1], numClasses: 10, seed: 3 });
  await fitClassifier(model, train, { epochs: 2, batchSize: 64, learningRate: 2e-3, seed: 3 });
  const classifier = new Classifier((t) => model.apply(t) as tf.Tensor, { inputShape: [28, 28, 1], numClasses: 10, bounds: [0, 1] });
  const { x, y } = gatherBatch(test, Array.from({ length: testCount }, (_, i) => i));
  return { model, classifier, x, y };
}
