import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { setup } from '../helpers/backend.ts';
import { AdvxError } from '../../src/core/errors.ts';
import { domainSeparability } from '../../src/da/a-distance.ts';
import { mlpFeatures, trainDann, type DannBatchInfo, type DannOptions } from '../../src/da/dann.ts';
import { rotate, twoMoons } from '../../src/data/toy2d.ts';
import type { ImageDataset } from '../../src/data/types.ts';
import { loadDataset } from '../../src/node/datasets.ts';

before(() => setup());

function points(name: string, pts: Float32Array, labels: Uint8Array): ImageDataset {
  return { name, images: pts, labels, shape: [1, 1, 2], numClasses: 2, classNames: ['upper', 'lower'], count: labels.length };
}

// The paper's toy: two moons, and the same moons rotated by 35° as the target.
const s = twoMoons(400, { seed: 1, noise: 0.1 });
const t = twoMoons(400, { seed: 2, noise: 0.1 });
const source = points('moons', s.points, s.labels);
const target = points('moons-rotated', rotate(t.points, (35 * Math.PI) / 180, [0.5, 0.25]), t.labels);
const toy: DannOptions = {
  epochs: 30,
  batchSize: 32,
  learningRate: 0.2,
  seed: 3,
  features: mlpFeatures([32, 32]),
  labelHidden: [32],
  domainHidden: [32],
};

async function accuracy(r: Awaited<ReturnType<typeof trainDann>>, ds: ImageDataset): Promise<number> {
  const x = tf.tensor4d(ds.images, [ds.count, ...ds.shape]);
  const pred = await r.classifier.predict(x);
  x.dispose();
  return pred.reduce((a, p, i) => a + (p === ds.labels[i] ? 1 : 0), 0) / ds.count;
}

test('DANN on rotated two moons: higher target accuracy and less separable features than source-only', async () => {
  const start = tf.memory().numTensors;
  const results: Record<string, { src: number; tgt: number; sep: number; domainAcc: number }> = {};
  for (const method of ['source-only', 'dann'] as const) {
    const batches: DannBatchInfo[] = [];
    const r = await trainDann(source, target, { ...toy, method, onBatch: (b) => batches.push(b) });
    assert.equal(r.history.length, 30);
    for (const h of r.history) assert.ok(Number.isFinite(h.labelLoss), 'no NaN');
    assert.ok(batches.length > 0 && batches.every((b) => b.progress > 0 && b.progress <= 1));
    const last = r.history.at(-1)!;
    if (method === 'dann') {
      assert.ok(r.domainHead);
      assert.ok(Number.isFinite(last.domainLoss));
      assert.ok(last.lambda > 0.99, 'λ ramps to 1');
      assert.ok(r.history[0].lambda < 0.5);
    } else {
      assert.equal(r.domainHead, undefined);
      assert.ok(Number.isNaN(last.domainLoss));
    }
    assert.ok(last.learningRate < 0.2 / 11 ** 0.75 + 1e-3, 'learning rate annealed');
    const sep = await domainSeparability((x) => r.features.apply(x) as tf.Tensor, source, target, { seed: 0 });
    results[method] = { src: await accuracy(r, source), tgt: await accuracy(r, target), sep: sep.accuracy, domainAcc: last.domainAccuracy };
    r.dispose();
  }
  const so = results['source-only'];
  const da = results.dann;
  console.log(JSON.stringify(results));
  assert.ok(so.src > 0.95 && da.src > 0.95, 'both fit the source');
  assert.ok(da.tgt >= so.tgt + 0.05, `DANN target accuracy ${da.tgt} vs source-only ${so.tgt}`);
  assert.ok(da.sep < so.sep - 0.03, `domain separability of the features: DANN ${da.sep} vs source-only ${so.sep}`);
  assert.ok(da.domainAcc < 0.7, `the domain head is kept near chance: ${da.domainAcc}`);
  assert.equal(tf.memory().numTensors, start, 'no tensor leaks');
});

test('DANN is deterministic per seed, and stops on request', async () => {
  const short = { ...toy, epochs: 2 };
  const a = await trainDann(source, target, short);
  const b = await trainDann(source, target, short);
  assert.deepEqual(a.history.map((h) => [h.labelLoss, h.domainLoss]), b.history.map((h) => [h.labelLoss, h.domainLoss]));
  a.dispose();
  b.dispose();
  let steps = 0;
  const c = await trainDann(source, target, { ...short, logEvery: 1, onBatch: () => steps++, shouldStop: () => steps >= 3 });
  assert.equal(steps, 3);
  assert.equal(c.history.length, 1);
  c.dispose();
});

test('DANN with the paper\'s conv extractor on a tiny MNIST-RGB → MNIST-M subset', async () => {
  const start = tf.memory().numTensors;
  const src = loadDataset('mnist-rgb', { limit: { train: 128, test: 0 } }).train;
  const tgt = loadDataset('mnist-m', { limit: { train: 128, test: 0 }, cache: false }).train;
  const r = await trainDann(src, tgt, { epochs: 1, batchSize: 32, learningRate: 0.01, seed: 0 });
  assert.deepEqual(r.features.outputs[0].shape, [null, 768]);
  assert.deepEqual(r.classifier.info.inputShape, [28, 28, 3]);
  const h = r.history[0];
  assert.ok(Number.isFinite(h.labelLoss) && Number.isFinite(h.domainLoss), JSON.stringify(h));
  const x = tf.tensor4d(tgt.images.subarray(0, 4 * 2352), [4, 28, 28, 3]);
  const logits = r.classifier.logits(x);
  assert.deepEqual(logits.shape, [4, 10]);
  tf.dispose([x, logits]);
  r.dispose();
  assert.equal(tf.memory().numTensors, start, 'no tensor leaks');
});

test('DANN: bad inputs are AdvxErrors', async () => {
  const start = tf.memory().numTensors;
  const three: ImageDataset = { ...source, numClasses: 3, classNames: ['a', 'b', 'c'] };
  const wide: ImageDataset = { ...target, images: new Float32Array(400 * 3), shape: [1, 1, 3] };
  const empty: ImageDataset = { ...target, images: new Float32Array(0), labels: new Uint8Array(0), count: 0 };
  const cases: [string, Promise<unknown>, RegExp][] = [
    ['shape', trainDann(source, wide, toy), /shape/],
    ['classes', trainDann(source, three, toy), /classes/],
    ['empty target', trainDann(source, empty, toy), /empty/],
    ['empty source', trainDann(empty, target, toy), /empty/],
    ['λ < 0', trainDann(source, target, { ...toy, lambda: -1 }), /λ/],
    ['batch', trainDann(source, target, { ...toy, batchSize: 0 }), /batch/],
    ['lr', trainDann(source, target, { ...toy, learningRate: 0 }), /learning rate/],
    ['method', trainDann(source, target, { ...toy, method: 'coral' as 'dann' }), /method/],
  ];
  for (const [what, p, message] of cases) {
    await assert.rejects(p, (err: Error) => err instanceof AdvxError && message.test(err.message), what);
  }
  assert.equal(tf.memory().numTensors, start);
});
