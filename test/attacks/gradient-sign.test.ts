import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { tensorCounts } from '../helpers/backend.ts';
import { smallMlpTarget } from '../helpers/small-mlp.ts';
import { Classifier } from '../../src/models/classifier.ts';
import { fgsm } from '../../src/attacks/fgsm.ts';
import { pgd } from '../../src/attacks/pgd.ts';
import { AdvxError } from '../../src/core/errors.ts';

let classifier: Classifier;
let x: tf.Tensor4D;
let y: tf.Tensor1D;

before(async () => {
  ({ classifier, x, y } = await smallMlpTarget(64));
});

async function accuracyOn(input: tf.Tensor): Promise<number> {
  const pred = await classifier.predict(input);
  const labels = await y.data();
  return pred.reduce((n, p, i) => n + (p === labels[i] ? 1 : 0), 0) / labels.length;
}

test('FGSM lowers accuracy and stays within ε and the bounds', async () => {
  const clean = await accuracyOn(x);
  assert.ok(clean > 0.8, `clean accuracy ${clean}`);
  const r = await fgsm(classifier, x, { labels: y }, { eps: 0.2 });
  const adv = await accuracyOn(r.adversarial);
  assert.ok(adv < clean - 0.4, `FGSM ε=0.2: accuracy ${clean} → ${adv}`);
  assert.ok(Math.max(...r.linf) <= 0.2 + 1e-6);
  const [lo, hi] = [(await tf.min(r.adversarial).data())[0], (await tf.max(r.adversarial).data())[0]];
  assert.ok(lo >= 0 && hi <= 1);
  r.adversarial.dispose();
});

test('PGD-20 (L∞ 0.2) drives accuracy to ≤ 5% and flips every success it reports', async () => {
  const r = await pgd(classifier, x, { labels: y }, { eps: 0.2, steps: 20, stepSize: 0.02, seed: 1 });
  const adv = await accuracyOn(r.adversarial);
  assert.ok(adv <= 0.05, `PGD accuracy ${adv}`);
  const pred = await classifier.predict(r.adversarial);
  const labels = await y.data();
  r.success.forEach((s, i) => assert.equal(s, pred[i] !== labels[i]));
  assert.ok(Math.max(...r.linf) <= 0.2 + 1e-6);
  r.adversarial.dispose();
});

test('PGD L2 respects its ε ball', async () => {
  const r = await pgd(classifier, x, { labels: y }, { eps: 1.5, norm: 'l2', steps: 10, seed: 2 });
  assert.ok(Math.max(...r.l2) <= 1.5 + 1e-4, `max L2 ${Math.max(...r.l2)}`);
  assert.ok((await accuracyOn(r.adversarial)) < (await accuracyOn(x)));
  r.adversarial.dispose();
});

test('targeted PGD reaches the target class', async () => {
  const target = tf.fill([64], 3, 'int32') as tf.Tensor1D;
  const r = await pgd(classifier, x, { labels: target, targeted: true }, { eps: 0.3, steps: 30, stepSize: 0.02, seed: 4 });
  const hit = r.success.filter(Boolean).length / r.success.length;
  assert.ok(hit > 0.9, `target hit rate ${hit}`);
  tf.dispose([target, r.adversarial]);
});

test('more PGD steps never give higher robust accuracy (no gradient masking on this model)', async () => {
  const few = await pgd(classifier, x, { labels: y }, { eps: 0.1, steps: 2, stepSize: 0.05, randomStart: false });
  const many = await pgd(classifier, x, { labels: y }, { eps: 0.1, steps: 20, stepSize: 0.01, randomStart: false });
  assert.ok((await accuracyOn(many.adversarial)) <= (await accuracyOn(few.adversarial)));
  tf.dispose([few.adversarial, many.adversarial]);
});

test('PGD restarts only add successes, keep earlier successes as they were, and stay within ε', async () => {
  const opts = { eps: 0.1, steps: 2, stepSize: 0.02, seed: 4 };
  const one = await pgd(classifier, x, { labels: y }, { ...opts, restarts: 1 });
  const five = await pgd(classifier, x, { labels: y }, { ...opts, restarts: 5 });
  const count = (r: { success: boolean[] }) => r.success.filter(Boolean).length;
  console.log(JSON.stringify({ one: count(one), five: count(five), n: one.success.length }));
  assert.ok(count(one) < one.success.length, 'the weak attack leaves some examples for the restarts');
  assert.ok(count(five) > count(one), `restarts add successes: ${count(one)} → ${count(five)}`);
  const [a, b] = [one.adversarial.arraySync() as number[][][][], five.adversarial.arraySync() as number[][][][]];
  one.success.forEach((ok, i) => {
    if (!ok) return;
    assert.ok(five.success[i]);
    assert.deepEqual(b[i], a[i], `example ${i} keeps its first adversarial example`);
  });
  assert.ok(Math.max(...five.linf) <= opts.eps + 1e-6);
  tf.dispose([one.adversarial, five.adversarial]);
});

test('attacks leak no tensors', async () => {
  const counts = await tensorCounts(async () => {
    const a = await pgd(classifier, x, { labels: y }, { eps: 0.1, steps: 3, restarts: 2 });
    const b = await fgsm(classifier, x, { labels: y }, { eps: 0.1 });
    tf.dispose([a.adversarial, b.adversarial]);
  });
  assert.equal(new Set(counts).size, 1, `tensor counts ${counts}`);
});

test('bad input gives a clear error', async () => {
  await assert.rejects(fgsm(classifier, x, { labels: y }, { eps: -0.1 }), AdvxError);
  await assert.rejects(fgsm(classifier, x, { labels: y }, { eps: NaN }), /ε must be a non-negative number/);
  const wrong = tf.zeros([2, 14, 14, 1]);
  await assert.rejects(fgsm(classifier, wrong, { labels: tf.tensor1d([0, 1], 'int32') }, { eps: 0.1 }), /do not match the model's input/);
  wrong.dispose();
});
