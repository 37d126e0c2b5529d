/**
 * One divergence policy for the GAN trainers (src/train/core.ts): a non-finite loss or gradient is
 * refused before it reaches the weights or the optimizer's state, as a TrainingDivergedError (a
 * GanDivergedError naming the network); and evaluateGenerator is what `advx gan evaluate` prints.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { advx, lastJson } from '../helpers/cli.ts';
import { useBackend } from '../../src/backend/index.ts';
import { enableRelaxedSimd } from '../../src/cli/relaxed-simd.ts';
import { Rng } from '../../src/core/rng.ts';
import type { ImageDataset } from '../../src/data/types.ts';
import { buildGenerator } from '../../src/gan/dcgan.ts';
import { LOSS_DEFAULTS } from '../../src/gan/losses.ts';
import { evaluateGenerator } from '../../src/gan/metrics.ts';
import { buildToyNetworks } from '../../src/gan/networks.ts';
import { buildPix2pixDiscriminator, buildPix2pixGenerator, pix2pixStep, trainPix2pix, type Pix2pixState } from '../../src/gan/pix2pix.ts';
import { createImageGanState, disposeImageGanState, ganStepConfig, imageBatch, imageGanOptimizers, imageGanStep, imageGanWeights } from '../../src/gan/train-images.ts';
import { ganUpdate, trainGan, type GanUpdate } from '../../src/gan/train.ts';
import { GanDivergedError, ganUpdateSettings } from '../../src/gan/update.ts';
import { loadDataset } from '../../src/node/datasets/index.ts';
import { saveGenerator } from '../../src/node/runs/gan-files.ts';
import { loadClassifier } from '../../src/node/io/load-model.ts';
import { TrainingDivergedError } from '../../src/train/core.ts';

// As the CLI does (src/cli/relaxed-simd.ts): the native kernels' relaxed-SIMD build where the engine
// has it, so that the numbers computed here and those `advx gan evaluate` prints come from the same
// kernels (fused multiply-adds round differently in the last bits).
before(() => {
  enableRelaxedSimd();
  return useBackend('wasm', { threads: 1 });
});

/** Copies of the weights and of the optimizers' state, as plain arrays. */
async function snapshot(weights: tf.Tensor[], optimizers: Array<Pick<tf.Optimizer, 'getWeights'>>): Promise<number[][]> {
  const out = weights.map((w) => Array.from(w.dataSync()));
  for (const opt of optimizers) {
    for (const { tensor } of await opt.getWeights()) {
      out.push(Array.from(tensor.dataSync()));
      // Adam's iteration count is a fresh scalar; its moments are its own variables.
      if (!(tensor instanceof tf.Variable)) tensor.dispose();
    }
  }
  return out;
}

const diverged = (step: number, network: string) => (e: unknown) =>
  e instanceof TrainingDivergedError && e instanceof GanDivergedError && e.step === step && e.network === network && e.part === network && /diverged at step \d+/.test(e.message);

test('per-loss defaults live in one place: WGAN-GP trains its critic 5 times with λ = 10, the others once, unpenalised', () => {
  assert.deepEqual(LOSS_DEFAULTS['wgan-gp'], { gpWeight: 10, dSteps: 5 });
  for (const loss of ['minimax', 'ns', 'hinge', 'lsgan'] as const) assert.deepEqual(LOSS_DEFAULTS[loss], { gpWeight: 0, dSteps: 1 });
  assert.deepEqual(ganUpdateSettings({ loss: 'wgan-gp' }, 64), { loss: 'wgan-gp', batchSize: 64, dSteps: 5, gpWeight: 10, r1Gamma: 0 });
  assert.deepEqual(ganStepConfig({ loss: 'ns', dSteps: 2 }), { loss: 'ns', batchSize: 64, dSteps: 2, gpWeight: 0, r1Gamma: 0, ema: 0, augment: [] });
  assert.throws(() => ganUpdateSettings({ loss: 'wgan' as 'ns' }, 64), /loss must be one of/);
});

test('toy GAN: a NaN batch at step 2 is refused; weights and Adam state stay as after step 1; nothing leaks', async () => {
  const before = tf.memory().numTensors;
  const { generator, discriminator } = buildToyNetworks({ seed: 4, generatorHidden: [8], discriminatorHidden: [8] });
  const u: GanUpdate = { generator, discriminator, optG: tf.train.adam(1e-3), optD: tf.train.adam(1e-3), dataDim: 2, ...ganUpdateSettings({ loss: 'wgan-gp', dSteps: 2 }, 16) };
  const rng = new Rng(1);
  const ring = (n: number) => Float32Array.from({ length: 2 * n }, (_, i) => Math.cos(i));
  const first = await ganUpdate(u, ring, rng, 1);
  assert.ok(Number.isFinite(first.dLoss) && Number.isFinite(first.gLoss) && first.gradNorm > 0);
  const state = () => snapshot([...generator.variables, ...discriminator.variables], [u.optG, u.optD]);
  const good = await state();
  await assert.rejects(ganUpdate(u, (n) => new Float32Array(2 * n).fill(NaN), rng, 2), diverged(2, 'discriminator'));
  assert.deepEqual(await state(), good);
  // A huge learning rate: the weights blow up, and the first non-finite update is refused.
  const wild = buildToyNetworks({ seed: 4, generatorHidden: [8], discriminatorHidden: [8] });
  await assert.rejects(
    trainGan(ring, { loss: 'ns', seed: 1, steps: 50, batchSize: 16, learningRate: 1e30, lrDecay: false, generator: wild.generator, discriminator: wild.discriminator }),
    (e: unknown) => e instanceof TrainingDivergedError,
  );
  assert.ok([...wild.generator.variables, ...wild.discriminator.variables].every((v) => v.dataSync().every(Number.isFinite)), 'no non-finite update applied');
  for (const x of [generator, discriminator, wild.generator, wild.discriminator]) x.dispose();
  u.optG.dispose();
  u.optD.dispose();
  assert.equal(tf.memory().numTensors, before);
});

/** n 28×28 images of a grey square, labels k mod 10. */
function squares(n: number): ImageDataset {
  const images = new Float32Array(n * 784);
  for (let k = 0; k < n; k++) for (let y = 8; y < 20; y++) for (let x = 8; x < 20; x++) images[k * 784 + y * 28 + x] = 0.2 + (k % 5) / 10;
  return { name: 'squares', images, labels: Uint8Array.from({ length: n }, (_, k) => k % 10), shape: [28, 28, 1], numClasses: 10, classNames: [], count: n };
}

test('image GAN: a NaN batch at step 2 is refused; weights, EMA and both optimizers stay as after step 1; nothing leaks', async () => {
  const before = tf.memory().numTensors;
  const data = squares(16);
  const state = createImageGanState({ seed: 2, loss: 'hinge', width: 8, latentDim: 8, numClasses: 10, ema: 0.9 });
  const cfg = ganStepConfig({ loss: 'hinge', batchSize: 8, ema: 0.9, r1Gamma: 1 });
  const rng = new Rng(3);
  await imageGanStep(state, cfg, () => imageBatch(data, 8, rng), rng);
  const weights = imageGanWeights(state);
  const now = () => snapshot(weights.getWeights(), [imageGanOptimizers(state)]);
  const good = await now();
  const poisoned = () => {
    const b = imageBatch(data, 8, rng);
    const x = tf.fill(b.x.shape, NaN) as tf.Tensor4D;
    b.x.dispose();
    return { x, labels: b.labels };
  };
  await assert.rejects(imageGanStep(state, cfg, poisoned, rng), diverged(2, 'discriminator'));
  assert.equal(state.step, 1);
  assert.deepEqual(await now(), good, "G's BN statistics, moved by the refused step's fakes, are put back too");
  disposeImageGanState(state);
  assert.equal(tf.memory().numTensors, before);
});

test('pix2pix: a NaN target is refused (by D, or by G in the L1-only baseline); weights and optimizers intact; nothing leaks', async () => {
  const before = tf.memory().numTensors;
  const x = tf.randomUniform([4, 28, 28, 1], 0, 1, 'float32', 1) as tf.Tensor4D;
  const y = tf.randomUniform([4, 28, 28, 3], 0, 1, 'float32', 2) as tf.Tensor4D;
  const bad = tf.fill([4, 28, 28, 3], NaN) as tf.Tensor4D;
  for (const lambdaAdv of [1, 0]) {
    const net = { inChannels: 1, outChannels: 3, width: 4, seed: 5 };
    const s: Pix2pixState = { generator: buildPix2pixGenerator(net), gOpt: tf.train.adam(2e-4) };
    if (lambdaAdv) Object.assign(s, { discriminator: buildPix2pixDiscriminator(net), dOpt: tf.train.adam(2e-4) });
    const weights = { lambdaAdv, lambdaL1: 100 };
    const r = await pix2pixStep(s, x, y, 1, weights);
    assert.deepEqual(r.parts.shape, [2]);
    r.parts.dispose();
    const now = () => snapshot([...s.generator.variables, ...(s.discriminator?.variables ?? [])], [s.gOpt, ...(s.dOpt ? [s.dOpt] : [])]);
    const good = await now();
    await assert.rejects(pix2pixStep(s, x, bad, 2, weights), diverged(2, lambdaAdv ? 'discriminator' : 'generator'));
    assert.deepEqual(await now(), good);
    s.generator.dispose();
    s.discriminator?.dispose();
    s.gOpt.dispose();
    s.dOpt?.dispose();
  }
  tf.dispose([x, y, bad]);
  assert.equal(tf.memory().numTensors, before);
  // The whole trainer: refused at the first step, its networks freed.
  const input = squares(8);
  const target = { ...squares(8), images: new Float32Array(8 * 784).fill(NaN) };
  await assert.rejects(trainPix2pix({ input, target }, { steps: 3, seed: 1, batchSize: 4, width: 4 }), diverged(1, 'discriminator'));
  assert.equal(tf.memory().numTensors, before);
});

test('evaluateGenerator gives the numbers `advx gan evaluate --json` prints, and frees what it makes', async () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'advx-gan-eval-')), 'model');
  const generator = buildGenerator({ seed: 7, width: 8, latentDim: 8, numClasses: 10 });
  await saveGenerator(dir, generator, { arch: 'cgan', dataset: 'mnist', classNames: [], loss: 'ns', steps: 0, ema: false });
  const n = 60;
  const r = advx(['gan', 'evaluate', '--model', dir, '--n', String(n), '--seed', '3', '--threads', '1', '--json']);
  assert.equal(r.status, 0, r.stderr);
  const cli = lastJson(r.stdout);

  const loaded = await loadClassifier('models/mnist-cnn');
  const real = loadDataset('mnist', { limit: { train: 0, test: n } }).test;
  const realX = tf.tensor4d(real.images, [real.count, ...real.shape]);
  const before = tf.memory().numTensors;
  const m = await evaluateGenerator(generator, { classifier: loaded.classifier, features: loaded.layers! }, realX, { n, seed: 3 });
  assert.equal(tf.memory().numTensors, before);
  assert.deepEqual(Object.keys(m), ['fid', 'kid', 'kid_std', 'classes_covered', 'kl_to_uniform', 'precision', 'recall', 'histogram', 'class_accuracy']);
  for (const [k, v] of Object.entries(m)) assert.deepEqual(v, cli[k], k);
  // n = 60 ≤ KID's subset size 1000: one subset, all the samples, so no spread is claimed (not '± 0.0000').
  assert.equal(m.kid_std, null);
  const text = advx(['gan', 'evaluate', '--model', dir, '--n', String(n), '--seed', '3', '--threads', '1']);
  assert.equal(text.status, 0, text.stderr);
  assert.match(text.stdout, /KID -?\d\.\d{4} \(all 60 samples in one subset: no spread\)/);
  assert.doesNotMatch(text.stdout, /±/);
  await assert.rejects(evaluateGenerator(generator, { classifier: loaded.classifier, features: loaded.layers! }, tf.zeros([2, 32, 32, 1]) as tf.Tensor4D, { n, seed: 3 }), /real images are 32×32×1, the generator makes 28×28×1/);
  realX.dispose();
  generator.model.dispose();
  loaded.layers?.dispose();
});
