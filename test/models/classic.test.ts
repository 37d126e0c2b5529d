/** Classic models (logistic regression, linear SVM, kNN, CART) on a small MNIST subset, and attacks on them. */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { setup, tensorCounts } from '../helpers/backend.ts';
import { loadDataset } from '../../src/node/datasets/index.ts';
import { gatherBatch } from '../../src/data/batch.ts';
import { pgd } from '../../src/attacks/pgd.ts';
import { hopSkipJump } from '../../src/attacks/hopskipjump.ts';
import { squareAttack } from '../../src/attacks/square.ts';
import { DecisionTree, KNearestNeighbors, trainLinearSvm, trainLogisticRegression, type ClassicModel, type LinearModel } from '../../src/models/classic.ts';
import { AdvxError } from '../../src/core/errors.ts';

/** Training images (linear models and the tree); kNN stores the first KNN_TRAIN of them. */
const TRAIN = 3000;
const KNN_TRAIN = 1000;
/** Held-out images for accuracy; the first N are attacked (HSJ: the first NH). */
const TEST = 500;
const N = 32;
const NH = 12;
const HSJ_QUERIES = 1000;

let xTrain: tf.Tensor4D;
let yTrain: tf.Tensor1D;
let xTest: tf.Tensor4D;
let yTest: tf.Tensor1D;
let testLabels: Int32Array;
let x: tf.Tensor;
let y: tf.Tensor1D;
let xh: tf.Tensor;
let yh: tf.Tensor1D;
let logistic: LinearModel;
let svm: LinearModel;
let knn: KNearestNeighbors;
let tree: DecisionTree;

before(async () => {
  await setup();
  const { train, test } = loadDataset('mnist', { limit: { train: TRAIN, test: TEST } });
  ({ x: xTrain, y: yTrain } = gatherBatch(train, Array.from({ length: TRAIN }, (_, i) => i)));
  ({ x: xTest, y: yTest } = gatherBatch(test, Array.from({ length: TEST }, (_, i) => i)));
  testLabels = Int32Array.from(await yTest.data());
  x = tf.slice(xTest, 0, N);
  y = tf.slice(yTest, 0, N);
  xh = tf.slice(xTest, 0, NH);
  yh = tf.slice(yTest, 0, NH);
  logistic = await trainLogisticRegression(xTrain, yTrain, { epochs: 5, learningRate: 5e-3, seed: 1 });
  svm = await trainLinearSvm(xTrain, yTrain, { epochs: 5, learningRate: 5e-3, seed: 1 });
  const xk = tf.slice(xTrain, 0, KNN_TRAIN);
  const yk = tf.slice(yTrain, 0, KNN_TRAIN);
  knn = await KNearestNeighbors.fit(xk, yk, { k: 5 });
  tf.dispose([xk, yk]);
  tree = await DecisionTree.fit(xTrain, yTrain, { maxDepth: 12, seed: 1 });
});

async function accuracyOf(predict: (t: tf.Tensor) => Promise<Int32Array>): Promise<number> {
  const p = await predict(xTest);
  return p.filter((v, i) => v === testLabels[i]).length / TEST;
}

test('logistic regression and the linear SVM reach ≥ 80% test accuracy; PGD ε = 0.2 breaks ≥ 90%', async () => {
  for (const [name, m] of [['logistic', logistic], ['svm', svm]] as const) {
    const acc = await accuracyOf((t) => m.classifier.predict(t));
    console.log(`${name}: accuracy ${acc}`);
    assert.ok(acc >= 0.8, `${name} accuracy ${acc}`);
    const pred = await m.classifier.predict(x);
    const labels = await y.data();
    const correct = Array.from(pred, (p, i) => p === labels[i]);
    const r = await pgd(m.classifier, x, { labels: y }, { eps: 0.2, steps: 20, seed: 1 });
    const success = r.success.filter((s, i) => s && correct[i]).length / correct.filter(Boolean).length;
    console.log(`${name}: PGD ε=0.2 success ${success}`);
    assert.ok(success >= 0.9, `${name} PGD success ${success}`);
    assert.ok(Math.max(...r.linf) <= 0.2 + 1e-5);
    r.adversarial.dispose();
  }
});

test('kNN (k = 5) and the tree reach ≥ 80% and ≥ 65% test accuracy; their scores agree with their labels', async () => {
  const accK = await accuracyOf((t) => knn.label(t));
  const accT = await accuracyOf((t) => tree.label(t));
  console.log(`knn: accuracy ${accK}; tree: accuracy ${accT}, ${tree.nodes} nodes, depth ${tree.depth}`);
  assert.ok(accK >= 0.8, `kNN accuracy ${accK}`);
  assert.ok(accT >= 0.65, `tree accuracy ${accT}`);
  assert.ok(tree.depth <= 12);
  for (const m of [knn, tree] as ClassicModel[]) {
    const s = await m.scores(x);
    const [sums, top] = tf.tidy(() => [tf.sum(s, 1), tf.argMax(s, 1)]);
    for (const v of await sums.data()) assert.ok(Math.abs(v - 1) < 1e-4, `scores sum to ${v}`);
    assert.deepEqual(Array.from(await top.data()), Array.from(await m.label(x)));
    tf.dispose([s, sums, top]);
  }
});

for (const which of ['knn', 'tree'] as const) {
  test(`HopSkipJump (L2, ${HSJ_QUERIES} queries) fools ≥ 80% of ${which}'s correct inputs with mean L2 < 6 (kNN) or < 1 (tree)`, async () => {
    const model: ClassicModel = which === 'knn' ? knn : tree;
    const labels = await yh.data();
    const correct = Array.from(await model.label(xh), (p, i) => p === labels[i]);
    const r = await hopSkipJump(model, xh, { labels: yh }, { queries: HSJ_QUERIES, seed: 2 });
    const won = r.success.map((s, i) => s && correct[i]);
    const rate = won.filter(Boolean).length / correct.filter(Boolean).length;
    const l2 = r.l2.filter((_, i) => won[i]);
    const meanL2 = l2.reduce((a, b) => a + b, 0) / Math.max(1, l2.length);
    console.log(`${which}: HSJ success ${rate} over ${correct.filter(Boolean).length}, mean L2 ${meanL2.toFixed(3)}, max queries ${Math.max(...r.queries!)}`);
    assert.ok(rate >= 0.8, `success ${rate}`);
    assert.ok(meanL2 < (which === 'knn' ? 6 : 1), `mean L2 ${meanL2}`);
    assert.ok(Math.max(...r.queries!) <= HSJ_QUERIES);
    const [lo, hi] = tf.tidy(() => [tf.min(r.adversarial), tf.max(r.adversarial)]);
    assert.ok((await lo.data())[0] >= 0 && (await hi.data())[0] <= 1, 'within the bounds');
    // The model itself confirms the successes.
    const adv = await model.label(r.adversarial);
    r.success.forEach((s, i) => assert.equal(s, adv[i] !== labels[i]));
    tf.dispose([lo, hi, r.adversarial]);
  });
}

test('Square (L∞, ε = 0.3) runs on kNN scores', async () => {
  const r = await squareAttack(knn, xh, { labels: yh }, { eps: 0.3, queries: 300, seed: 1 });
  console.log(`knn: Square ε=0.3 success ${r.success.filter(Boolean).length}/${NH}`);
  assert.ok(Math.max(...r.linf) <= 0.3 + 1e-6);
  assert.ok(r.success.filter(Boolean).length >= NH / 2);
  r.adversarial.dispose();
});

test('no tensor leaks: training, prediction and scores', async () => {
  const xs = tf.slice(xTrain, 0, 200);
  const ys = tf.slice(yTrain, 0, 200);
  const counts = await tensorCounts(async () => {
    const m = await trainLinearSvm(xs, ys, { epochs: 1 });
    (await m.classifier.predict(x)).length;
    m.dispose();
    const k = await KNearestNeighbors.fit(xs, ys, { k: 3 });
    await k.label(x);
    tf.dispose(k.scores(x));
    k.dispose();
    const t = await DecisionTree.fit(xs, ys, { maxDepth: 4 });
    await t.label(x);
    tf.dispose(await t.scores(x));
  });
  assert.equal(new Set(counts).size, 1, `tensor counts ${counts}`);
  tf.dispose([xs, ys]);
});

test('bad options are AdvxErrors', async () => {
  await assert.rejects(KNearestNeighbors.fit(xh, yh, { k: 0 }), AdvxError);
  await assert.rejects(KNearestNeighbors.fit(xh, yh, { k: 100 }), AdvxError);
  await assert.rejects(DecisionTree.fit(xh, yh, { maxDepth: 0 }), AdvxError);
  await assert.rejects(DecisionTree.fit(xh, yh, { thresholds: 1 }), AdvxError);
  await assert.rejects(trainLogisticRegression(xh, yh, { epochs: -1 }), AdvxError);
  const empty = tf.zeros([0, 28, 28, 1]);
  const none = tf.zeros([0], 'int32') as tf.Tensor1D;
  await assert.rejects(trainLinearSvm(empty, none), AdvxError);
  tf.dispose([empty, none]);
  assert.throws(() => knn.scores(tf.zeros([1, 10])), AdvxError);
});
