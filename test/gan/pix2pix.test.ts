import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { tensorCounts } from '../helpers/backend.ts';
import { useBackend } from '../../src/backend/index.ts';
import { AdvxError } from '../../src/core/errors.ts';
import {
  buildPix2pixDiscriminator,
  buildPix2pixGenerator,
  gatherImages,
  pix2pixGeneratorLoss,
  trainPix2pix,
  translateImages,
} from '../../src/gan/pix2pix.ts';
import { loadPix2pixPairs } from '../../src/node/datasets/pix2pix.ts';

before(() => useBackend('wasm', { threads: 1 }));

const data = () => loadPix2pixPairs('mnist-mnistm', { limit: { train: 32, test: 8 } });

test('pairs: MNIST digit i and MNIST-M image i are aligned (same labels), targets in [0, 1]', () => {
  const { train } = data();
  assert.deepEqual(train.input.shape, [28, 28, 1]);
  assert.deepEqual(train.target.shape, [28, 28, 3]);
  assert.equal(train.input.count, 32);
  assert.deepEqual([...train.input.labels], [...train.target.labels]);
  const { input, target } = train;
  let ink = 0;
  for (let p = 0; p < 784; p++) if (input.images[p] > 0) ink++;
  assert.ok(ink > 50 && ink < 400);
  assert.throws(() => loadPix2pixPairs('edges'), AdvxError);
  assert.ok(target.images.every((v) => v >= 0 && v <= 1));
});

test('shapes: U-Net keeps 28×28 (padded to 32 inside) and 32×32, outputs in [0, 1]; PatchGAN gives 7×7 logits', () => {
  const g = buildPix2pixGenerator({ inChannels: 1, outChannels: 3, width: 8, seed: 1 });
  const d = buildPix2pixDiscriminator({ inChannels: 1, outChannels: 3, width: 8, seed: 2 });
  tf.tidy(() => {
    const x = tf.randomUniform([2, 28, 28, 1], 0, 1, 'float32', 3) as tf.Tensor4D;
    const y = g.apply(x);
    assert.deepEqual(y.shape, [2, 28, 28, 3]);
    const v = y.dataSync();
    assert.ok(v.every((p) => p >= 0 && p <= 1));
    assert.deepEqual(d.apply(x, y).shape, [2, 7, 7, 1]);
    assert.deepEqual(g.apply(tf.zeros([1, 32, 32, 1]) as tf.Tensor4D).shape, [1, 32, 32, 3]);
    assert.throws(() => g.apply(tf.zeros([1, 28, 28, 3]) as tf.Tensor4D), AdvxError);
    assert.throws(() => d.apply(x, tf.zeros([2, 28, 28, 1]) as tf.Tensor4D), AdvxError);
  });
  // Seeded: the same seed, the same weights.
  const g2 = buildPix2pixGenerator({ inChannels: 1, outChannels: 3, width: 8, seed: 1 });
  assert.deepEqual(g2.variables[0].dataSync(), g.variables[0].dataSync());
  g.dispose();
  g2.dispose();
  d.dispose();
});

test('λ_adv = 0 leaves the discriminator out: loss = λ_L1·L1, generator gradients independent of D', () => {
  const g = buildPix2pixGenerator({ inChannels: 1, outChannels: 3, width: 8, seed: 1 });
  const d1 = buildPix2pixDiscriminator({ inChannels: 1, outChannels: 3, width: 8, seed: 2 });
  const d2 = buildPix2pixDiscriminator({ inChannels: 1, outChannels: 3, width: 8, seed: 5 });
  const { train } = data();
  const x = gatherImages(train.input, [0, 1, 2, 3]);
  const y = gatherImages(train.target, [0, 1, 2, 3]);
  const grads = (d: typeof d1 | undefined, lambdaAdv: number) =>
    tf.tidy(() => {
      const { grads: gs } = tf.variableGrads(() => pix2pixGeneratorLoss(g, d, x, y, { lambdaAdv }).total, g.variables);
      return tf.concat(g.variables.map((v) => tf.reshape(gs[v.name], [-1])));
    });
  tf.tidy(() => {
    const r = pix2pixGeneratorLoss(g, d1, x, y, { lambdaAdv: 0 });
    assert.ok(Math.abs(r.total.dataSync()[0] - 100 * r.l1.dataSync()[0]) < 1e-4);
    assert.equal(r.adv.dataSync()[0], 0);
    const none = grads(undefined, 0);
    const with1 = grads(d1, 0);
    const with2 = grads(d2, 0);
    assert.deepEqual(with1.dataSync(), none.dataSync());
    assert.deepEqual(with2.dataSync(), none.dataSync());
    // With λ_adv = 1 the discriminator changes the generator's gradient.
    const adv1 = grads(d1, 1);
    const adv2 = grads(d2, 1);
    assert.ok(tf.max(tf.abs(tf.sub(adv1, adv2))).dataSync()[0] > 1e-6);
    assert.throws(() => pix2pixGeneratorLoss(g, undefined, x, y, { lambdaAdv: 1 }), AdvxError);
  });
  tf.dispose([x, y]);
  g.dispose();
  d1.dispose();
  d2.dispose();
});

test('a few steps lower the L1 loss on a tiny set (L1-only and L1 + cGAN), no tensor leaks', async () => {
  const { train } = data();
  const small = { steps: 30, seed: 3, batchSize: 8, width: 8, logEvery: 1, learningRate: 2e-3 };
  const x = gatherImages(train.input, Array.from({ length: 32 }, (_, i) => i));
  const y = gatherImages(train.target, Array.from({ length: 32 }, (_, i) => i));
  for (const lambdaAdv of [0, 1]) {
    let calls = 0;
    const before = tf.memory().numTensors;
    const r = await trainPix2pix(train, { ...small, lambdaAdv, onStep: () => calls++ });
    assert.equal(calls, 30);
    assert.equal(r.history.l1.length, 30);
    assert.equal(r.discriminator === undefined, lambdaAdv === 0);
    if (lambdaAdv === 0) assert.ok(r.history.dLoss.every(Number.isNaN) && r.history.adv.every((a) => a === 0));
    else assert.ok(r.history.dLoss.every(Number.isFinite));
    const first = r.history.l1.slice(0, 3).reduce((a, b) => a + b) / 3;
    const last = r.history.l1.slice(-3).reduce((a, b) => a + b) / 3;
    assert.ok(last < 0.8 * first, `λ_adv ${lambdaAdv}: L1 ${first} → ${last}`);
    const out = translateImages(r.generator, train.input, 12);
    assert.equal(out.length, 32 * 28 * 28 * 3);
    const l1 = tf.tidy(() => tf.mean(tf.abs(tf.sub(tf.tensor4d(out, [32, 28, 28, 3]), y))).dataSync()[0]);
    assert.ok(l1 < first, `test-time L1 ${l1} vs first ${first}`);
    const netTensors = r.generator.variables.length + (r.discriminator?.variables.length ?? 0);
    assert.equal(tf.memory().numTensors, before + netTensors);
    r.dispose();
    assert.equal(tf.memory().numTensors, before);
  }
  // Same seed, same run.
  const a = await trainPix2pix(train, { ...small, steps: 3 });
  const b = await trainPix2pix(train, { ...small, steps: 3 });
  assert.deepEqual(a.history.l1, b.history.l1);
  a.dispose();
  b.dispose();
  const counts = await tensorCounts(async () => (await trainPix2pix(train, { ...small, steps: 2 })).dispose());
  assert.equal(new Set(counts).size, 1);
  await assert.rejects(trainPix2pix({ input: train.input, target: { ...train.target, count: 3 } }, small), AdvxError);
  tf.dispose([x, y]);
});
