import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { tensorCounts } from '../helpers/backend.ts';
import { useBackend } from '../../src/backend/index.ts';
import { AdvxError } from '../../src/core/errors.ts';
import { Rng } from '../../src/core/rng.ts';
import {
  classCoverage,
  classifierFeatures,
  frechetDistance,
  kernelInceptionDistance,
  precisionRecall,
  symmetricEigen,
} from '../../src/gan/metrics.ts';
import * as tfl from '@tensorflow/tfjs-layers';
import { loadDataset } from '../../src/node/datasets/index.ts';
import { loadClassifier } from '../../src/node/io/load-model.ts';

before(() => useBackend('wasm', { threads: 1 }));

/** n samples of N(mu, diag(vars)) rotated by a fixed orthogonal q (or not), as a tensor. */
function gaussian(n: number, mu: number[], vars: number[], seed: number): tf.Tensor2D {
  const rng = new Rng(seed);
  const d = mu.length;
  const x = new Float32Array(n * d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) x[i * d + j] = mu[j] + Math.sqrt(vars[j]) * rng.normal();
  return tf.tensor2d(x, [n, d]);
}

test('Jacobi eigen-decomposition reconstructs a symmetric matrix', () => {
  const d = 12;
  const rng = new Rng(3);
  const b = Float64Array.from({ length: d * d }, () => rng.normal());
  const a = new Float64Array(d * d);
  for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) for (let k = 0; k < d; k++) a[i * d + j] += b[i * d + k] * b[j * d + k];
  const { values, vectors: v } = symmetricEigen(a, d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) {
      let r = 0;
      for (let k = 0; k < d; k++) r += v[i * d + k] * values[k] * v[j * d + k];
      assert.ok(Math.abs(r - a[i * d + j]) < 1e-9, `entry ${i},${j}: ${r} vs ${a[i * d + j]}`);
    }
  }
});

test('FID: identical sets ≈ 0, symmetric, matches the closed form for diagonal Gaussians', () => {
  const d = 8;
  const muA = Array.from({ length: d }, (_, j) => j * 0.1);
  const muB = Array.from({ length: d }, (_, j) => 1 - j * 0.2);
  const varA = Array.from({ length: d }, (_, j) => 0.5 + j * 0.25);
  const varB = Array.from({ length: d }, (_, j) => 2 - j * 0.2);
  const a = gaussian(20000, muA, varA, 1);
  const b = gaussian(20000, muB, varB, 2);
  assert.ok(Math.abs(frechetDistance(a, a)) < 1e-6, `FID(a, a) = ${frechetDistance(a, a)}`);
  const ab = frechetDistance(a, b);
  const ba = frechetDistance(b, a);
  assert.ok(Math.abs(ab - ba) < 1e-8 * Math.max(1, ab), `FID(a,b) ${ab} vs FID(b,a) ${ba}`);
  let closed = 0;
  for (let j = 0; j < d; j++) closed += (muA[j] - muB[j]) ** 2 + (Math.sqrt(varA[j]) - Math.sqrt(varB[j])) ** 2;
  // Sampling error of 20 000 draws: a few percent at most.
  assert.ok(Math.abs(ab - closed) < 0.03 * closed, `FID ${ab} vs closed form ${closed}`);
  tf.dispose([a, b]);
});

test('FID of exact moments: a full (non-diagonal) covariance pair against a direct computation', () => {
  // Σa = I, Σb = R diag(4, 1/4) Rᵀ: Tr(Σa + Σb − 2Σb^{1/2}) = 2 + 4.25 − 2(2 + 0.5) = 1.25; equal means.
  const c = Math.cos(0.7);
  const s = Math.sin(0.7);
  // Points whose sample covariance is exactly the target: ±√(n−1)/√2 · columns of L (n = 4).
  const points = (l: number[][]) => {
    const k = Math.sqrt(3 / 2);
    const rows: number[][] = [];
    for (const col of [0, 1]) for (const sign of [1, -1]) rows.push([sign * k * l[0][col], sign * k * l[1][col]]);
    return tf.tensor2d(rows);
  };
  const a = points([[1, 0], [0, 1]]);
  const b = points([[2 * c, -0.5 * s], [2 * s, 0.5 * c]]);
  const fid = frechetDistance(a, b);
  assert.ok(Math.abs(fid - 1.25) < 1e-5, `FID ${fid}, expected 1.25`);
  assert.ok(Math.abs(frechetDistance(b, a) - 1.25) < 1e-5);
  tf.dispose([a, b]);
});

test('KID: ≈ 0 for two samples of one distribution, clearly > 0 for a shifted one; seeded', () => {
  const d = 16;
  const zero = new Array(d).fill(0);
  const ones = new Array(d).fill(1);
  const a = gaussian(1500, zero, ones, 5);
  const b = gaussian(1500, zero, ones, 6);
  const c = gaussian(1500, new Array(d).fill(0.5), ones, 7);
  const same = kernelInceptionDistance(a, b, { subsets: 20, subsetSize: 500, seed: 1 });
  const shifted = kernelInceptionDistance(a, c, { subsets: 20, subsetSize: 500, seed: 1 });
  assert.ok(Math.abs(same.mean) < 3 * same.std! + 1e-3, `same: ${JSON.stringify(same)}`);
  assert.ok(shifted.mean > 10 * Math.max(Math.abs(same.mean), same.std!), `shifted ${JSON.stringify(shifted)} vs same ${JSON.stringify(same)}`);
  assert.ok(shifted.mean - 3 * shifted.std! > 0);
  assert.deepEqual(kernelInceptionDistance(a, c, { subsets: 20, subsetSize: 500, seed: 1 }), shifted);
  assert.throws(() => tf.tidy(() => void kernelInceptionDistance(a, tf.zeros([4, 3]) as tf.Tensor2D)), AdvxError);
  tf.dispose([a, b, c]);
});

test('KID: no spread claimed when every subset is the whole of both sets (n ≤ subset size), a spread when they differ', () => {
  const d = 8;
  const a = gaussian(300, new Array(d).fill(0), new Array(d).fill(1), 11);
  const c = gaussian(300, new Array(d).fill(0.5), new Array(d).fill(1), 12);
  const bigger = gaussian(500, new Array(d).fill(0.5), new Array(d).fill(1), 13);
  // Default subset size 1000 > 300: every subset would be all 300 of each set, a std of 0 by construction.
  const whole = kernelInceptionDistance(a, c, { seed: 1 });
  assert.equal(whole.std, null, JSON.stringify(whole));
  assert.equal(whole.subsets, 1);
  assert.equal(whole.subsetSize, 300);
  assert.ok(whole.mean > 0);
  // The same estimate whatever the seed or the requested subset count.
  assert.ok(Math.abs(kernelInceptionDistance(a, c, { seed: 2, subsets: 7 }).mean - whole.mean) < 1e-9 * Math.abs(whole.mean) + 1e-12);
  // Subsets of the larger set differ: a real spread, over all the subsets asked for.
  const partial = kernelInceptionDistance(a, bigger, { seed: 1, subsets: 10 });
  assert.ok(partial.std !== null && partial.std > 0 && partial.subsets === 10 && partial.subsetSize === 300, JSON.stringify(partial));
  const smaller = kernelInceptionDistance(a, c, { seed: 1, subsets: 10, subsetSize: 100 });
  assert.ok(smaller.std !== null && smaller.std > 0, JSON.stringify(smaller));
  tf.dispose([a, c, bigger]);
});

test('class coverage on hand-made probability matrices', () => {
  const onehot = (labels: number[], k: number) => tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(labels, 'int32'), k), 'float32') as tf.Tensor2D);
  const balanced = onehot([0, 1, 2, 3, 0, 1, 2, 3], 4);
  const r = classCoverage(balanced, 4);
  assert.deepEqual(r.histogram, [2, 2, 2, 2]);
  assert.equal(r.classesCovered, 4);
  assert.ok(Math.abs(r.klToUniform) < 1e-12);
  const collapsed = onehot([2, 2, 2, 2, 2], 4);
  const c = classCoverage(collapsed, 4);
  assert.deepEqual(c.histogram, [0, 0, 5, 0]);
  assert.equal(c.classesCovered, 1);
  assert.ok(Math.abs(c.klToUniform - Math.log(4)) < 1e-12);
  // 10 classes, 1000 samples: threshold 10% of 100 = 10 samples; class 9 has 5 → not covered.
  const labels = [...Array.from({ length: 995 }, (_, i) => i % 9), 9, 9, 9, 9, 9];
  const soft = tf.tidy(() => tf.softmax(tf.mul(onehot(labels, 10), 3)) as tf.Tensor2D);
  const s = classCoverage(soft, 10);
  assert.equal(s.histogram[9], 5);
  assert.equal(s.classesCovered, 9);
  assert.throws(() => classCoverage(balanced, 5), AdvxError);
  tf.dispose([balanced, collapsed, soft]);
});

test('precision and recall: same distribution high both, a collapsed generator has low recall', () => {
  const d = 4;
  const zero = new Array(d).fill(0);
  const real = gaussian(600, zero, new Array(d).fill(1), 11);
  const fake = gaussian(600, zero, new Array(d).fill(1), 12);
  const collapsed = gaussian(600, zero, new Array(d).fill(0.01), 13);
  const pr = precisionRecall(real, fake);
  assert.ok(pr.precision > 0.8 && pr.recall > 0.8, JSON.stringify(pr));
  const pc = precisionRecall(real, collapsed);
  assert.ok(pc.precision > 0.9 && pc.recall < 0.2, JSON.stringify(pc));
  tf.dispose([real, fake, collapsed]);
});

test('features of a functional model with a shared layer: the input of the last Dense layer, at its first call', () => {
  const input = tfl.input({ shape: [2, 2, 1] });
  const flat = tfl.layers.flatten().apply(input) as tfl.SymbolicTensor;
  const shared = tfl.layers.dense({ units: 4, activation: 'tanh', kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) });
  const twice = shared.apply(shared.apply(flat)) as tfl.SymbolicTensor;
  const out = tfl.layers.dense({ units: 3, kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }) }).apply(twice) as tfl.SymbolicTensor;
  const model = tfl.model({ inputs: input, outputs: out });
  tf.tidy(() => {
    const x = tf.randomUniform([5, 2, 2, 1], 0, 1, 'float32', 4) as tf.Tensor4D;
    const f = classifierFeatures(model, x, { batchSize: 2 });
    const [w, b] = shared.getWeights();
    const once = tf.tanh(tf.add(tf.matMul(tf.reshape(x, [5, 4]), w), b));
    const expected = tf.tanh(tf.add(tf.matMul(once, w), b));
    assert.deepEqual(f.shape, [5, 4]);
    assert.ok(tf.max(tf.abs(tf.sub(f, expected))).dataSync()[0] < 1e-5);
    // A named shared layer: its output at its first call.
    const named = classifierFeatures(model, x, { layer: shared.name });
    assert.ok(tf.max(tf.abs(tf.sub(named, once))).dataSync()[0] < 1e-5);
  });
  model.dispose();
});

test('the metrics leak no tensors', async () => {
  const a = gaussian(300, [0, 0, 0], [1, 1, 1], 1);
  const b = gaussian(300, [1, 0, 0], [1, 2, 1], 2);
  const counts = await tensorCounts(() => {
    frechetDistance(a, b);
    kernelInceptionDistance(a, b, { subsets: 3, subsetSize: 100 });
    classCoverage(a, 3);
    precisionRecall(a, b, { batchSize: 128 });
  });
  assert.equal(new Set(counts).size, 1, `tensor counts ${counts}`);
  tf.dispose([a, b]);
});

test('real data: mnist-cnn features, FID(test, train) small, FID(noise, test) much larger', async () => {
  const { layers } = await loadClassifier('models/mnist-cnn');
  assert.ok(layers);
  const { train, test: testSet } = loadDataset('mnist', { limit: { train: 400, test: 400 } });
  const toTensor = (images: Float32Array, n: number) => tf.tensor4d(images, [n, 28, 28, 1]);
  const xTrain = toTensor(train.images, train.count);
  const xTest = toTensor(testSet.images, testSet.count);
  const rng = new Rng(9);
  const xNoise = tf.tensor4d(Float32Array.from({ length: 400 * 784 }, () => rng.next()), [400, 28, 28, 1]);
  const before = tf.memory().numTensors;
  const fTrain = classifierFeatures(layers, xTrain, { batchSize: 128 });
  const fTest = classifierFeatures(layers, xTest);
  const fNoise = classifierFeatures(layers, xNoise);
  assert.deepEqual(fTrain.shape, [400, 128]);
  // Batching does not change the features; the default layer is dense_Dense1's output (through inference-time dropout).
  const whole = classifierFeatures(layers, xTrain, { batchSize: 400 });
  const named = classifierFeatures(layers, xTrain, { layer: 'dense_Dense1' });
  const maxDiff = (x: tf.Tensor, y: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(x, y))).dataSync()[0]);
  assert.ok(maxDiff(whole, fTrain) < 1e-4);
  assert.ok(maxDiff(named, fTrain) < 1e-4);
  tf.dispose([whole, named]);
  const real = frechetDistance(fTest, fTrain);
  const noise = frechetDistance(fNoise, fTest);
  assert.ok(noise > 20 * real, `FID(test, train) ${real}, FID(noise, test) ${noise}`);
  const kReal = kernelInceptionDistance(fTest, fTrain, { subsets: 10, subsetSize: 200 });
  const kNoise = kernelInceptionDistance(fNoise, fTest, { subsets: 10, subsetSize: 200 });
  assert.ok(kNoise.mean > 20 * Math.abs(kReal.mean), `KID real ${JSON.stringify(kReal)}, noise ${JSON.stringify(kNoise)}`);
  const logits = layers.predict(xTest) as tf.Tensor2D;
  const cov = classCoverage(logits, 10);
  assert.equal(cov.classesCovered, 10);
  assert.ok(cov.klToUniform < 0.05, `KL ${cov.klToUniform}`);
  assert.throws(() => tf.tidy(() => classifierFeatures(layers, tf.zeros([1, 32, 32, 1]) as tf.Tensor4D)), AdvxError);
  assert.throws(() => classifierFeatures(layers, xTest, { layer: 'nope' }), AdvxError);
  tf.dispose([fTrain, fTest, fNoise, logits]);
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([xTrain, xTest, xNoise]);
});
