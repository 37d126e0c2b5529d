import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { tensorCounts } from '../helpers/backend.ts';
import { useBackend } from '../../src/backend/index.ts';
import { AdvxError } from '../../src/core/errors.ts';
import { Rng } from '../../src/core/rng.ts';
import { gridOfGaussians, ringOfGaussians } from '../../src/data/toy2d.ts';
import { buildMlp, buildToyNetworks, cloneMlp } from '../../src/gan/networks.ts';
import { sampleGenerator, trainGan, type GanTrainOptions } from '../../src/gan/train.ts';
import { GanDivergedError } from '../../src/gan/update.ts';
import { CAPTURE_SHARE, modeCoverage, toyMixture } from '../../src/gan/toy-metrics.ts';

// One WASM thread: for these tiny matrices the threads' synchronisation costs more than it saves.
before(() => useBackend('wasm', { threads: 1 }));

const ring = toyMixture('ring');
const sampleRing = (n: number, rng: Rng) => ring.sample(n, rng);
const small: GanTrainOptions = {
  loss: 'ns',
  steps: 20,
  seed: 1,
  batchSize: 64,
  generatorHidden: [32, 32],
  discriminatorHidden: [32, 32],
  logEvery: 10,
};

test('toy mixtures reuse toy2d.ts: 8 modes on the circle of radius 2, a 5×5 grid at {−4…4}², σ 0.02', () => {
  assert.deepEqual(ring.centers, ringOfGaussians(1).centers);
  assert.equal(ring.centers.length, 16);
  assert.ok(Math.abs(Math.hypot(ring.centers[2], ring.centers[3]) - 2) < 1e-6);
  const grid = toyMixture('grid');
  assert.deepEqual(grid.centers, gridOfGaussians(1).centers);
  assert.deepEqual([grid.centers[0], grid.centers[1], grid.centers[48], grid.centers[49]], [-4, -4, 4, 4]);
  assert.throws(() => toyMixture('spiral' as 'ring'), AdvxError);
});

test('mode coverage: real samples capture every mode at ~99% quality; collapsed samples capture one', () => {
  // Within 3σ of the centre holds 1 − e^{−9/2} ≈ 98.9% of a 2-D Gaussian: the ceiling for real data.
  for (const [name, data] of [['ring', ringOfGaussians(2500, { seed: 4 })], ['grid', gridOfGaussians(2500, { seed: 4 })]] as const) {
    const c = modeCoverage(data.points, data.centers!, 0.02);
    assert.equal(c.modesCaptured, c.totalModes, name);
    assert.equal(c.totalModes, name === 'ring' ? 8 : 25);
    assert.ok(c.highQualityShare > 0.98 && c.highQualityShare <= 1, `${name} ${c.highQualityShare}`);
    assert.equal(c.minCount, 20); // PacGAN: 20 of 2 500
    assert.ok(c.meanDistance < 0.03);
  }
  const collapsed = ringOfGaussians(2500, { seed: 5, modes: 1, radius: 2 }).points; // all at ring mode 0, (2, 0)
  const c = modeCoverage(collapsed, ring.centers, 0.02);
  assert.equal(c.modesCaptured, 1);
  assert.ok(c.perMode[0] > 2400 && c.perMode.slice(1).every((n) => n === 0));
  // Off-mode and NaN samples are low quality; a mode with fewer than minCount samples is not captured.
  const bad = new Float32Array([0, 0, NaN, 1, 2, 0, 2.01, 0]);
  const b = modeCoverage(bad, ring.centers, 0.02, { minCount: 3 });
  assert.equal(b.highQualityShare, 0.5);
  assert.equal(b.modesCaptured, 0);
  assert.equal(CAPTURE_SHARE, 0.008);
  assert.throws(() => modeCoverage(new Float32Array(3), ring.centers, 0.02), AdvxError);
});

test('a short seeded training run on the ring pulls samples towards the modes', async () => {
  const options: GanTrainOptions = { ...small, steps: 400, batchSize: 128, generatorHidden: [64, 64], discriminatorHidden: [64, 64], learningRate: 5e-3, logEvery: 100, ema: 0.99 };
  const untrained = buildToyNetworks(options); // the networks trainGan starts from
  const before = modeCoverage(await sampleGenerator(untrained.generator, 1000, 9), ring.centers, ring.std);
  untrained.generator.dispose();
  untrained.discriminator.dispose();
  const steps: number[] = [];
  const r = await trainGan(sampleRing, { ...options, onStep: (s) => steps.push(s.step) });
  assert.deepEqual(steps, [100, 200, 300, 400]);
  assert.equal(r.history.dLoss.length, 400);
  assert.ok(r.history.gradNorm.every((n) => Number.isFinite(n) && n >= 0));
  const after = modeCoverage(await sampleGenerator(r.generator, 1000, 9), ring.centers, ring.std);
  assert.ok(after.meanDistance < 0.5 * before.meanDistance, `mean distance to the nearest mode ${before.meanDistance} → ${after.meanDistance}`);
  assert.ok(r.ema);
  const ema = modeCoverage(await sampleGenerator(r.ema, 1000, 9), ring.centers, ring.std);
  assert.ok(ema.meanDistance < before.meanDistance, `EMA ${ema.meanDistance}`);
  r.dispose();
});

test('the same seed gives the same losses and samples; another seed does not', async () => {
  const run = async (seed: number) => {
    const r = await trainGan(sampleRing, { ...small, loss: 'wgan-gp', dSteps: 2, seed });
    const x = await sampleGenerator(r.generator, 50, 3);
    r.dispose();
    return { losses: r.history.dLoss, x };
  };
  const [a, b, c] = [await run(4), await run(4), await run(5)];
  assert.deepEqual(a, b);
  assert.notDeepEqual(a.x, c.x);
});

test('no tensor leaks across repeated runs, with EMA, R1 and the gradient penalty', async () => {
  const counts = await tensorCounts(async () => {
    for (const loss of ['minimax', 'hinge', 'lsgan', 'wgan-gp'] as const) {
      const r = await trainGan(sampleRing, { ...small, loss, steps: 6, logEvery: 4, ema: 0.9, r1Gamma: loss === 'hinge' ? 1 : 0, dSteps: 2 });
      r.dispose();
    }
  });
  assert.equal(new Set(counts).size, 1, `tensor counts ${counts}`);
});

test('NaN losses stop training with a clear error; bad options are AdvxErrors', async () => {
  const before = tf.memory().numTensors;
  const poisoned = (n: number, rng: Rng) => {
    const x = ring.sample(n, rng);
    x[0] = NaN;
    return x;
  };
  await assert.rejects(trainGan(poisoned, { ...small, steps: 5, logEvery: 2 }), (e: unknown) => e instanceof GanDivergedError && e.step === 1 && e.network === 'discriminator' && /diverged at step 1/.test(e.message));
  assert.equal(tf.memory().numTensors, before, 'nothing leaks on the error path');
  await assert.rejects(trainGan(sampleRing, { ...small, loss: 'wgan' as 'ns' }), /loss must be one of/);
  await assert.rejects(trainGan(sampleRing, { ...small, steps: 1.5 }), AdvxError);
  await assert.rejects(trainGan(sampleRing, { ...small, ema: 1 }), /ema must be in \[0, 1\)/);
  const g = buildMlp({ sizes: [8, 4, 2], seed: 1 });
  await assert.rejects(trainGan(sampleRing, { ...small, generator: g }), /both a generator and a discriminator/);
  g.dispose();
});

test('MLP weights: snapshots, restore, copies, shape checks', () => {
  const net = buildMlp({ sizes: [2, 3, 1], seed: 2 });
  const same = buildMlp({ sizes: [2, 3, 1], seed: 2 });
  assert.deepEqual(net.variables[0].dataSync(), same.variables[0].dataSync());
  const snapshot = net.getWeights();
  const x = tf.tensor2d([1, 2, -1, 0.5], [2, 2]);
  const y0 = net.apply(x).dataSync();
  const copy = cloneMlp(net);
  net.variables[0].assign(tf.zerosLike(net.variables[0]));
  assert.notDeepEqual(net.apply(x).dataSync(), y0);
  assert.deepEqual(copy.apply(x).dataSync(), y0);
  net.setWeights(snapshot);
  assert.deepEqual(net.apply(x).dataSync(), y0);
  assert.throws(() => net.setWeights(snapshot.slice(1)), /has 4 weight tensors, got 3/);
  assert.throws(() => net.setWeights([tf.zeros([3, 3]), ...snapshot.slice(1)]), /weight 0 has shape \[2,3\]/);
  assert.throws(() => net.apply(tf.zeros([1, 3]) as tf.Tensor2D), /expects inputs \[n, 2\]/);
  assert.throws(() => buildMlp({ sizes: [2], seed: 1 }), AdvxError);
  tf.dispose([...snapshot, x]);
  [net, same, copy].forEach((n) => n.dispose());
});
