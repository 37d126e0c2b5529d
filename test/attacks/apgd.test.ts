/** APGD with the DLR loss, APGD-T and EOT-averaged gradients (AutoAttack), against a small MNIST MLP. */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { tensorCounts } from '../helpers/backend.ts';
import { smallMlpTarget } from '../helpers/small-mlp.ts';
import { Classifier } from '../../src/models/classifier.ts';
import { apgd, apgdTargeted, averagedGradient, dlrLoss, dlrLossTargeted } from '../../src/attacks/apgd.ts';
import { ATTACKS, checkAttackRequest } from '../../src/attacks/index.ts';
import type { AttackResult } from '../../src/attacks/types.ts';
import { AdvxError } from '../../src/core/errors.ts';

const N = 32;
let model: import('@tensorflow/tfjs-layers').LayersModel;
let classifier: Classifier;
/** The same network with its logits × 10⁴: the softmax saturates, and the CE gradient underflows. */
let saturated: Classifier;
let x: tf.Tensor4D;
let y: tf.Tensor1D;
let labels: Int32Array;

before(async () => {
  ({ model, classifier, x, y } = await smallMlpTarget(N));
  saturated = new Classifier((t) => tf.mul(model.apply(t) as tf.Tensor, 1e4), { inputShape: [28, 28, 1], numClasses: 10, bounds: [0, 1] });
  labels = (await y.data()) as Int32Array;
});

const count = (r: AttackResult) => r.success.filter(Boolean).length;

async function values(t: tf.Tensor): Promise<number[]> {
  const v = Array.from(await t.data());
  t.dispose();
  return v;
}

function close(actual: number[], expected: number[], tol: number, what: string) {
  assert.equal(actual.length, expected.length, what);
  actual.forEach((a, i) => assert.ok(Math.abs(a - expected[i]) <= tol * Math.max(1, Math.abs(expected[i])), `${what}[${i}]: ${a}, expected ${expected[i]}`));
}

/** Every claimed success is misclassified by a fresh predict, and every adversarial lies in the ε-ball and the bounds. */
async function checkResult(c: Classifier, r: AttackResult, eps: number, norm: 'linf' | 'l2', what: string) {
  const pred = await c.predict(r.adversarial);
  r.success.forEach((s, i) => {
    if (s) assert.notEqual(pred[i], labels[i], `${what}: example ${i} claimed a success but is classified as its label`);
  });
  const size = norm === 'linf' ? r.linf : r.l2;
  const tol = norm === 'linf' ? 1e-6 : 1e-4;
  assert.ok(Math.max(...size) <= eps + tol, `${what}: max ${norm} ${Math.max(...size)} > ε = ${eps}`);
  const [lo, hi] = await Promise.all([values(tf.min(r.adversarial)), values(tf.max(r.adversarial))]);
  assert.ok(lo[0] >= 0 && hi[0] <= 1, `${what}: range [${lo[0]}, ${hi[0]}]`);
}

test('DLR and targeted DLR match hand-computed values', async () => {
  const z = tf.tensor2d([
    [3, 1, 2, 0],
    [0, 5, 1, 4],
  ]);
  // Row 0: y = 0, max_{i≠y} = 2, π₁ = 3, π₃ = 1: −(3 − 2)/(3 − 1). Row 1: y = 2: −(1 − 5)/(5 − 1).
  close(await values(dlrLoss(z, tf.tensor1d([0, 2], 'int32'))), [-0.5, 1], 1e-6, 'DLR');
  // Row 0: t = 3: −(3 − 0)/(3 − (1 + 0)/2). Row 1: t = 1: −(1 − 5)/(5 − (1 + 0)/2).
  close(await values(dlrLossTargeted(z, tf.tensor1d([0, 2], 'int32'), tf.tensor1d([3, 1], 'int32'))), [-1.2, 4 / 4.5], 1e-6, 'targeted DLR');
  // Five classes, unsorted: π = 7, 4, 3, 2, −1; y = 1 (the top one), t = 4.
  const z5 = tf.tensor2d([[2, 7, -1, 4, 3]]);
  close(await values(dlrLoss(z5, tf.tensor1d([1], 'int32'))), [-(7 - 4) / (7 - 3)], 1e-6, 'DLR, 5 classes');
  close(await values(dlrLossTargeted(z5, tf.tensor1d([1], 'int32'), tf.tensor1d([4], 'int32'))), [-(7 - 3) / (7 - 2.5)], 1e-6, 'targeted DLR, 5 classes');
  tf.dispose([z, z5]);
});

test('the DLR gradient reaches the sorted logits it uses (hand-computed)', async () => {
  // Row 0 above: L = −(z₀ − z₂)/(z₀ − z₁), so ∂L/∂z = [−1/D + N/D², −N/D², 1/D, 0] with N = 1, D = 2.
  const g = tf.grad((z: tf.Tensor) => tf.sum(dlrLoss(z as tf.Tensor2D, tf.tensor1d([0], 'int32'))))(tf.tensor2d([[3, 1, 2, 0]]));
  close(await values(g), [-0.25, -0.25, 0.5, 0], 1e-6, '∇DLR');
  // Targeted, y = 0, t = 3: L = −(z₀ − z₃)/(z₀ − (z₁ + z₃)/2), N = 3, D = 2.5.
  const gt = tf.grad((z: tf.Tensor) => tf.sum(dlrLossTargeted(z as tf.Tensor2D, tf.tensor1d([0], 'int32'), tf.tensor1d([3], 'int32'))))(tf.tensor2d([[3, 1, 2, 0]]));
  const [N, D] = [3, 2.5];
  close(await values(gt), [-1 / D + N / D ** 2, -N / D ** 2 / 2, 0, 1 / D - N / D ** 2 / 2], 1e-6, '∇ targeted DLR');
});

test('DLR is invariant to scaling (and shifting) the logits', async () => {
  const z = tf.randomNormal([16, 10], 0, 3, 'float32', 7) as tf.Tensor2D;
  const yy = tf.tensor1d(Array.from({ length: 16 }, (_, i) => i % 10), 'int32');
  const tt = tf.tensor1d(Array.from({ length: 16 }, (_, i) => (i + 3) % 10), 'int32');
  const base = await values(dlrLoss(z, yy));
  const baseT = await values(dlrLossTargeted(z, yy, tt));
  const [z100, zShift] = [tf.mul(z, 100) as tf.Tensor2D, tf.add(z, 50) as tf.Tensor2D];
  close(await values(dlrLoss(z100, yy)), base, 1e-5, 'DLR of logits × 100');
  close(await values(dlrLossTargeted(z100, yy, tt)), baseT, 1e-5, 'targeted DLR of logits × 100');
  close(await values(dlrLoss(zShift, yy)), base, 1e-4, 'DLR of logits + 50');
  tf.dispose([z, yy, tt, z100, zShift]);
});

test('with logits × 10⁴ (saturated softmax), APGD-DLR breaks clearly more inputs than APGD-CE', async () => {
  const eps = 0.1;
  const ce = await apgd(saturated, x, { labels: y }, { eps, steps: 20, seed: 1 });
  const dlr = await apgd(saturated, x, { labels: y }, { eps, steps: 20, seed: 1, loss: 'dlr' });
  const plain = await apgd(classifier, x, { labels: y }, { eps, steps: 20, seed: 1, loss: 'dlr' });
  // Measured: DLR 31/32 vs CE 1/32 (the CE gradient is exactly zero on the 31 correctly classified inputs).
  const msg = `ε = ${eps}, 20 steps: APGD-DLR ${count(dlr)}/${N} vs APGD-CE ${count(ce)}/${N} on the saturated model (DLR on the plain model: ${count(plain)})`;
  assert.ok(count(dlr) >= count(ce) + N / 4, msg);
  // Scale invariance: the same attack on the same network, whatever the logits' scale.
  assert.ok(Math.abs(count(dlr) - count(plain)) <= 2, msg);
  await checkResult(saturated, dlr, eps, 'linf', 'APGD-DLR');
  tf.dispose([ce.adversarial, dlr.adversarial, plain.adversarial]);
});

test('APGD-T breaks at least as many inputs as APGD-CE; every success is real and in the ball (L∞ and L2)', async () => {
  const eps = 0.05;
  const ce = await apgd(classifier, x, { labels: y }, { eps, steps: 20, seed: 1 });
  const t = await apgdTargeted(classifier, x, { labels: y }, { eps, steps: 20, seed: 1 });
  assert.ok(count(t) >= count(ce), `ε = ${eps}, 20 steps: APGD-T ${count(t)}/${N} vs APGD-CE ${count(ce)}/${N}`);
  assert.ok(count(ce) < N, `APGD-CE should not saturate at ε = ${eps}`);
  await checkResult(classifier, t, eps, 'linf', 'APGD-T L∞');
  // At most 9 target runs of 20 steps each.
  assert.ok(t.iterations > 0 && t.iterations <= 9 * 20 && t.iterations % 20 === 0, `iterations ${t.iterations}`);
  const l2 = await apgdTargeted(classifier, x, { labels: y }, { eps: 1, norm: 'l2', steps: 10, targets: 3, seed: 2 });
  const dl2 = await apgd(classifier, x, { labels: y }, { eps: 1, norm: 'l2', steps: 10, loss: 'dlr', seed: 2 });
  assert.ok(count(l2) > 0 && count(dl2) > 0, `L2: APGD-T ${count(l2)}, APGD-DLR ${count(dl2)}`);
  await checkResult(classifier, l2, 1, 'l2', 'APGD-T L2');
  await checkResult(classifier, dl2, 1, 'l2', 'APGD-DLR L2');
  tf.dispose([ce.adversarial, t.adversarial, l2.adversarial, dl2.adversarial]);
});

test('APGD-T aims at the runner-up class first, and caps targets at C − 1', async () => {
  // With targets = 1 the only run aims at the largest clean logit besides the label; targeted DLR
  // lifts z_t over z_y, so the inputs it fools should mostly land in that class.
  const one = await apgdTargeted(classifier, x, { labels: y }, { eps: 0.3, steps: 10, targets: 1 });
  assert.ok(count(one) >= N - 1, `targets 1, ε = 0.3: ${count(one)}/${N}`);
  assert.equal(one.iterations, 10);
  const runnerUp = await values(tf.tidy(() => tf.argMax(tf.where(tf.cast(tf.oneHot(y, 10), 'bool'), -Infinity, classifier.logits(x)), 1)));
  const pred = await classifier.predict(one.adversarial);
  const landed = one.success.filter((s, i) => s && pred[i] === runnerUp[i]).length;
  assert.ok(landed >= 0.8 * count(one), `${landed} of ${count(one)} fooled inputs are classified as their runner-up class`);
  // More targets than C − 1 = 9 are capped, not refused.
  const many = await apgdTargeted(classifier, x, { labels: y }, { eps: 0.3, steps: 5, targets: 50 });
  assert.ok(many.iterations <= 9 * 5, `iterations ${many.iterations}`);
  tf.dispose([one.adversarial, many.adversarial]);
});

test('EOT: the gradient is the mean of the per-pass gradients', async () => {
  // A model whose k-th forward pass scales its logits by 1, 2, 3, …: a deterministic stand-in for randomness.
  let pass = 0;
  const cycling = new Classifier((t) => tf.mul(model.apply(t) as tf.Tensor, 1 + (pass++ % 4)), { inputShape: [28, 28, 1], numClasses: 10, bounds: [0, 1] });
  const xs = tf.slice(x, 0, 4);
  const ys = tf.slice(y, 0, 4);
  const ce = (z: tf.Tensor2D) => tf.losses.softmaxCrossEntropy(tf.oneHot(ys, 10), z, undefined, 0, tf.Reduction.NONE) as tf.Tensor1D;
  pass = 0;
  const mean = averagedGradient(cycling, xs, ce, 4);
  pass = 0;
  const each = Array.from({ length: 4 }, () => averagedGradient(cycling, xs, ce, 1));
  const expected = tf.tidy(() => tf.div(tf.addN(each.map((e) => e.grad)), 4));
  const [got, want] = [await values(tf.clone(mean.grad)), await values(expected)];
  close(got, want, 1e-5, 'EOT gradient');
  // The passes really differed, so the check is not vacuous.
  const spread = await values(tf.max(tf.abs(tf.sub(each[0].grad, each[3].grad))));
  assert.ok(spread[0] > 1e-4, `per-pass gradients differ by ${spread[0]}`);
  // The loss is the mean of the passes' losses too.
  const lossWant = tf.tidy(() => tf.div(tf.addN(each.map((e) => e.loss)), 4));
  close(await values(tf.clone(mean.loss)), await values(lossWant), 1e-5, 'EOT loss');
  tf.dispose([xs, ys, mean.loss, mean.grad, mean.pred, ...each.flatMap((e) => [e.loss, e.grad, e.pred])]);
});

test('EOT on a randomised model: eotIter 8 is not worse than eotIter 1', async () => {
  // Gaussian noise (σ = 0.5) on the input inside the forward pass: each gradient is a noisy sample.
  // Each pass draws with the next seed of a counter, so the test sees the same noise on every run.
  let draw = 1000;
  const noisy = new Classifier((t) => model.apply(tf.add(t, tf.randomNormal(t.shape, 0, 0.5, 'float32', draw++))) as tf.Tensor, { inputShape: [28, 28, 1], numClasses: 10, bounds: [0, 1] });
  const eps = 0.06;
  const one = await apgd(noisy, x, { labels: y }, { eps, steps: 10, seed: 3, eotIter: 1 });
  const eight = await apgd(noisy, x, { labels: y }, { eps, steps: 10, seed: 3, eotIter: 8 });
  // Judged on the noise-free network: the perturbation found through the noise should transfer.
  const [p1, p8] = [await classifier.predict(one.adversarial), await classifier.predict(eight.adversarial)];
  const fooled = (p: Int32Array) => Array.from(p).filter((v, i) => v !== labels[i]).length;
  assert.ok(fooled(p8) >= fooled(p1) - 1, `ε = ${eps}, 10 steps, judged noise-free: eotIter 8 fools ${fooled(p8)}/${N}, eotIter 1 ${fooled(p1)}/${N}`);
  assert.equal(eight.iterations, 80);
  tf.dispose([one.adversarial, eight.adversarial]);
});

test('the registry runs apgd-dlr and apgd-t by name; both are untargeted', async () => {
  for (const name of ['apgd-dlr', 'apgd-t']) {
    const r = await ATTACKS[name].run(classifier, x, { labels: y }, { eps: 0.15, steps: 5, seed: 2, targets: 2 });
    assert.ok(count(r) >= 0.8 * N, `${name}: ${count(r)}/${N}`);
    await checkResult(classifier, r, 0.15, 'linf', name);
    r.adversarial.dispose();
    assert.throws(() => checkAttackRequest(name, { targeted: true }), /untargeted only/);
  }
  assert.equal(ATTACKS['apgd-t'].defaults.targets, 9);
  assert.equal(ATTACKS['apgd-t'].defaults.steps, 100);
});

test('APGD-DLR, APGD-T and EOT leak no tensors', async () => {
  const counts = await tensorCounts(async () => {
    const a = await apgd(classifier, x, { labels: y }, { eps: 0.05, steps: 4, loss: 'dlr', restarts: 2, eotIter: 2 });
    const b = await apgdTargeted(classifier, x, { labels: y }, { eps: 0.05, steps: 4, targets: 3, restarts: 2 });
    tf.dispose([a.adversarial, b.adversarial]);
  });
  assert.equal(new Set(counts).size, 1, `tensor counts ${counts}`);
});

test('user mistakes give one-line AdvxErrors', async () => {
  const goal = { labels: y };
  const target = { labels: y, targeted: true };
  await assert.rejects(apgd(classifier, x, target, { eps: 0.1, loss: 'dlr' }), /DLR loss is untargeted/);
  await assert.rejects(apgd(classifier, x, goal, { eps: 0.1, loss: 'hinge' as 'dlr' }), /loss must be ce or dlr/);
  await assert.rejects(apgd(classifier, x, goal, { eps: 0.1, eotIter: 0 }), /eotIter must be a positive integer/);
  await assert.rejects(apgdTargeted(classifier, x, target, { eps: 0.1 }), /untargeted/);
  await assert.rejects(apgdTargeted(classifier, x, goal, { eps: 0.1, targets: 0 }), /targets must be a positive integer/);
  await assert.rejects(apgdTargeted(classifier, x, goal, { eps: -1 }), AdvxError);
  // Too few classes for the losses.
  const three = new Classifier((t) => tf.slice(model.apply(t) as tf.Tensor, [0, 0], [-1, 3]), { inputShape: [28, 28, 1], numClasses: 3, bounds: [0, 1] });
  const two = new Classifier((t) => tf.slice(model.apply(t) as tf.Tensor, [0, 0], [-1, 2]), { inputShape: [28, 28, 1], numClasses: 2, bounds: [0, 1] });
  const small = { labels: tf.zeros([N], 'int32') as tf.Tensor1D };
  await assert.rejects(apgdTargeted(three, x, small, { eps: 0.1 }), /at least 4 classes/);
  await assert.rejects(apgd(two, x, small, { eps: 0.1, loss: 'dlr' }), /at least 3 classes/);
  const [z3, i0, i1] = [tf.zeros([1, 3]) as tf.Tensor2D, tf.tensor1d([0], 'int32'), tf.tensor1d([1], 'int32')];
  assert.throws(() => dlrLossTargeted(z3, i0, i1), /at least 4 classes/);
  assert.throws(() => tf.tidy(() => dlrLoss(tf.slice(z3, [0, 0], [1, 2]) as tf.Tensor2D, i0)), /at least 3 classes/);
  tf.dispose([z3, i0, i1, small.labels]);
});
