import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../../src/backend/index.ts';
import { AdvxError } from '../../src/core/errors.ts';
import { GAN_LOSSES, discriminatorLoss, generatorLoss, gradientPenalty, parseGanLoss, r1Penalty } from '../../src/gan/losses.ts';
import { saturationDiagnostic } from '../../src/gan/diagnostics.ts';
import { toyMixture } from '../../src/gan/toy-metrics.ts';

// One WASM thread: for these tiny matrices the threads' synchronisation costs more than it saves.
before(() => useBackend('wasm', { threads: 1 }));

const sp = (x: number) => Math.log1p(Math.exp(x));
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const close = (a: number, b: number, tol = 1e-5) => assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${a} ≠ ${b}`);

test('parseGanLoss: names, aliases, and a clear error for an unknown loss', () => {
  for (const l of GAN_LOSSES) assert.equal(parseGanLoss(l), l);
  assert.equal(parseGanLoss('vanilla'), 'minimax');
  assert.equal(parseGanLoss('Non-Saturating'), 'ns');
  assert.equal(parseGanLoss('least-squares'), 'lsgan');
  assert.throws(() => parseGanLoss('wgan-clip'), (e: unknown) => e instanceof AdvxError && /unknown GAN loss "wgan-clip".*minimax, ns, hinge, lsgan, wgan-gp/.test(e.message));
});

test('losses match hand-computed values on small logits', () => {
  const real = tf.tensor1d([2, -1]);
  const fake = tf.tensor1d([-3, 0.5]);
  const d = (l: (typeof GAN_LOSSES)[number]) => discriminatorLoss(l, real, fake).dataSync()[0];
  const g = (l: (typeof GAN_LOSSES)[number]) => generatorLoss(l, fake).dataSync()[0];
  const bce = (sp(-2) + sp(1)) / 2 + (sp(-3) + sp(0.5)) / 2;
  close(d('minimax'), bce);
  close(d('ns'), bce);
  close(g('minimax'), -(sp(-3) + sp(0.5)) / 2); // E log(1 − σ(l))
  close(g('ns'), (sp(3) + sp(-0.5)) / 2); // −E log σ(l)
  close(d('hinge'), (0 + 2) / 2 + (0 + 1.5) / 2);
  close(g('hinge'), 1.25);
  close(d('lsgan'), 0.5 * ((1 + 4) / 2 + (9 + 0.25) / 2));
  close(g('lsgan'), 0.5 * ((16 + 0.25) / 2));
  close(d('wgan-gp'), -1.25 - 0.5);
  close(g('wgan-gp'), 1.25);
  tf.dispose([real, fake]);
});

test('confident logits give finite losses (softplus, no log(0))', () => {
  const big = tf.tensor1d([100, 80]);
  const small = tf.tensor1d([-100, -80]);
  close(discriminatorLoss('minimax', big, small).dataSync()[0], 0, 1e-6);
  close(discriminatorLoss('minimax', small, big).dataSync()[0], 180, 1e-5);
  close(generatorLoss('ns', small).dataSync()[0], 90, 1e-5);
  const grad = tf.grad((l: tf.Tensor) => generatorLoss('ns', l))(small).dataSync();
  for (const v of grad) close(v, -0.5, 1e-6);
  tf.dispose([big, small]);
});

test('minimax generator gradient vanishes where D rejects the fakes; the non-saturating one does not', () => {
  const logits = [-10, -12, -8];
  const fake = tf.tensor1d(logits);
  const mm = tf.grad((l: tf.Tensor) => generatorLoss('minimax', l))(fake).dataSync();
  const ns = tf.grad((l: tf.Tensor) => generatorLoss('ns', l))(fake).dataSync();
  logits.forEach((l, i) => {
    close(mm[i], -sigmoid(l) / 3, 1e-4); // ∂/∂l log(1 − σ(l)) = −σ(l)
    close(ns[i], -(1 - sigmoid(l)) / 3, 1e-5); // ∂/∂l −log σ(l) = −(1 − σ(l))
    assert.ok(Math.abs(mm[i]) < 1e-3 * Math.abs(ns[i]));
  });
  fake.dispose();
});

test('gradient penalty: ~0 for a linear critic with a unit-norm weight, (‖w‖ − 1)² otherwise, with gradients for the critic', () => {
  const real = tf.tensor2d([1, 2, -3, 0.5, 0, 0, 4, -1], [4, 2]);
  const fake = tf.tensor2d([0, 0, 1, 1, -2, 3, 0.2, 0.1], [4, 2]);
  const linear = (w: tf.Tensor) => (x: tf.Tensor2D) => tf.add(tf.matMul(x, tf.reshape(w, [2, 1])), 3);
  const unit = tf.tensor1d([0.6, 0.8]);
  close(gradientPenalty(linear(unit), real, fake, 1).dataSync()[0], 0, 1e-5);
  const w = tf.tensor1d([2, 0]);
  close(gradientPenalty(linear(w), real, fake, 1).dataSync()[0], 1, 1e-5);
  // d/dw (‖w‖ − 1)² = 2(‖w‖ − 1)·w/‖w‖ = [2, 0]: the penalty is differentiable w.r.t. the critic (double backprop).
  const dw = tf.grad((v: tf.Tensor) => gradientPenalty(linear(v), real, fake, 1))(w).dataSync();
  close(dw[0], 2, 1e-4);
  close(dw[1], 0, 1e-4);
  // A non-linear critic: positive, and seeded.
  const v = tf.tensor2d([1.5, -0.5, 0.3, 2], [2, 2]);
  const nonlinear = (x: tf.Tensor2D) => tf.sum(tf.square(tf.tanh(tf.matMul(x, v))), 1);
  const gp = gradientPenalty(nonlinear, real, fake, 7).dataSync()[0];
  assert.ok(gp > 0.01, `GP ${gp}`);
  assert.equal(gradientPenalty(nonlinear, real, fake, 7).dataSync()[0], gp);
  close(r1Penalty(linear(w), real).dataSync()[0], 4);
  assert.throws(() => gradientPenalty(linear(w), real, tf.zeros([3, 2]) as tf.Tensor2D, 1), AdvxError);
  tf.dispose([real, fake, unit, w, v]);
});

test('saturation diagnostic: as D learns to reject a fixed generator, the minimax gradient collapses and the NS one stays', async () => {
  const ring = toyMixture('ring');
  const s = await saturationDiagnostic((n, rng) => ring.sample(n, rng), {
    seed: 3,
    steps: 120,
    evalEvery: 40,
    batchSize: 64,
    generatorHidden: [128, 128, 128],
    discriminatorHidden: [128, 128, 128],
  });
  assert.deepEqual(s.step, [0, 40, 80, 120]);
  const last = s.step.length - 1;
  assert.ok(s.fakeProbability[last] < 1e-3 && s.fakeProbability[last] < s.fakeProbability[0], `D(G(z)) ${s.fakeProbability}`);
  assert.ok(s.minimax[last] < 1e-3 * s.nonSaturating[last], `minimax ${s.minimax}, ns ${s.nonSaturating}, D(G(z)) ${s.fakeProbability}`);
  assert.ok(s.minimax[last] < 0.01 * Math.max(...s.minimax), `minimax ${s.minimax}`);
});
