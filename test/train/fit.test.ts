import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { setup, tensorCounts } from '../helpers/backend.ts';
import { loadDataset } from '../../src/node/datasets/index.ts';
import { buildModel } from '../../src/models/zoo.ts';
import { fitClassifier } from '../../src/train/fit.ts';
import { gatherBatch } from '../../src/data/batch.ts';
import { Rng } from '../../src/core/rng.ts';
import { AdvxError } from '../../src/core/errors.ts';

before(() => setup());
const { train } = loadDataset('mnist', { limit: { train: 512, test: 0 } });

async function weightsAfter(seed: number): Promise<Float32Array> {
  const model = buildModel('cnn', { inputShape: [28, 28, 1], numClasses: 10, seed });
  await fitClassifier(model, train, { epochs: 1, batchSize: 64, learningRate: 1e-3, seed, shift: 2 });
  const flat = tf.tidy(() => tf.concat(model.getWeights().map((w) => tf.reshape(w, [-1]))));
  const data = (await flat.data()) as Float32Array;
  flat.dispose();
  model.dispose();
  return data;
}

test('the same seed gives the same trained CNN; another seed does not', async () => {
  const a = await weightsAfter(11);
  const b = await weightsAfter(11);
  const c = await weightsAfter(12);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
});

test('training lowers the loss of the reference CNN', async () => {
  const model = buildModel('cnn', { inputShape: [28, 28, 1], numClasses: 10, seed: 5 });
  const history = await fitClassifier(model, train, { epochs: 3, batchSize: 32, learningRate: 2e-3, seed: 5 });
  assert.ok(history[2].loss < history[0].loss * 0.6, `losses ${history.map((h) => h.loss)}`);
  assert.ok(history[2].accuracy > 0.8, `train accuracy ${history[2].accuracy}`);
  model.dispose();
});

test('training steps leak no tensors', async () => {
  const model = buildModel('cnn', { inputShape: [28, 28, 1], numClasses: 10, seed: 6 });
  const small = { ...train, count: 64 };
  const counts = await tensorCounts(() => fitClassifier(model, small, { epochs: 1, batchSize: 32, learningRate: 1e-3, seed: 6 }).then(() => undefined));
  assert.equal(new Set(counts).size, 1, `tensor counts ${counts}`);
  model.dispose();
});

test('shift augmentation moves digits by whole pixels and keeps their mass', async () => {
  const rng = new Rng(3);
  const plain = gatherBatch(train, [0, 1, 2, 3]);
  const shifted = gatherBatch(train, [0, 1, 2, 3], rng, 2);
  const [p, s] = [await plain.x.data(), await shifted.x.data()];
  // MNIST digits have a ≥ 4-pixel empty border, so a ≤ 2-pixel shift loses nothing.
  for (let i = 0; i < 4; i++) {
    const sum = (a: ArrayLike<number>) => Array.from(a).slice(i * 784, (i + 1) * 784).reduce((x, y) => x + y, 0);
    assert.ok(Math.abs(sum(p) - sum(s)) < 1e-3);
  }
  tf.dispose([plain.x, plain.y, shifted.x, shifted.y]);
});

test('bad training options give clear errors', async () => {
  const model = buildModel('mlp', { inputShape: [28, 28, 1], numClasses: 10 });
  await assert.rejects(fitClassifier(model, train, { epochs: -1, batchSize: 32, learningRate: 1e-3, seed: 0 }), AdvxError);
  await assert.rejects(fitClassifier(model, train, { epochs: 1, batchSize: 0, learningRate: 1e-3, seed: 0 }), /batch size/);
  await assert.rejects(fitClassifier(model, { ...train, count: 0 }, { epochs: 1, batchSize: 8, learningRate: 1e-3, seed: 0 }), /empty/);
  model.dispose();
});
