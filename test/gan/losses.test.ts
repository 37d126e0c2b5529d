import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../../src/backend/index.ts';
import { AdvxError } from '../../src/core/errors.ts';
import { GAN_LOSSES, discriminatorLoss, generatorLoss, gradientPenalty, parseGanLoss, r1Penalty } from '../../src/gan/losses.ts';
import { saturationDiagnostic } from '../../src/gan/diagnostics.ts';
import { toyMixture } from '../../src/gan/toy-metrics.ts';
import { buildMlp, type Activation } from '../../src/gan/networks.ts';

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

test('gradient penalty: closed form for a quadratic critic D(x) = a/2·‖x‖² (‖∇D‖ = a‖x‖), value and d/da', () => {
  // real = fake: every interpolate x̂ is the point itself, whatever ε.
  const pts = [[0.5, 0], [0, 2], [-1.2, 0.9], [3, -4]];
  const x = tf.tensor2d(pts);
  const quadratic = (a: tf.Tensor) => (v: tf.Tensor2D) => tf.mul(tf.mul(0.5, a), tf.sum(tf.square(v), 1));
  const norms = pts.map(([p, q]) => Math.hypot(p, q));
  const a = tf.scalar(0.7);
  const expected = norms.reduce((s, n) => s + (0.7 * n - 1) ** 2, 0) / norms.length;
  close(gradientPenalty(quadratic(a), x, x, 3).dataSync()[0], expected, 1e-5);
  // d/da mean((a‖x‖ − 1)²) = mean(2(a‖x‖ − 1)‖x‖): double backprop through a non-linear critic.
  const dExpected = norms.reduce((s, n) => s + 2 * (0.7 * n - 1) * n, 0) / norms.length;
  close(tf.grad((v: tf.Tensor) => gradientPenalty(quadratic(v), x, x, 3))(a).dataSync()[0], dExpected, 1e-4);
  tf.dispose([x, a]);
});

test('gradient penalty on an MLP critic matches finite differences, in value and in every weight’s gradient', () => {
  const pts = [[0.3, -1.1], [1.9, 0.4], [-0.7, 0.2], [0.05, 1.6], [-1.5, -0.9], [1.1, 1.2]];
  const x = tf.tensor2d(pts);
  for (const activation of ['leaky-relu', 'relu', 'tanh'] as Activation[]) {
    const D = buildMlp({ sizes: [2, 6, 5, 1], activation, seed: 11 });
    const critic = (v: tf.Tensor2D) => D.apply(v);
    const f = (p: number[]) => tf.tidy(() => critic(tf.tensor2d([p])).dataSync()[0]);
    // The penalty from central differences of D at each point (real = fake = x, so x̂ = x).
    const fdPenalty = () => {
      const h = 1e-2;
      let s = 0;
      for (const [p, q] of pts) {
        const gx = (f([p + h, q]) - f([p - h, q])) / (2 * h);
        const gy = (f([p, q + h]) - f([p, q - h])) / (2 * h);
        s += (Math.hypot(gx, gy) - 1) ** 2;
      }
      return s / pts.length;
    };
    const gp = () => tf.tidy(() => gradientPenalty(critic, x, x, 5).dataSync()[0]);
    close(gp(), fdPenalty(), activation === 'tanh' ? 1e-3 : 1e-4);
    const { grads } = tf.variableGrads(() => gradientPenalty(critic, x, x, 5), D.variables);
    for (const v of D.variables) {
      const analytic = grads[v.name]?.dataSync() ?? new Float32Array(v.size);
      const w = v.dataSync().slice();
      for (const j of [0, v.size - 1]) {
        const at = (e: number) => {
          const moved = w.slice();
          moved[j] += e;
          tf.tidy(() => v.assign(tf.tensor(moved, v.shape)));
          return gp();
        };
        const e = 1e-3;
        const numeric = (at(e) - at(-e)) / (2 * e);
        tf.tidy(() => v.assign(tf.tensor(w, v.shape)));
        assert.ok(Math.abs(analytic[j] - numeric) <= 2e-3 + 1e-2 * Math.abs(numeric), `${activation} ${v.name}[${j}]: ∂GP ${analytic[j]}, finite difference ${numeric}`);
      }
    }
    tf.dispose(Object.values(grads));
    D.dispose();
  }
  x.dispose();
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
