/**
 * DeepFool, Carlini–Wagner L2 and Szegedy et al.'s attack: minimal-perturbation attacks, against a
 * small MLP trained on MNIST. Their perturbations are compared with two baselines: a random
 * direction, and PGD-L2 at the smallest ε (on a grid) where it fools as many examples.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { tensorCounts } from '../helpers/backend.ts';
import { smallMlpTarget } from '../helpers/small-mlp.ts';
import { Classifier } from '../../src/models/classifier.ts';
import { deepfool } from '../../src/attacks/deepfool.ts';
import { carliniWagnerL2, type CarliniWagnerOptions } from '../../src/attacks/carlini-wagner.ts';
import { szegedy } from '../../src/attacks/szegedy.ts';
import { pgd } from '../../src/attacks/pgd.ts';
import { ATTACKS } from '../../src/attacks/index.ts';
import type { AttackResult } from '../../src/attacks/types.ts';
import { AdvxError } from '../../src/core/errors.ts';

const N = 16;
/** C&W on a test budget: 4 binary steps × 50 iterations (learningRate · steps = 10 reaches pixels on the bounds). */
const CW: CarliniWagnerOptions = { binarySteps: 4, steps: 50, learningRate: 0.2 };
let classifier: Classifier;
/** The same network seen through bounds [0, 255] and a 1/255 input scale. */
let classifier255: Classifier;
let x: tf.Tensor4D;
let x255: tf.Tensor;
let y: tf.Tensor1D;
let labels: Int32Array | Float32Array | Uint8Array;
let target: tf.Tensor1D;
/** Examples the model classifies correctly: the ones an untargeted attack has work to do on. */
let correct: boolean[];

before(async () => {
  let model: import('@tensorflow/tfjs-layers').LayersModel;
  ({ model, classifier, x, y } = await smallMlpTarget(N));
  classifier255 = new Classifier((t: tf.Tensor) => model.apply(t) as tf.Tensor, { inputShape: [28, 28, 1], numClasses: 10, bounds: [0, 255], preprocessing: { scale: 1 / 255 } });
  x255 = tf.mul(x, 255);
  labels = await y.data();
  target = tf.tidy(() => tf.cast(tf.mod(tf.add(y, 1), 10), 'int32') as tf.Tensor1D);
  const pred = await classifier.predict(x);
  correct = Array.from(pred, (p, i) => p === labels[i]);
  assert.ok(correct.filter(Boolean).length >= N - 2, 'the model should classify nearly all test examples');
});

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
/** Share of the correctly classified examples the attack fooled. */
const fooled = (r: AttackResult) => mean(r.success.filter((_, i) => correct[i]).map(Number));
/** Mean L2 over the correctly classified examples the attack fooled. */
const meanL2 = (r: AttackResult) => mean(r.l2.filter((_, i) => correct[i] && r.success[i]));
const hitRate = (r: AttackResult) => mean(r.success.map(Number));

async function range(t: tf.Tensor): Promise<[number, number]> {
  const [lo, hi] = tf.tidy(() => [tf.min(t), tf.max(t)]);
  const out: [number, number] = [(await lo.data())[0], (await hi.data())[0]];
  tf.dispose([lo, hi]);
  return out;
}

let pgdRuns: { eps: number; fooled: number; meanL2: number }[] | undefined;
/** PGD-L2 (20 steps) at the smallest grid ε that fools at least `share` of the examples: its mean L2. */
async function pgdL2AtSameSuccess(share: number): Promise<{ eps: number; meanL2: number }> {
  pgdRuns ??= [];
  for (const eps of [0.5, 0.75, 1, 1.25, 1.5, 2, 2.5, 3, 4]) {
    let run = pgdRuns.find((p) => p.eps === eps);
    if (!run) {
      const r = await pgd(classifier, x, { labels: y }, { eps, norm: 'l2', steps: 20, seed: 1 });
      run = { eps, fooled: fooled(r), meanL2: meanL2(r) };
      pgdRuns.push(run);
      r.adversarial.dispose();
    }
    if (run.fooled >= share) return run;
  }
  return { eps: Infinity, meanL2: Infinity };
}

/** Share of correctly classified examples flipped by noise in a random direction of `factor` × the given L2 norms. */
async function randomFlips(l2: number[], factor: number): Promise<number> {
  const noisy = tf.tidy(() => {
    const g = tf.randomNormal(x.shape, 0, 1, 'float32', 7);
    const norms = tf.sqrt(tf.sum(tf.square(tf.reshape(g, [N, -1])), 1));
    const scale = tf.reshape(tf.div(tf.mul(factor, tf.tensor1d(l2)), norms), [N, 1, 1, 1]);
    return tf.clipByValue(tf.add(x, tf.mul(g, scale)), 0, 1);
  });
  const pred = await classifier.predict(noisy);
  noisy.dispose();
  return mean(Array.from(pred, (p, i) => (p !== labels[i] ? 1 : 0)).filter((_, i) => correct[i]));
}

let cwResult: AttackResult | undefined;
/** C&W on the test budget against the [0, 1] classifier, shared by two tests. */
async function cwOnUnitBounds(): Promise<AttackResult> {
  cwResult ??= await carliniWagnerL2(classifier, x, { labels: y }, CW);
  return cwResult;
}
let deepfoolL2: AttackResult | undefined;

test('DeepFool fools ≥ 95% with a much smaller L2 than PGD-L2 or a random direction needs', async () => {
  const r = await deepfool(classifier, x, { labels: y });
  deepfoolL2 = r;
  assert.ok(fooled(r) >= 0.95, `DeepFool fooled ${fooled(r)}`);
  assert.ok(r.iterations <= 50);
  const [lo, hi] = await range(r.adversarial);
  assert.ok(lo >= 0 && hi <= 1, `range [${lo}, ${hi}]`);
  const baseline = await pgdL2AtSameSuccess(fooled(r));
  assert.ok(meanL2(r) <= 0.8 * baseline.meanL2, `DeepFool mean L2 ${meanL2(r)} vs PGD-L2 ${baseline.meanL2} (ε = ${baseline.eps})`);
  const flips = await randomFlips(r.l2, 3);
  assert.ok(flips <= 0.2, `random noise of 3× DeepFool's L2 flipped ${flips}`);
});

test('DeepFool leaves examples alone once they are misclassified (per-example stopping)', async () => {
  // The first half gets a wrong "true" label: those examples count as fooled already.
  const wrong = tf.tidy(() => tf.concat([tf.slice(target, 0, N / 2), tf.slice(y, N / 2)]) as tf.Tensor1D);
  const r = await deepfool(classifier, x, { labels: wrong });
  for (let i = 0; i < N / 2; i++) assert.equal(r.l2[i], 0, `example ${i} moved`);
  for (let i = N / 2; i < N; i++) if (correct[i]) assert.ok(r.l2[i] > 0 && r.success[i], `example ${i}`);
  tf.dispose([wrong, r.adversarial]);
});

test('DeepFool L∞ finds smaller L∞ perturbations than DeepFool L2; targeted is refused', async () => {
  const r = await deepfool(classifier, x, { labels: y }, { norm: 'linf' });
  assert.ok(fooled(r) >= 0.9, `DeepFool-L∞ fooled ${fooled(r)}`);
  const linf = (a: AttackResult) => mean(a.linf.filter((_, i) => correct[i] && a.success[i]));
  assert.ok(linf(r) < 0.6 * linf(deepfoolL2!), `L∞ ${linf(r)} vs ${linf(deepfoolL2!)}`);
  await assert.rejects(deepfool(classifier, x, { labels: target, targeted: true }), /untargeted only/);
  r.adversarial.dispose();
});

test('C&W L2 fools ≥ 95% with a smaller L2 than PGD-L2 needs, close to DeepFool', async () => {
  const r = await cwOnUnitBounds();
  assert.ok(fooled(r) >= 0.95, `C&W fooled ${fooled(r)}`);
  const [lo, hi] = await range(r.adversarial);
  assert.ok(lo >= 0 && hi <= 1, `range [${lo}, ${hi}]`);
  const baseline = await pgdL2AtSameSuccess(fooled(r));
  assert.ok(meanL2(r) <= 0.8 * baseline.meanL2, `C&W mean L2 ${meanL2(r)} vs PGD-L2 ${baseline.meanL2} (ε = ${baseline.eps})`);
  assert.ok(meanL2(r) <= 1.2 * meanL2(deepfoolL2!), `C&W mean L2 ${meanL2(r)} vs DeepFool ${meanL2(deepfoolL2!)}`);
  assert.ok((await randomFlips(r.l2, 3)) <= 0.2);
});

test('targeted C&W with confidence κ = 2 reaches the target with a logit margin ≥ κ', async () => {
  const r = await carliniWagnerL2(classifier, x, { labels: target, targeted: true }, { ...CW, confidence: 2 });
  assert.ok(hitRate(r) >= 0.9, `target hit rate ${hitRate(r)}`);
  const logits = classifier.logits(r.adversarial);
  const z = (await logits.array()) as number[][];
  const t = await target.data();
  z.forEach((row, i) => {
    if (!r.success[i]) return;
    const other = Math.max(...row.filter((_, k) => k !== t[i]));
    assert.ok(row[t[i]] - other >= 2 - 1e-3, `example ${i}: margin ${row[t[i]] - other}`);
  });
  tf.dispose([logits, r.adversarial]);
});

test('Szegedy: the line search over c turns failures into successes, and finds smaller perturbations than PGD-L2', async () => {
  // At c = 1 the perturbation is penalised too much for most examples; the search lowers c for them.
  const once = await szegedy(classifier, x, { labels: y }, { initialConst: 1, searchSteps: 1, steps: 50 });
  const searched = await szegedy(classifier, x, { labels: y }, { initialConst: 1, searchSteps: 4, steps: 50 });
  assert.ok(fooled(once) <= 0.5, `one c fooled ${fooled(once)}`);
  assert.ok(fooled(searched) >= 0.9, `searched c fooled ${fooled(searched)}`);
  // Each example keeps its smallest success, so searching never makes a perturbation larger.
  once.success.forEach((s, i) => s && assert.ok(searched.l2[i] <= once.l2[i] + 1e-5, `example ${i}`));
  const baseline = await pgdL2AtSameSuccess(fooled(searched));
  assert.ok(meanL2(searched) <= 0.9 * baseline.meanL2, `Szegedy mean L2 ${meanL2(searched)} vs PGD-L2 ${baseline.meanL2} (ε = ${baseline.eps})`);
  const [lo, hi] = await range(searched.adversarial);
  assert.ok(lo >= 0 && hi <= 1);
  tf.dispose([once.adversarial, searched.adversarial]);
});

test('targeted Szegedy (the paper form) reaches the target class', async () => {
  const r = await szegedy(classifier, x, { labels: target, targeted: true }, { searchSteps: 3, steps: 50 });
  assert.ok(hitRate(r) >= 0.9, `target hit rate ${hitRate(r)}`);
  r.adversarial.dispose();
});

test('with bounds [0, 255] and a 1/255 scale, all three work in [0, 255] and find the same perturbations ×255', async () => {
  const df = await deepfool(classifier255, x255, { labels: y });
  const cw = await carliniWagnerL2(classifier255, x255, { labels: y }, CW);
  const sz = await szegedy(classifier255, x255, { labels: y }, { searchSteps: 1, steps: 50 });
  for (const [name, r] of [['DeepFool', df], ['C&W', cw], ['Szegedy', sz]] as const) {
    const [lo, hi] = await range(r.adversarial);
    assert.ok(lo >= 0 && hi <= 255 && hi > 1, `${name} range [${lo}, ${hi}]`);
    assert.ok(fooled(r) >= 0.7, `${name} fooled ${fooled(r)}`);
  }
  // Distances are measured in box widths, so nothing about the attack depends on the scale.
  for (const [name, a, b] of [['DeepFool', df, deepfoolL2!], ['C&W', cw, await cwOnUnitBounds()]] as const) {
    assert.ok(Math.abs(meanL2(a) / 255 - meanL2(b)) <= 0.05 * meanL2(b), `${name}: ${meanL2(a) / 255} vs ${meanL2(b)}`);
  }
  tf.dispose([df.adversarial, cw.adversarial, sz.adversarial]);
});

test('the registry runs all three by name', async () => {
  const o = { eps: 0.3, norm: 'l2' as const, steps: 2 };
  for (const name of ['deepfool', 'cw', 'szegedy']) {
    const r = await ATTACKS[name].run(classifier, x, { labels: y }, o);
    assert.equal(r.success.length, N, name);
    r.adversarial.dispose();
  }
});

test('DeepFool, C&W and Szegedy leak no tensors', async () => {
  const counts = await tensorCounts(async () => {
    const a = await deepfool(classifier, x, { labels: y }, { steps: 3 });
    const b = await carliniWagnerL2(classifier, x, { labels: target, targeted: true }, { binarySteps: 2, steps: 4 });
    const c = await szegedy(classifier, x, { labels: y }, { searchSteps: 2, steps: 3 });
    tf.dispose([a.adversarial, b.adversarial, c.adversarial]);
  });
  assert.equal(new Set(counts).size, 1, `tensor counts ${counts}`);
});

test('bad options give an AdvxError', async () => {
  const goal = { labels: y };
  for (const bad of [{ steps: 0 }, { candidates: 1 }, { overshoot: -0.1 }, { norm: 'l1' as 'l2' }]) {
    await assert.rejects(deepfool(classifier, x, goal, bad), AdvxError, JSON.stringify(bad));
  }
  for (const bad of [{ confidence: -1 }, { initialConst: 0 }, { binarySteps: 0 }, { steps: 1.5 }, { learningRate: NaN }]) {
    await assert.rejects(carliniWagnerL2(classifier, x, goal, bad), AdvxError, JSON.stringify(bad));
  }
  for (const bad of [{ initialConst: -1 }, { searchSteps: 0 }, { steps: 0 }, { stepSize: 0 }]) {
    await assert.rejects(szegedy(classifier, x, goal, bad), AdvxError, JSON.stringify(bad));
  }
  await assert.rejects(carliniWagnerL2(classifier, x, goal, { steps: 0 }), /steps must be a positive integer/);
  const two = tf.slice(x, 0, 2);
  await assert.rejects(szegedy(classifier, two, goal), /labels for 2 inputs/);
  two.dispose();
});
