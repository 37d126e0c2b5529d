import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { setup, tensorCounts } from '../helpers/backend.ts';
import { AdvxError } from '../../src/core/errors.ts';
import { Rng } from '../../src/core/rng.ts';
import type { ImageDataset } from '../../src/data/types.ts';
import { buildDcgan, buildDiscriminator, buildGenerator, generate, generatorVariables, generatorWeights, latentInterpolation, parseGanArch } from '../../src/gan/dcgan.ts';
import { r1Penalty } from '../../src/gan/losses.ts';
import {
  createImageGanState,
  diffAugment,
  disposeImageGanState,
  imageGanOptimizers,
  imageGanWeights,
  sampleImages,
  standingStatistics,
  trainImageGan,
  type ImageGanOptions,
} from '../../src/gan/train-images.ts';
import { sampleLatent } from '../../src/gan/train.ts';
import { GanDivergedError } from '../../src/gan/update.ts';

before(() => setup('wasm'));

const count = (vars: tf.Variable[]) => vars.reduce((a, v) => a + v.size, 0);

/** n images of size×size×c: a bright square in the middle on black, with labels k mod 10. */
function squares(n: number, size = 28, c = 1, value = 1): ImageDataset {
  const images = new Float32Array(n * size * size * c);
  for (let k = 0; k < n; k++) {
    for (let y = 8; y < size - 8; y++) for (let x = 8; x < size - 8; x++) for (let ch = 0; ch < c; ch++) images[((k * size + y) * size + x) * c + ch] = value;
  }
  return { name: 'squares', images, labels: Uint8Array.from({ length: n }, (_, k) => k % 10), shape: [size, size, c], numClasses: 10, classNames: [], count: n };
}

const tiny: Omit<ImageGanOptions, 'steps'> = { loss: 'ns', seed: 3, batchSize: 16 };

test('the default DCGAN is the dcgan-step workload: 28×28 tanh images, logits, PyTorch parameter counts', () => {
  const { generator: g, discriminator: d } = buildDcgan({ seed: 0 });
  // PyTorch reference: G 100·6272+6272 + 2·6272 + 4·4·128·64+64 + 2·64 + 4·4·64·1+1; D 4·4·64+64 + 4·4·64·128+128 + 2·128 + 6272+1.
  assert.equal(count(generatorVariables(g)), 778_305);
  assert.equal(count(d.variables), 138_817);
  const z = sampleLatent(new Rng(1), 5, 100);
  const x = generate(g, z);
  assert.deepEqual(x.shape, [5, 28, 28, 1]);
  const v = x.dataSync();
  assert.ok(v.every((p) => p >= -1 && p <= 1), 'tanh range');
  assert.ok(Math.max(...v) - Math.min(...v) > 1e-3, 'not constant');
  const logits = d.apply(x);
  assert.deepEqual(logits.shape, [5, 1]);
  assert.ok(logits.dataSync().every(Number.isFinite));
  tf.dispose([z, x, logits]);
  g.model.dispose();
  d.dispose();
});

test('width scales the networks; 32×32 colour images work; other sizes and architectures are refused', () => {
  const small = buildDcgan({ seed: 0, width: 32 });
  const big = buildDcgan({ seed: 0, width: 64 });
  assert.ok(count(generatorVariables(small.generator)) < count(generatorVariables(big.generator)) / 1.5);
  assert.ok(count(small.discriminator.variables) < count(big.discriminator.variables) / 3);
  const { generator: g, discriminator: d } = buildDcgan({ seed: 0, width: 8, imageSize: 32, channels: 3 });
  const z = sampleLatent(new Rng(2), 2, 100);
  const x = generate(g, z);
  assert.deepEqual(x.shape, [2, 32, 32, 3]);
  assert.deepEqual(d.apply(x).shape, [2, 1]);
  assert.throws(() => d.apply(tf.zeros([2, 28, 28, 3]) as tf.Tensor4D), /takes images \[n, 32,32,3\]/);
  tf.dispose([z, x]);
  for (const n of [small, big, { generator: g, discriminator: d }]) {
    n.generator.model.dispose();
    n.discriminator.dispose();
  }
  assert.throws(() => buildGenerator({ seed: 0, imageSize: 64 }), (e: Error) => e instanceof AdvxError && /28×28 or 32×32 images only.*not 64×64/.test(e.message));
  assert.throws(() => buildDiscriminator({ seed: 0, imageSize: 30 }), AdvxError);
  assert.throws(() => parseGanArch('stylegan'), /unknown GAN architecture "stylegan": choose one of dcgan, cgan/);
  assert.equal(parseGanArch('CGAN'), 'cgan');
});

test('conditional: the label changes the image for the same z and the logit for the same image; labels are required', () => {
  const { generator: g, discriminator: d } = buildDcgan({ seed: 4, width: 8, numClasses: 10 });
  const z = tf.tile(sampleLatent(new Rng(3), 1, 100), [2, 1]) as tf.Tensor2D;
  const x = generate(g, z, tf.tensor1d([1, 7], 'int32'));
  const [a, b] = tf.unstack(x).map((t) => t.dataSync() as Float32Array);
  const diff = a.reduce((s, v, i) => s + Math.abs(v - b[i]), 0);
  assert.ok(diff > 1e-3, `images differ by ${diff}`);
  const same = tf.tile(tf.slice(x, [0, 0, 0, 0], [1, -1, -1, -1]), [2, 1, 1, 1]) as tf.Tensor4D;
  const logits = d.apply(same, tf.tensor1d([1, 7], 'int32')).dataSync();
  assert.notEqual(logits[0], logits[1]);
  assert.throws(() => generate(g, z), /class-conditional \(10 classes\)/);
  assert.throws(() => d.apply(same), /class-conditional/);
  g.model.dispose();
  d.dispose();
});

test('gradients reach every generator weight through D, and R1 differentiates D twice', () => {
  const { generator: g, discriminator: d } = buildDcgan({ seed: 5, width: 8 });
  const z = sampleLatent(new Rng(4), 8, 100);
  const gVars = generatorVariables(g);
  const { grads } = tf.variableGrads(() => tf.mean(d.apply(generate(g, z, undefined, true))) as tf.Scalar, gVars);
  for (const v of gVars) {
    const norm = tf.norm(grads[v.name]).dataSync()[0];
    assert.ok(Number.isFinite(norm) && norm > 0, `${v.name}: ‖grad‖ ${norm}`);
  }
  const real = tf.randomUniform([8, 28 * 28], -1, 1, 'float32', 1) as tf.Tensor2D;
  const critic = (v: tf.Tensor2D) => d.apply(tf.reshape(v, [8, 28, 28, 1]) as tf.Tensor4D);
  const r1 = tf.variableGrads(() => r1Penalty(critic, real), d.variables);
  assert.ok(r1.value.dataSync()[0] > 0);
  // Every weight gets an R1 gradient except two the input gradient ∇ₓD does not depend on: the last
  // bias, and the norm's shift β (it moves pre-activations, where the leaky ReLU's slope is piecewise constant).
  const zero = d.variables.filter((v) => !r1.grads[v.name] || tf.norm(r1.grads[v.name]).dataSync()[0] === 0).map((v) => v.name.split('/').slice(1).join('/'));
  assert.deepEqual(zero, ['norm/beta', 'dense/bias']);
  tf.dispose([z, real, grads, r1.grads, r1.value]);
  g.model.dispose();
  d.dispose();
});

test('DiffAugment translation shifts whole images with zero padding; cutout blanks a square', () => {
  const img = new Float32Array(2 * 8 * 8);
  img[3 * 8 + 3] = 1;
  img[64 + 3 * 8 + 3] = 1;
  const x = tf.tensor4d(img, [2, 8, 8, 1]);
  const aug = diffAugment(['translation'], 2, [8, 8, 1], new Rng(9));
  const out = aug(x).dataSync();
  for (let k = 0; k < 2; k++) {
    const pix = Array.from(out.subarray(k * 64, (k + 1) * 64));
    assert.equal(pix.filter((v) => v !== 0).length, 1, 'one pixel, moved by at most 1');
    const at = pix.indexOf(1);
    assert.ok(Math.abs(Math.floor(at / 8) - 3) <= 1 && Math.abs((at % 8) - 3) <= 1);
  }
  const ones = tf.ones([1, 8, 8, 1]) as tf.Tensor4D;
  const cut = diffAugment(['cutout'], 1, [8, 8, 1], new Rng(1))(ones).dataSync();
  const zeros = cut.filter((v) => v === 0).length;
  assert.ok(zeros > 0 && zeros <= 16, `${zeros} blanked pixels`);
  const g = tf.grad((v: tf.Tensor) => tf.sum(aug(v as tf.Tensor4D)))(x);
  assert.ok(g.dataSync().some((v) => v === 1));
  tf.dispose([x, ones, g]);
});

test('a few steps move the generator toward the data and the same seed repeats the run exactly', async () => {
  const data = squares(64);
  const run = async (steps: number) => {
    const state = createImageGanState({ seed: 3, width: 8, learningRate: 2e-3 });
    const before = await sampleImages(state.generator, 16, 1);
    const r = await trainImageGan(data, state, { ...tiny, steps });
    const after = await sampleImages(state.generator, 16, 1);
    disposeImageGanState(state);
    return { before, after, history: r.history };
  };
  // The data's mean pixel is 144/784 ≈ 0.18; the generator starts near 0.5 (tanh(≈0) mapped to [0, 1]).
  const mean = (a: Float32Array) => a.reduce((s, v) => s + v, 0) / a.length;
  const a = await run(25);
  assert.ok(mean(a.after) < mean(a.before) - 0.1, `mean pixel ${mean(a.before).toFixed(3)} → ${mean(a.after).toFixed(3)}`);
  assert.equal(a.history.dLoss.length, 25);
  const b = await run(25);
  assert.deepEqual(b.history.dLoss, a.history.dLoss);
  assert.deepEqual(b.history.gLoss, a.history.gLoss);
});

test('continuing from copied weights and optimizer state gives exactly the uninterrupted run', async () => {
  const data = squares(40);
  const opts = { loss: 'hinge' as const, seed: 8, batchSize: 8, ema: 0.9, r1Gamma: 0.5, augment: ['translation' as const] };
  const fresh = () => createImageGanState({ seed: 8, width: 4, numClasses: 10, ema: 0.9, loss: 'hinge' });
  const full = fresh();
  const whole = await trainImageGan(data, full, { ...opts, steps: 4 });
  const first = fresh();
  const half = await trainImageGan(data, first, { ...opts, steps: 2 });
  const second = fresh();
  imageGanWeights(second).setWeights(imageGanWeights(first).getWeights());
  const optWeights = await imageGanOptimizers(first).getWeights();
  await imageGanOptimizers(second).setWeights(optWeights);
  tf.dispose(optWeights.filter((w) => !(w.tensor instanceof tf.Variable)).map((w) => w.tensor));
  second.step = first.step;
  const rest = await trainImageGan(data, second, { ...opts, steps: 4 });
  assert.deepEqual([...half.history.dLoss, ...rest.history.dLoss], whole.history.dLoss);
  assert.deepEqual([...half.history.gLoss, ...rest.history.gLoss], whole.history.gLoss);
  const [x, y] = [imageGanWeights(full).getWeights(), imageGanWeights(second).getWeights()];
  x.forEach((t, i) => assert.deepEqual(t.dataSync(), y[i].dataSync()));
  [full, first, second].forEach(disposeImageGanState);
});

test('every loss trains a step with finite values; training leaks no tensors', async () => {
  const data = squares(32);
  for (const loss of ['minimax', 'lsgan', 'wgan-gp'] as const) {
    const state = createImageGanState({ seed: 1, width: 4, loss });
    const r = await trainImageGan(data, state, { ...tiny, loss, steps: 1, dSteps: 1 });
    assert.ok(Number.isFinite(r.history.dLoss[0]) && Number.isFinite(r.history.gLoss[0]), loss);
    disposeImageGanState(state);
  }
  const counts = await tensorCounts(async () => {
    const state = createImageGanState({ seed: 2, width: 4, numClasses: 10, ema: 0.99 });
    await trainImageGan(data, state, { ...tiny, steps: 2, ema: 0.99, r1Gamma: 1, augment: ['translation', 'cutout'] });
    await sampleImages(state.ema!, 4, 0);
    const z = latentInterpolation(100, 2, 3, 0);
    assert.deepEqual(z.shape, [6, 100]);
    z.dispose();
    disposeImageGanState(state);
  });
  assert.equal(new Set(counts).size, 1, `tensor counts ${counts}`);
});

test('a NaN stops training with GanDivergedError before the update reaches the weights', async () => {
  const data = squares(16);
  for (let k = 0; k < data.count; k++) data.images[k * 784 + 5] = NaN;
  const state = createImageGanState({ seed: 1, width: 4 });
  const before = imageGanWeights(state).getWeights().map((w) => w.dataSync().slice());
  await assert.rejects(trainImageGan(data, state, { ...tiny, steps: 3 }), (e: Error) => e instanceof GanDivergedError && e.step === 1 && e.network === 'discriminator' && /diverged at step 1/.test(e.message));
  const after = imageGanWeights(state).getWeights();
  // The discriminator (last in the list) is untouched.
  const dStart = after.length - state.discriminator.variables.length;
  after.slice(dStart).forEach((w, i) => assert.deepEqual(w.dataSync(), before[dStart + i]));
  assert.equal(state.step, 0);
  disposeImageGanState(state);
  assert.throws(() => createImageGanState({ seed: 1, learningRate: -1 }), /learning rate must be a positive number/);
  const ok = createImageGanState({ seed: 1, width: 4 });
  await assert.rejects(trainImageGan(squares(4, 32), ok, { ...tiny, steps: 1 }), /32×32×1, but the generator makes 28×28×1/);
  disposeImageGanState(ok);
});

test('standing statistics re-measure only the BN moving statistics, so eval-mode samples match training mode', () => {
  const g = buildGenerator({ seed: 6, width: 8 });
  const trainable = new Set(generatorVariables(g).map((v) => v.name));
  const before = generatorWeights(g).map((w) => w.dataSync().slice());
  standingStatistics(g, { seed: 1 });
  generatorWeights(g).forEach((w, i) => {
    const same = w.dataSync().every((v, j) => v === before[i][j]);
    assert.equal(same, trainable.has(w.name), w.name);
  });
  // Eval mode with the re-measured statistics ≈ training mode (batch statistics) on a large batch.
  const z = sampleLatent(new Rng(2), 256, 100);
  const [ev, tr] = [generate(g, z, undefined, false), generate(g, z, undefined, true)];
  const gap = tf.mean(tf.abs(tf.sub(ev, tr))).dataSync()[0];
  const scale = tf.mean(tf.abs(tr)).dataSync()[0];
  // (With the initial statistics, mean 0 and variance 1, the gap is about as large as the output itself.)
  assert.ok(gap < 0.2 * scale, `eval/train gap ${gap} vs mean |x| ${scale}`);
  tf.dispose([z, ev, tr]);
  g.model.dispose();
});
