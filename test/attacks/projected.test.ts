import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { smallMlpTarget } from '../helpers/small-mlp.ts';
import { Classifier } from '../../src/models/classifier.ts';
import { clipToBounds, normalizeGradient, perExample, projectBall, type Norm } from '../../src/core/norms.ts';
import { Rng } from '../../src/core/rng.ts';
import { applyTransforms, PRINT_TRANSFORMS, sampleTransforms } from '../../src/data/transforms.ts';
import { lossGradient, type AttackGoal } from '../../src/attacks/types.ts';
import { pgdRun } from '../../src/attacks/pgd.ts';
import { mifgsm } from '../../src/attacks/mifgsm.ts';
import { eot } from '../../src/attacks/eot.ts';
import { lastIterate, projectedIterates, type ProjectedOptions } from '../../src/attacks/projected.ts';
import { runAttack, type ExplorerAttack } from '../../web/src/attacks.ts';

let classifier: Classifier;
let x: tf.Tensor4D;
let y: tf.Tensor1D;

before(async () => {
  ({ classifier, x, y } = await smallMlpTarget(4));
});

/** Bit-for-bit equality of two tensors, with a readable message when they differ. */
function assertSame(actual: tf.Tensor | Float32Array, expected: tf.Tensor | Float32Array, what: string): void {
  const [a, b] = [actual instanceof tf.Tensor ? actual.dataSync() : actual, expected instanceof tf.Tensor ? expected.dataSync() : expected];
  assert.equal(a.length, b.length, `${what}: sizes`);
  let differ = 0;
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    if (!Object.is(a[i], b[i])) differ++;
    worst = Math.max(worst, Math.abs(a[i] - b[i]));
  }
  assert.equal(differ, 0, `${what}: ${differ} of ${a.length} values differ (max |Δ| ${worst})`);
}

// The loops as they were written before projectedIterates, copied verbatim as the reference.

function oldPgdRun(x: tf.Tensor, goal: AttackGoal, o: { eps: number; norm: Norm; steps: number; alpha: number; randomStart: boolean; seed: number }): tf.Tensor {
  const bounds = classifier.info.bounds;
  let adv = tf.tidy(() => {
    if (!o.randomStart || o.eps === 0) return tf.clone(x);
    const noise = o.norm === 'linf' ? tf.randomUniform(x.shape, -o.eps, o.eps, 'float32', o.seed) : projectBall(tf.randomNormal(x.shape, 0, o.eps, 'float32', o.seed), 'l2', o.eps);
    return clipToBounds(tf.add(x, noise), bounds);
  });
  for (let k = 0; k < o.steps; k++) {
    const next = tf.tidy(() => {
      const step = tf.mul(o.alpha, normalizeGradient(lossGradient(classifier, adv, goal), o.norm));
      const delta = projectBall(tf.sub(tf.add(adv, step), x), o.norm, o.eps);
      return clipToBounds(tf.add(x, delta), bounds);
    });
    adv.dispose();
    adv = next;
  }
  return adv;
}

function oldMifgsm(x: tf.Tensor, goal: AttackGoal, o: { eps: number; norm: Norm; steps: number; alpha: number; momentum: number }): tf.Tensor {
  const { eps, norm, steps, alpha, momentum } = o;
  const bounds = classifier.info.bounds;
  let adv = tf.clone(x);
  let g = tf.zerosLike(x);
  for (let t = 0; t < steps; t++) {
    const [nextG, nextAdv] = tf.tidy(() => {
      const grad = lossGradient(classifier, adv, goal);
      const l1 = tf.sum(tf.abs(tf.reshape(grad, [grad.shape[0], -1])), 1) as tf.Tensor1D;
      const gt = tf.add(tf.mul(momentum, g), tf.div(grad, perExample(tf.maximum(l1, 1e-12) as tf.Tensor1D, grad)));
      const step = tf.mul(alpha, normalizeGradient(gt, norm));
      const delta = projectBall(tf.sub(tf.add(adv, step), x), norm, eps);
      return [gt, clipToBounds(tf.add(x, delta), bounds)];
    });
    tf.dispose([g, adv]);
    [g, adv] = [nextG, nextAdv];
  }
  g.dispose();
  return adv;
}

function oldEot(x: tf.Tensor, goal: AttackGoal, o: { eps: number; norm: Norm; steps: number; alpha: number; samples: number; seed: number }): tf.Tensor {
  const { eps, norm, steps, alpha, samples } = o;
  const transforms = PRINT_TRANSFORMS;
  const rng = new Rng(o.seed);
  const n = x.shape[0];
  const bounds = classifier.info.bounds;
  const labels = tf.tidy(() => tf.tile(goal.labels, [samples]));
  const sign = goal.targeted ? -1 : 1;
  let adv = tf.clone(x);
  for (let k = 0; k < steps; k++) {
    const params = sampleTransforms(n * samples, transforms, rng);
    const next = tf.tidy(() => {
      const grad = tf.grad((input: tf.Tensor) => {
        const t = applyTransforms(tf.tile(input, [samples, 1, 1, 1]), params, bounds, transforms.noise ?? 0);
        const logits = classifier.logits(t);
        return tf.mul(sign, tf.losses.softmaxCrossEntropy(tf.oneHot(labels as tf.Tensor1D, logits.shape[1]), logits, undefined, 0, tf.Reduction.SUM));
      })(adv);
      const delta = projectBall(tf.sub(tf.add(adv, tf.mul(alpha, normalizeGradient(grad, norm))), x), norm, eps);
      return clipToBounds(tf.add(x, delta), bounds);
    });
    adv.dispose();
    adv = next;
  }
  labels.dispose();
  return adv;
}

const targets = () => tf.tensor1d([3, 3, 7, 7], 'int32');

test('pgdRun gives bit for bit what the old PGD loop gave (L∞, L2, with and without random start, targeted)', () => {
  const target = targets();
  const cases: [string, AttackGoal, { eps: number; norm: Norm; steps: number; alpha: number; randomStart: boolean; seed: number }][] = [
    ['L∞ random start', { labels: y }, { eps: 0.1, norm: 'linf', steps: 5, alpha: 0.03, randomStart: true, seed: 7 }],
    ['L∞ BIM', { labels: y }, { eps: 0.1, norm: 'linf', steps: 5, alpha: 0.03, randomStart: false, seed: 7 }],
    ['L2 random start', { labels: y }, { eps: 1.5, norm: 'l2', steps: 5, alpha: 0.5, randomStart: true, seed: 3 }],
    ['L∞ targeted', { labels: target, targeted: true }, { eps: 0.2, norm: 'linf', steps: 4, alpha: 0.05, randomStart: true, seed: 11 }],
  ];
  for (const [what, goal, o] of cases) {
    const [now, before] = [pgdRun(classifier, x, goal, o), oldPgdRun(x, goal, o)];
    assertSame(now, before, what);
    tf.dispose([now, before]);
  }
  target.dispose();
});

test('mifgsm gives bit for bit what the old MI-FGSM loop gave (μ = 1, μ = 0.5, μ = 0, L2, targeted)', async () => {
  const target = targets();
  const cases: [string, AttackGoal, { eps: number; norm: Norm; steps: number; alpha: number; momentum: number }][] = [
    ['L∞ μ=1', { labels: y }, { eps: 0.15, norm: 'linf', steps: 6, alpha: 0.025, momentum: 1 }],
    ['L∞ μ=0.5', { labels: y }, { eps: 0.15, norm: 'linf', steps: 6, alpha: 0.025, momentum: 0.5 }],
    ['L∞ μ=0', { labels: y }, { eps: 0.15, norm: 'linf', steps: 6, alpha: 0.025, momentum: 0 }],
    ['L2 μ=1', { labels: y }, { eps: 1.5, norm: 'l2', steps: 6, alpha: 0.25, momentum: 1 }],
    ['L∞ targeted', { labels: target, targeted: true }, { eps: 0.3, norm: 'linf', steps: 5, alpha: 0.06, momentum: 1 }],
  ];
  for (const [what, goal, o] of cases) {
    const now = await mifgsm(classifier, x, goal, { eps: o.eps, norm: o.norm, steps: o.steps, stepSize: o.alpha, momentum: o.momentum });
    const before = oldMifgsm(x, goal, o);
    assertSame(now.adversarial, before, what);
    tf.dispose([now.adversarial, before]);
  }
  target.dispose();
});

test('eot gives bit for bit what the old EOT loop gave', async () => {
  for (const [what, norm, eps, alpha] of [['L∞', 'linf', 0.1, 0.03], ['L2', 'l2', 1.5, 0.5]] as const) {
    const now = await eot(classifier, x, { labels: y }, { eps, norm, steps: 3, stepSize: alpha, samples: 2, seed: 5 });
    const before = oldEot(x, { labels: y }, { eps, norm, steps: 3, alpha, samples: 2, seed: 5 });
    assertSame(now.adversarial, before, what);
    tf.dispose([now.adversarial, before]);
  }
});

async function labIterates(image: tf.Tensor, attack: ExplorerAttack, eps: number, steps: number, target: number | null, label: number, seed: number): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for await (const it of runAttack(classifier, image.dataSync() as Float32Array, image.shape, { attack, eps, steps, target, labels: [label], seed })) {
    assert.equal(it.step, out.length);
    assert.equal(it.total, steps);
    out.push(it.adversarial);
  }
  return out;
}

test("the lab's PGD, BIM and MI-FGSM end where pgdRun and mifgsm do", async () => {
  const image = tf.slice(x, 0, 1);
  const label = (await y.data())[0];
  const goal = { labels: tf.tensor1d([label], 'int32') };
  for (const [attack, norm, eps] of [['pgd', 'linf', 0.2], ['pgd-l2', 'l2', 2], ['bim', 'linf', 0.2]] as const) {
    const steps = 6;
    const lab = await labIterates(image, attack, eps, steps, null, label, 9);
    assert.equal(lab.length, steps + 1);
    const lib = pgdRun(classifier, image, goal, { eps, norm, steps, alpha: (2.5 * eps) / steps, randomStart: attack !== 'bim', seed: 9 });
    assertSame(lab[steps], lib, attack);
    lib.dispose();
  }
  const lab = await labIterates(image, 'mifgsm', 0.2, 5, null, label, 0);
  const lib = await mifgsm(classifier, image, goal, { eps: 0.2, steps: 5 });
  assertSame(lab[5], lib.adversarial, 'mifgsm');
  tf.dispose([image, goal.labels, lib.adversarial]);
});

/** All iterates of the generator, copied out. */
function iterates(input: tf.Tensor, goal: AttackGoal, o: ProjectedOptions): Float32Array[] {
  return Array.from(projectedIterates(classifier, input, goal, o), (xk) => Float32Array.from(xk.dataSync()));
}

test("every iterate of the lab's PGD, BIM and MI-FGSM is the library's, for the same seed", async () => {
  const image = tf.slice(x, 1, 1);
  const label = (await y.data())[1];
  for (const target of [null, 4]) {
    const goal = { labels: tf.tensor1d([target ?? label], 'int32'), targeted: target !== null };
    const steps = 5;
    for (const [attack, norm, eps] of [['pgd', 'linf', 0.2], ['pgd-l2', 'l2', 2], ['bim', 'linf', 0.2], ['mifgsm', 'linf', 0.2]] as const) {
      const lab = await labIterates(image, attack, eps, steps, target, label, 13);
      const momentum = attack === 'mifgsm' ? 1 : undefined;
      const stepSize = attack === 'mifgsm' ? eps / steps : (2.5 * eps) / steps;
      const lib = iterates(image, goal, { eps, norm, steps, stepSize, randomStart: attack.startsWith('pgd'), seed: 13, momentum });
      assert.equal(lab.length, lib.length);
      lab.forEach((it, k) => assertSame(it, lib[k], `${attack} target ${target} step ${k}`));
    }
    goal.labels.dispose();
  }
  image.dispose();
});

test('every iterate lies in the ε-ball around x and in the bounds; x⁰ = x without a random start', () => {
  const cases: [string, ProjectedOptions][] = [
    ['PGD L∞', { eps: 0.1, norm: 'linf', steps: 6, stepSize: 0.04, randomStart: true, seed: 1 }],
    ['PGD L2', { eps: 1, norm: 'l2', steps: 6, stepSize: 0.4, randomStart: true, seed: 1 }],
    ['MI-FGSM L∞', { eps: 0.1, norm: 'linf', steps: 6, stepSize: 0.04, momentum: 1 }],
    ['MI-FGSM L2', { eps: 1, norm: 'l2', steps: 6, stepSize: 0.4, momentum: 1 }],
  ];
  const clean = x.dataSync();
  const size = clean.length / x.shape[0];
  for (const [what, o] of cases) {
    const all = iterates(x, { labels: y }, o);
    assert.equal(all.length, o.steps + 1, what);
    if (!o.randomStart) assertSame(all[0], x, `${what}: x⁰`);
    all.forEach((xk, k) => {
      for (let i = 0; i < x.shape[0]; i++) {
        let [linf, l2] = [0, 0];
        for (let j = i * size; j < (i + 1) * size; j++) {
          assert.ok(xk[j] >= 0 && xk[j] <= 1, `${what} step ${k}: ${xk[j]} outside the bounds`);
          const d = Math.abs(xk[j] - clean[j]);
          [linf, l2] = [Math.max(linf, d), l2 + d * d];
        }
        const norm = o.norm === 'linf' ? linf : Math.sqrt(l2);
        assert.ok(norm <= o.eps + 1e-5, `${what} step ${k} example ${i}: ‖δ‖ = ${norm} > ε = ${o.eps}`);
      }
    });
    const moved = all.at(-1)!.some((v, j) => v !== clean[j]);
    assert.ok(moved, `${what}: the attack moves`);
  }
});

test('MI-FGSM normalises the gradient per example: a batch of two gives what each example gives alone', () => {
  const [pair, labels] = [tf.slice(x, 0, 2), tf.slice(y, 0, 2)];
  const o: ProjectedOptions = { eps: 0.2, norm: 'linf', steps: 8, stepSize: 0.025, momentum: 1 };
  const together = lastIterate(projectedIterates(classifier, pair, { labels }, o));
  const alone = [0, 1].map((i) => {
    const [xi, yi] = [tf.slice(x, i, 1), tf.slice(y, i, 1)];
    const out = lastIterate(projectedIterates(classifier, xi, { labels: yi }, o));
    tf.dispose([xi, yi]);
    return out;
  });
  const separate = tf.concat(alone);
  assertSame(together, separate, 'batch of two vs one at a time');
  // The web lab's loop before projectedIterates divided by the L1 norm of the whole batch, so
  // one example's step depended on the other's gradient; on this pair that changes the result.
  let adv: tf.Tensor = tf.clone(pair);
  let g: tf.Tensor = tf.zerosLike(pair);
  for (let k = 0; k < o.steps; k++) {
    const [cur, gPrev] = [adv, g];
    [adv, g] = tf.tidy(() => {
      const grad = lossGradient(classifier, cur, { labels });
      const m = tf.add(gPrev, tf.div(grad, tf.maximum(tf.sum(tf.abs(grad)), 1e-12)));
      const delta = projectBall(tf.sub(tf.add(cur, tf.mul(o.stepSize, normalizeGradient(m, 'linf'))), pair), 'linf', o.eps);
      return [clipToBounds(tf.add(pair, delta), [0, 1]), m];
    });
    tf.dispose([cur, gPrev]);
  }
  const changed = tf.tidy(() => tf.sum(tf.cast(tf.notEqual(adv, separate), 'int32')).dataSync()[0]);
  assert.ok(changed > 0, 'batch-wide L1 normalisation differs from per-example');
  tf.dispose([pair, labels, together, separate, ...alone, adv, g]);
});

test('a custom gradient replaces the loss gradient, once per step', () => {
  let calls = 0;
  const gradient = (input: tf.Tensor) => {
    calls++;
    return tf.onesLike(input);
  };
  const o: ProjectedOptions = { eps: 0.1, norm: 'linf', steps: 4, stepSize: 0.03, gradient };
  const all = iterates(x, { labels: y }, o);
  assert.equal(calls, 4);
  const want = tf.tidy(() => tf.clipByValue(tf.minimum(tf.add(x, 0.03 * 4), tf.add(x, 0.1)), 0, 1));
  const last = all[4];
  const expected = want.dataSync();
  assert.ok(last.every((v, j) => Math.abs(v - expected[j]) < 1e-6), 'x + min(kα, ε), clipped');
  want.dispose();
});

test('iterates are freed on advance and when the consumer stops early; nothing leaks', async () => {
  const o: ProjectedOptions = { eps: 0.1, norm: 'linf', steps: 10, stepSize: 0.02, randomStart: true, seed: 2, momentum: 1 };
  const image = tf.tidy(() => tf.slice(x, 0, 1).dataSync() as Float32Array);
  const start = tf.memory().numTensors;
  // Advancing disposes the previous iterate: the consumer must clone to keep one.
  const gen = projectedIterates(classifier, x, { labels: y }, o);
  const first = gen.next().value as tf.Tensor;
  gen.next();
  assert.ok(first.isDisposed, 'x⁰ is freed when x¹ comes');
  gen.return();
  assert.equal(tf.memory().numTensors, start, 'return() in the middle');
  // break out of for…of; throw from the loop body; a generator that never started.
  for (const xk of projectedIterates(classifier, x, { labels: y }, o)) if (xk) break;
  assert.equal(tf.memory().numTensors, start, 'break');
  assert.throws(() => {
    for (const _ of projectedIterates(classifier, x, { labels: y }, o)) throw new Error('stop');
  }, /stop/);
  assert.equal(tf.memory().numTensors, start, 'throw');
  projectedIterates(classifier, x, { labels: y }, o).return();
  assert.equal(tf.memory().numTensors, start, 'never started');
  // Run to the end, and the lab stopped after its second step.
  lastIterate(projectedIterates(classifier, x, { labels: y }, o)).dispose();
  assert.equal(tf.memory().numTensors, start, 'to the end');
  for (const attack of ['pgd', 'mifgsm'] as const) {
    for await (const it of runAttack(classifier, image, [1, ...classifier.info.inputShape], { attack, eps: 0.1, steps: 10, target: null, labels: [0] })) if (it.step === 2) break;
    assert.equal(tf.memory().numTensors, start, `lab ${attack} stopped early`);
  }
});
