/** MI-FGSM and APGD-CE: budgeted (ε-ball) attacks, against a small MLP trained on MNIST. */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { tensorCounts } from '../helpers/backend.ts';
import { smallMlpTarget } from '../helpers/small-mlp.ts';
import { Classifier } from '../../src/models/classifier.ts';
import { mifgsm } from '../../src/attacks/mifgsm.ts';
import { apgd, apgdCheckpoints } from '../../src/attacks/apgd.ts';
import { pgd } from '../../src/attacks/pgd.ts';
import { ATTACKS } from '../../src/attacks/index.ts';
import type { AttackResult } from '../../src/attacks/types.ts';
import { AdvxError } from '../../src/core/errors.ts';

const N = 32;
let classifier: Classifier;
/** The same network seen through bounds [0, 255] and a 1/255 input scale. */
let classifier255: Classifier;
let x: tf.Tensor4D;
let x255: tf.Tensor;
let y: tf.Tensor1D;
/** A target per example: the next class after its label. */
let target: tf.Tensor1D;

before(async () => {
  let model: import('@tensorflow/tfjs-layers').LayersModel;
  ({ model, classifier, x, y } = await smallMlpTarget(N));
  classifier255 = new Classifier((t: tf.Tensor) => model.apply(t) as tf.Tensor, { inputShape: [28, 28, 1], numClasses: 10, bounds: [0, 255], preprocessing: { scale: 1 / 255 } });
  x255 = tf.mul(x, 255);
  target = tf.tidy(() => tf.cast(tf.mod(tf.add(y, 1), 10), 'int32') as tf.Tensor1D);
});

const rate = (r: AttackResult) => r.success.filter(Boolean).length / r.success.length;
const count = (r: AttackResult) => r.success.filter(Boolean).length;

async function range(t: tf.Tensor): Promise<[number, number]> {
  const [lo, hi] = tf.tidy(() => [tf.min(t), tf.max(t)]);
  const out: [number, number] = [(await lo.data())[0], (await hi.data())[0]];
  tf.dispose([lo, hi]);
  return out;
}

/** The share of values where a and b differ by more than 10⁻⁵. */
async function shareDifferent(a: tf.Tensor, b: tf.Tensor): Promise<number> {
  const d = tf.tidy(() => tf.mean(tf.cast(tf.greater(tf.abs(tf.sub(a, b)), 1e-5), 'float32')));
  const v = (await d.data())[0];
  d.dispose();
  return v;
}

test('MI-FGSM (ε = 0.15, 10 steps) fools ≥ 90% and stays in the ε-ball and the bounds', async () => {
  const r = await mifgsm(classifier, x, { labels: y }, { eps: 0.15 });
  assert.ok(rate(r) >= 0.9, `success ${rate(r)}`);
  assert.ok(Math.max(...r.linf) <= 0.15 + 1e-6, `max L∞ ${Math.max(...r.linf)}`);
  const [lo, hi] = await range(r.adversarial);
  assert.ok(lo >= 0 && hi <= 1, `range [${lo}, ${hi}]`);
  assert.equal(r.iterations, 10);
  r.adversarial.dispose();
});

test('MI-FGSM with μ = 0 is I-FGSM (BIM with α = ε/T); μ = 1 takes another path', async () => {
  const o = { eps: 0.1, steps: 5 };
  const plain = await mifgsm(classifier, x, { labels: y }, { ...o, momentum: 0 });
  const bim = await pgd(classifier, x, { labels: y }, { ...o, stepSize: 0.1 / 5, randomStart: false });
  const momentum = await mifgsm(classifier, x, { labels: y }, o);
  // Both use the exact sign (core/norms.ts), so the paths agree up to float rounding of x + α·sign.
  const same = await shareDifferent(plain.adversarial, bim.adversarial);
  assert.ok(same < 0.0005, `μ = 0 differs from BIM on ${same * 100}% of pixels`);
  const other = await shareDifferent(momentum.adversarial, bim.adversarial);
  assert.ok(other > 0.02, `μ = 1 differs from BIM on only ${other * 100}% of pixels`);
  tf.dispose([plain.adversarial, bim.adversarial, momentum.adversarial]);
});

test('targeted MI-FGSM reaches the target class; L2 MI-FGSM respects its ball', async () => {
  const t = await mifgsm(classifier, x, { labels: target, targeted: true }, { eps: 0.3 });
  assert.ok(rate(t) >= 0.8, `target hit rate ${rate(t)}`);
  const l2 = await mifgsm(classifier, x, { labels: y }, { eps: 2, norm: 'l2' });
  assert.ok(Math.max(...l2.l2) <= 2 + 1e-4, `max L2 ${Math.max(...l2.l2)}`);
  assert.ok(rate(l2) >= 0.7, `L2 success ${rate(l2)}`);
  tf.dispose([t.adversarial, l2.adversarial]);
});

test('APGD checkpoints follow the paper: p₁ = 0.22, shrinking by 0.03 to at least 0.06', () => {
  // AutoAttack's own schedule for 100 iterations.
  assert.deepEqual(apgdCheckpoints(100), [22, 41, 57, 70, 80, 87, 93, 99]);
  assert.deepEqual(apgdCheckpoints(1), [1]);
});

test('APGD-CE is at least as strong as PGD with the same iterations on the same inputs', async () => {
  // Small ε, where PGD does not fool everything, so there is room to be stronger.
  for (const eps of [0.04, 0.06]) {
    const a = await apgd(classifier, x, { labels: y }, { eps, steps: 20, seed: 1 });
    const p = await pgd(classifier, x, { labels: y }, { eps, steps: 20, seed: 1 });
    assert.ok(count(a) >= count(p), `ε = ${eps}: APGD ${count(a)} vs PGD ${count(p)} of ${N}`);
    assert.ok(count(p) < N, 'PGD should not saturate at this ε');
    assert.ok(Math.max(...a.linf) <= eps + 1e-6);
    const [lo, hi] = await range(a.adversarial);
    assert.ok(lo >= 0 && hi <= 1);
    tf.dispose([a.adversarial, p.adversarial]);
  }
});

test('APGD-CE at ε = 0.1 fools ≥ 90%; targeted (ε = 0.2) reaches the target; L2 stays in its ball', async () => {
  const a = await apgd(classifier, x, { labels: y }, { eps: 0.1, steps: 20 });
  assert.ok(rate(a) >= 0.9, `success ${rate(a)}`);
  const t = await apgd(classifier, x, { labels: target, targeted: true }, { eps: 0.2, steps: 20 });
  assert.ok(rate(t) >= 0.85, `target hit rate ${rate(t)}`);
  const l2 = await apgd(classifier, x, { labels: y }, { eps: 1, norm: 'l2', steps: 10 });
  assert.ok(Math.max(...l2.l2) <= 1 + 1e-4, `max L2 ${Math.max(...l2.l2)}`);
  assert.ok(rate(l2) >= 0.3, `L2 success ${rate(l2)}`);
  tf.dispose([a.adversarial, t.adversarial, l2.adversarial]);
});

test('with bounds [0, 255] and a 1/255 scale, both attacks work in and stay within [0, 255]', async () => {
  const m = await mifgsm(classifier255, x255, { labels: y }, { eps: 0.15 * 255 });
  const a = await apgd(classifier255, x255, { labels: y }, { eps: 0.1 * 255, steps: 20 });
  for (const [name, r, eps] of [['MI-FGSM', m, 0.15 * 255], ['APGD', a, 0.1 * 255]] as const) {
    assert.ok(rate(r) >= 0.9, `${name} success ${rate(r)}`);
    assert.ok(Math.max(...r.linf) <= eps + 1e-3, `${name} max L∞ ${Math.max(...r.linf)}`);
    const [lo, hi] = await range(r.adversarial);
    assert.ok(lo >= 0 && hi <= 255 && hi > 1, `${name} range [${lo}, ${hi}]`);
  }
  tf.dispose([m.adversarial, a.adversarial]);
});

test('the registry runs both by name', async () => {
  for (const name of ['mifgsm', 'apgd-ce']) {
    const r = await ATTACKS[name].run(classifier, x, { labels: y }, { eps: 0.15, steps: 5, seed: 2 });
    assert.ok(rate(r) >= 0.8, `${name}: success ${rate(r)}`);
    r.adversarial.dispose();
  }
});

test('MI-FGSM and APGD-CE leak no tensors', async () => {
  const counts = await tensorCounts(async () => {
    const a = await mifgsm(classifier, x, { labels: y }, { eps: 0.1, steps: 3 });
    const b = await apgd(classifier, x, { labels: y }, { eps: 0.05, steps: 6, restarts: 2 });
    tf.dispose([a.adversarial, b.adversarial]);
  });
  assert.equal(new Set(counts).size, 1, `tensor counts ${counts}`);
});

test('bad options give an AdvxError', async () => {
  const goal = { labels: y };
  await assert.rejects(mifgsm(classifier, x, goal, { eps: -0.1 }), AdvxError);
  await assert.rejects(mifgsm(classifier, x, goal, { eps: NaN }), /ε must be a non-negative number/);
  await assert.rejects(mifgsm(classifier, x, goal, { eps: 0.1, steps: 0 }), /steps must be a positive integer/);
  await assert.rejects(mifgsm(classifier, x, goal, { eps: 0.1, momentum: -1 }), /momentum/);
  await assert.rejects(apgd(classifier, x, goal, { eps: -1 }), AdvxError);
  await assert.rejects(apgd(classifier, x, goal, { eps: 0.1, steps: 0.5 }), /steps must be a positive integer/);
  await assert.rejects(apgd(classifier, x, goal, { eps: 0.1, restarts: 0 }), /restarts/);
  await assert.rejects(apgd(classifier, x, goal, { eps: 0.1, norm: 'l1' as 'l2' }), /norm must be/);
  const wrong = tf.zeros([N, 4]);
  await assert.rejects(apgd(classifier, wrong, goal, { eps: 0.1 }), /do not match the model's input/);
  wrong.dispose();
});
