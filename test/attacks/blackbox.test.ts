/** Black-box attacks (Square, NES, SPSA, HopSkipJump) against a small MLP trained on MNIST. */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { setup, tensorCounts } from '../helpers/backend.ts';
import { loadDataset } from '../../src/node/datasets/index.ts';
import { gatherBatch } from '../../src/data/batch.ts';
import { buildModel } from '../../src/models/zoo.ts';
import { Classifier } from '../../src/models/classifier.ts';
import { fitClassifier } from '../../src/train/fit.ts';
import { decisionOracle, scoreOracle, type DecisionModel, type ScoreModel } from '../../src/attacks/blackbox.ts';
import { squareAttack, squareP } from '../../src/attacks/square.ts';
import { nes, spsa } from '../../src/attacks/nes.ts';
import { hopSkipJump } from '../../src/attacks/hopskipjump.ts';
import { ATTACKS } from '../../src/attacks/index.ts';
import type { AttackResult } from '../../src/attacks/types.ts';
import { AdvxError } from '../../src/core/errors.ts';

const N = 32;
/** HopSkipJump spends thousands of queries per example: it gets the first 16. */
const NH = 16;
const D = 28 * 28;
let classifier: Classifier;
/** The same network, whose forward pass throws inside any gradient computation. */
let noGradients: Classifier;
let x: tf.Tensor4D;
let y: tf.Tensor1D;
let labels: Int32Array;
/** Per example: the model gets it right. */
let correct: boolean[];
/** A target per example: the next class after its label. */
let target: tf.Tensor1D;
/** For HopSkipJump's targeted run: per example, a later test image the model puts in its target class. */
let starts: tf.Tensor4D;
let xh: tf.Tensor4D;
let yh: tf.Tensor1D;
let targeth: tf.Tensor1D;

before(async () => {
  await setup();
  const { train, test } = loadDataset('mnist', { limit: { train: 3000, test: 300 } });
  const model = buildModel('mlp', { inputShape: [28, 28, 1], numClasses: 10, seed: 3 });
  await fitClassifier(model, train, { epochs: 2, batchSize: 64, learningRate: 2e-3, seed: 3 });
  const forward = (t: tf.Tensor) => model.apply(t) as tf.Tensor;
  const info = { inputShape: [28, 28, 1], numClasses: 10, bounds: [0, 1] as [number, number] };
  classifier = new Classifier(forward, info);
  noGradients = new Classifier((t) => {
    // tf.grad and friends run the forward pass with the engine's gradientDepth raised.
    if ((tf.engine().state as unknown as { gradientDepth: number }).gradientDepth > 0) throw new Error('a black-box attack asked for gradients');
    return forward(t);
  }, info);
  ({ x, y } = gatherBatch(test, Array.from({ length: N }, (_, i) => i)));
  labels = Int32Array.from(await y.data());
  const pred = await classifier.predict(x);
  correct = Array.from(pred, (p, i) => p === labels[i]);
  target = tf.tidy(() => tf.cast(tf.mod(tf.add(y, 1), 10), 'int32') as tf.Tensor1D);
  xh = tf.slice(x, 0, NH);
  yh = tf.slice(y, 0, NH);
  targeth = tf.slice(target, 0, NH);
  const rest = gatherBatch(test, Array.from({ length: test.count - N }, (_, i) => N + i));
  const restPred = await classifier.predict(rest.x);
  const pick = Array.from({ length: NH }, (_, i) => N + restPred.findIndex((p) => p === (labels[i] + 1) % 10));
  assert.ok(pick.every((j) => j >= N), 'a start image for every target');
  starts = gatherBatch(test, pick).x;
  tf.dispose([rest.x, rest.y]);
});

const among = (r: AttackResult, who: boolean[]) => r.success.filter((s, i) => s && who[i]).length / who.filter(Boolean).length;
const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1];
const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;

async function range(t: tf.Tensor): Promise<[number, number]> {
  const [lo, hi] = tf.tidy(() => [tf.min(t), tf.max(t)]);
  const out: [number, number] = [(await lo.data())[0], (await hi.data())[0]];
  tf.dispose([lo, hi]);
  return out;
}

/**
 * A score model that counts, on its own, the images of each example it is asked about: each
 * image belongs to the one clean input within `radius` (L∞) of it. It also checks the bounds.
 */
async function countingScores(c: Classifier, clean: tf.Tensor, radius: number) {
  const xs = (await clean.data()) as Float32Array;
  const n = clean.shape[0];
  const counts = new Int32Array(n);
  const inner = scoreOracle(c);
  let outOfBounds = 0;
  const model: ScoreModel = {
    info: c.info,
    async scores(batch: tf.Tensor) {
      const q = (await batch.data()) as Float32Array;
      for (let r = 0; r < batch.shape[0]; r++) {
        const owners: number[] = [];
        for (let i = 0; i < n; i++) {
          let near = true;
          for (let j = 0; j < D && near; j++) near = Math.abs(q[r * D + j] - xs[i * D + j]) <= radius;
          if (near) owners.push(i);
        }
        assert.equal(owners.length, 1, `image ${r} is near ${owners.length} inputs`);
        counts[owners[0]]++;
        for (let j = 0; j < D; j++) if (q[r * D + j] < 0 || q[r * D + j] > 1) outOfBounds++;
      }
      return inner.scores(batch);
    },
  };
  return { model, counts, outOfBounds: () => outOfBounds };
}

test('Square (L∞, ε = 0.3) fools ≥ 90% within 1000 queries; its query counts are exact', async (t) => {
  const { model, counts, outOfBounds } = await countingScores(classifier, x, 0.3 + 1e-5);
  const r = await squareAttack(model, x, { labels: y }, { eps: 0.3 });
  assert.ok(among(r, correct) >= 0.9, `success ${among(r, correct)}`);
  assert.deepEqual(r.queries, Array.from(counts), 'per-example counts');
  assert.ok(Math.max(...r.queries!) <= 1000 && r.iterations === Math.max(...r.queries!));
  assert.ok(Math.max(...r.linf) <= 0.3 + 1e-6, `max L∞ ${Math.max(...r.linf)}`);
  assert.equal(outOfBounds(), 0, 'every query within the bounds');
  const [lo, hi] = await range(r.adversarial);
  assert.ok(lo >= 0 && hi <= 1);
  // The model agrees with the attack's success flags.
  const pred = await classifier.predict(r.adversarial);
  assert.deepEqual(r.success, Array.from(pred, (p, i) => p !== labels[i]));
  const q = r.queries!.filter((_, i) => correct[i] && r.success[i]);
  t.diagnostic(`Square ε=0.3: success ${(among(r, correct) * 100).toFixed(0)}%, median queries ${median(q)}, max ${Math.max(...q)}`);
  r.adversarial.dispose();
});

test('Square: the p schedule halves at the paper’s points; targeted Square reaches the target', async (t) => {
  assert.equal(squareP(0.8, 0, 10000), 0.8);
  assert.equal(squareP(0.8, 11, 10000), 0.4);
  assert.equal(squareP(0.8, 51, 10000), 0.2);
  assert.equal(squareP(0.8, 9000, 10000), 0.8 / 512);
  assert.equal(squareP(0.8, 2, 1000), 0.4, 'rescaled to the budget');
  const r = await squareAttack(scoreOracle(classifier), x, { labels: target, targeted: true }, { eps: 0.3 });
  assert.ok(mean(r.success.map(Number)) >= 0.85, `target hit rate ${mean(r.success.map(Number))}`);
  const pred = await classifier.predict(r.adversarial);
  r.success.forEach((s, i) => s && assert.equal(pred[i], (labels[i] + 1) % 10));
  t.diagnostic(`targeted Square ε=0.3: hit ${(mean(r.success.map(Number)) * 100).toFixed(0)}%, median queries ${median(r.queries!.filter((_, i) => r.success[i]))}`);
  r.adversarial.dispose();
});

test('L2 Square (ε = 3, 1000 queries) fools ≥ 80% and stays in its ball', async (t) => {
  const r = await squareAttack(scoreOracle(classifier), xh, { labels: yh }, { eps: 3, norm: 'l2' });
  const ok = correct.slice(0, NH);
  assert.ok(among(r, ok) >= 0.8, `success ${among(r, ok)}`);
  assert.ok(Math.max(...r.l2) <= 3 + 1e-4, `max L2 ${Math.max(...r.l2)}`);
  const [lo, hi] = await range(r.adversarial);
  assert.ok(lo >= 0 && hi <= 1);
  const pred = await classifier.predict(r.adversarial);
  assert.deepEqual(r.success, Array.from(pred, (p, i) => p !== labels[i]));
  t.diagnostic(`L2 Square ε=3: success ${(among(r, ok) * 100).toFixed(0)}%, median queries ${median(r.queries!.filter((_, i) => ok[i] && r.success[i]))}`);
  r.adversarial.dispose();
});

test('NES and SPSA (L∞, ε = 0.3, 2000 queries) fool ≥ 90%, with exact query counts', async (t) => {
  for (const [name, attack] of [['NES', nes], ['SPSA', spsa]] as const) {
    // σ: 0.001 (NES) or 0.01 (SPSA) per pixel around a point of the ε-ball.
    const { model, counts, outOfBounds } = await countingScores(classifier, x, 0.3 + 0.1);
    const r = await attack(model, x, { labels: y }, { eps: 0.3, queries: 2000 });
    assert.ok(among(r, correct) >= 0.9, `${name} success ${among(r, correct)}`);
    assert.deepEqual(r.queries, Array.from(counts), `${name} per-example counts`);
    assert.ok(Math.max(...r.queries!) <= 2000);
    assert.ok(Math.max(...r.linf) <= 0.3 + 1e-6, `${name} max L∞ ${Math.max(...r.linf)}`);
    assert.equal(outOfBounds(), 0);
    const pred = await classifier.predict(r.adversarial);
    assert.deepEqual(r.success, Array.from(pred, (p, i) => p !== labels[i]), `${name} success flags`);
    t.diagnostic(`${name} ε=0.3: success ${(among(r, correct) * 100).toFixed(0)}%, median queries ${median(r.queries!.filter((_, i) => correct[i] && r.success[i]))}`);
    r.adversarial.dispose();
  }
});

test('targeted NES (ε = 0.3, 3000 queries) reaches the target; L2 NES stays in its ball', async (t) => {
  const r = await nes(scoreOracle(classifier), x, { labels: target, targeted: true }, { eps: 0.3, queries: 3000 });
  const hit = mean(r.success.map(Number));
  // 27 of 32 when written (white-box PGD: 31); the rest need more than 3000 queries.
  assert.ok(hit >= 0.75, `target hit rate ${hit}`);
  const pred = await classifier.predict(r.adversarial);
  r.success.forEach((s, i) => s && assert.equal(pred[i], (labels[i] + 1) % 10));
  t.diagnostic(`targeted NES ε=0.3: hit ${(hit * 100).toFixed(0)}%, median queries ${median(r.queries!.filter((_, i) => r.success[i]))}`);
  const l2 = await nes(scoreOracle(classifier), xh, { labels: yh }, { eps: 3, norm: 'l2', queries: 500, stepSize: 0.5 });
  assert.ok(Math.max(...l2.l2) <= 3 + 1e-4, `max L2 ${Math.max(...l2.l2)}`);
  tf.dispose([r.adversarial, l2.adversarial]);
});

test('HopSkipJump (L2): the perturbation shrinks with iterations and ends below 2.5 (5 iterations), still adversarial', async (t) => {
  const budget = 1200;
  const oracle = decisionOracle(classifier);
  const runs: AttackResult[] = [];
  for (const steps of [0, 2, 5]) runs.push(await hopSkipJump(oracle, xh, { labels: yh }, { queries: budget, steps }));
  const ok = correct.slice(0, NH);
  const l2 = runs.map((r) => mean(r.l2.filter((_, i) => ok[i])));
  assert.ok(l2[0] > l2[1] && l2[1] > l2[2], `mean L2 by iterations 0, 2, 5: ${l2}`);
  const last = runs[2];
  assert.ok(l2[2] < 2.5, `mean L2 ${l2[2]}`);
  assert.ok(among(last, ok) === 1, 'every start found');
  const pred = await classifier.predict(last.adversarial);
  ok.forEach((c, i) => c && assert.notEqual(pred[i], labels[i], `example ${i} is no longer adversarial`));
  assert.ok(Math.max(...last.queries!) <= budget);
  assert.equal(oracle.queries, runs.reduce((s, r) => s + r.queries!.reduce((a, b) => a + b, 0), 0), 'the oracle saw every counted query');
  t.diagnostic(`HopSkipJump L2 mean over iterations 0/2/5: ${l2.map((v) => v.toFixed(2)).join(' / ')}, queries mean ${mean(last.queries!).toFixed(0)}`);
  runs.forEach((r) => r.adversarial.dispose());
});

test('HopSkipJump: per-example query counts are exact; targeted from target-class images; L∞ works', async (t) => {
  // One example at a time, a model that counts its calls.
  let seen = 0;
  const counting: DecisionModel = {
    info: classifier.info,
    label: (b) => {
      seen += b.shape[0];
      return classifier.predict(b);
    },
  };
  for (const i of [0, 1]) {
    seen = 0;
    const one = tf.slice(xh, i, 1);
    const r = await hopSkipJump(counting, one, { labels: tf.slice(yh, i, 1) as tf.Tensor1D }, { queries: 300 });
    assert.equal(r.queries![0], seen);
    assert.ok(seen <= 300 && seen > 250, `${seen} queries of 300`);
    tf.dispose([one, r.adversarial]);
  }
  const goal = { labels: targeth, targeted: true };
  const r = await hopSkipJump(decisionOracle(classifier), xh, goal, { queries: 800, starts });
  const pred = await classifier.predict(r.adversarial);
  const t0 = await targeth.data();
  assert.ok(r.success.every(Boolean), 'every example starts from its target class');
  pred.forEach((p, i) => assert.equal(p, t0[i]));
  const startL2 = tf.tidy(() => tf.norm(tf.reshape(tf.sub(starts, xh), [NH, -1]), 'euclidean', 1));
  const s = Array.from(await startL2.data());
  startL2.dispose();
  assert.ok(mean(r.l2) < 0.6 * mean(s), `targeted mean L2 ${mean(r.l2)} vs ${mean(s)} at the starts`);
  const linf = await hopSkipJump(decisionOracle(classifier), xh, { labels: yh }, { norm: 'linf', queries: 600 });
  assert.ok(among(linf, correct.slice(0, NH)) === 1 && mean(linf.linf) < 0.35, `L∞ HSJ mean L∞ ${mean(linf.linf)}`);
  t.diagnostic(`targeted HSJ (800 queries): mean L2 ${mean(r.l2).toFixed(2)} from ${mean(s).toFixed(2)}; L∞ HSJ (600): mean L∞ ${mean(linf.linf).toFixed(3)}`);
  tf.dispose([r.adversarial, linf.adversarial]);
});

test('the registry runs all four through oracles only: a forward pass that throws under tf.grad is no obstacle', async () => {
  // The guard works: a gradient through this classifier throws.
  assert.throws(() => tf.grad((v: tf.Tensor) => tf.sum(noGradients.logits(v)))(xh), /asked for gradients/);
  for (const name of ['square', 'nes', 'spsa', 'hsj']) {
    const eps = 0.3;
    const r = await ATTACKS[name].run(noGradients, xh, { labels: yh }, { eps, norm: name === 'hsj' ? 'l2' : 'linf', queries: name === 'hsj' ? 300 : 1000, seed: 1 });
    assert.ok(among(r, correct.slice(0, NH)) >= 0.8, `${name}: success ${among(r, correct.slice(0, NH))}`);
    assert.equal(r.queries?.length, NH);
    r.adversarial.dispose();
  }
});

test('the same seed gives the same result; another seed another', async () => {
  const run = {
    square: (seed: number) => squareAttack(scoreOracle(classifier), xh, { labels: yh }, { eps: 0.2, queries: 40, seed }),
    nes: (seed: number) => nes(scoreOracle(classifier), xh, { labels: yh }, { eps: 0.2, queries: 103, seed }),
    hsj: (seed: number) => hopSkipJump(decisionOracle(classifier), xh, { labels: yh }, { queries: 150, seed }),
  };
  for (const [name, attack] of Object.entries(run)) {
    const [a, b, c] = [await attack(5), await attack(5), await attack(6)];
    const [da, db, dc] = [await a.adversarial.data(), await b.adversarial.data(), await c.adversarial.data()];
    assert.deepEqual(da, db, `${name}: same seed, same images`);
    assert.deepEqual(a.queries, b.queries, `${name}: same seed, same queries`);
    assert.notDeepEqual(da, dc, `${name}: another seed`);
    tf.dispose([a.adversarial, b.adversarial, c.adversarial]);
  }
});

test('black-box attacks leak no tensors', async () => {
  const counts = await tensorCounts(async () => {
    const a = await squareAttack(scoreOracle(classifier), xh, { labels: yh }, { eps: 0.1, queries: 20 });
    const b = await nes(scoreOracle(classifier), xh, { labels: yh }, { eps: 0.1, queries: 103 });
    const c = await hopSkipJump(decisionOracle(classifier), xh, { labels: yh }, { queries: 130 });
    tf.dispose([a.adversarial, b.adversarial, c.adversarial]);
  });
  assert.equal(new Set(counts).size, 1, `tensor counts ${counts}`);
});

test('bad options give an AdvxError', async () => {
  const s = scoreOracle(classifier);
  const d = decisionOracle(classifier);
  const goal = { labels: yh };
  await assert.rejects(squareAttack(s, xh, goal, { eps: -0.1 }), AdvxError);
  await assert.rejects(squareAttack(s, xh, goal, { eps: 0.1, queries: 0 }), /query budget must be a positive integer/);
  await assert.rejects(squareAttack(s, xh, goal, { eps: 0.1, norm: 'l1' as 'l2' }), /norm must be/);
  await assert.rejects(squareAttack(s, xh, goal, { eps: 0.1, pInit: 0 }), /pInit/);
  await assert.rejects(nes(s, xh, goal, { eps: NaN }), /ε must be a non-negative number/);
  await assert.rejects(nes(s, xh, goal, { eps: 0.1, queries: 2.5 }), AdvxError);
  await assert.rejects(nes(s, xh, goal, { eps: 0.1, samples: 3 }), /even/);
  await assert.rejects(spsa(s, xh, goal, { eps: 0.1, sigma: 0 }), /sigma/);
  await assert.rejects(nes(s, xh, goal, { eps: 0.1, momentum: -1 }), /momentum/);
  await assert.rejects(hopSkipJump(d, xh, goal, { queries: -1 }), AdvxError);
  await assert.rejects(hopSkipJump(d, xh, goal, { norm: 'l1' as 'l2' }), /norm must be/);
  await assert.rejects(hopSkipJump(d, xh, goal, { starts: x }), /starts of shape/);
  const twelve = tf.fill([NH], 12, 'int32') as tf.Tensor1D;
  await assert.rejects(hopSkipJump(d, xh, { labels: twelve }), /not a class/);
  twelve.dispose();
  const wrong = tf.zeros([NH, 4]);
  await assert.rejects(squareAttack(s, wrong, goal, { eps: 0.1 }), /do not match the model's input/);
  wrong.dispose();
  assert.equal(s.queries + d.queries, 0, 'no query before the options are checked');
});
