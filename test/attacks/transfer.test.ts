/** Papernot et al.'s substitute attack and the transfer matrix, against a small MLP trained on MNIST. */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { setup, tensorCounts } from '../helpers/backend.ts';
import { loadDataset } from '../../src/node/datasets/index.ts';
import { gatherBatch } from '../../src/data/batch.ts';
import type { ImageDataset } from '../../src/data/types.ts';
import { buildModel } from '../../src/models/zoo.ts';
import { Classifier } from '../../src/models/classifier.ts';
import { fitClassifier } from '../../src/train/fit.ts';
import { decisionOracle } from '../../src/attacks/blackbox.ts';
import { getAttack } from '../../src/attacks/index.ts';
import { trainSubstitute, transferAttack, type Substitute } from '../../src/attacks/substitute.ts';
import { transferMatrix } from '../../src/eval/transfer.ts';
import { trainLogisticRegression, type LinearModel } from '../../src/models/classic.ts';
import { AdvxError } from '../../src/core/errors.ts';

/** Attacked: test images [0, N). Agreement: [N, SEED_FROM). Seed: 15 per class from [SEED_FROM, TEST). */
const N = 32;
const SEED_FROM = 500;
const TEST = 1000;
const PER_CLASS = 15;
const ROUNDS = 4;
/** 150 seed images labelled by the oracle, doubled three times: 150 · 2³ = 1200 queries. */
const BUDGET = 1200;
const EPS = 0.3;

let target: Classifier;
let test_: ImageDataset;
let x: tf.Tensor4D;
let y: tf.Tensor1D;
let seedX: tf.Tensor4D;
let substitute: Substitute;
let oracleQueries: number;
let logistic: LinearModel;

before(async () => {
  await setup();
  const { train, test } = loadDataset('mnist', { limit: { train: 3000, test: TEST } });
  test_ = test;
  const model = buildModel('mlp', { inputShape: [28, 28, 1], numClasses: 10, seed: 3 });
  await fitClassifier(model, train, { epochs: 2, batchSize: 64, learningRate: 2e-3, seed: 3 });
  target = new Classifier((t) => model.apply(t) as tf.Tensor, { inputShape: [28, 28, 1], numClasses: 10, bounds: [0, 1] });
  ({ x, y } = gatherBatch(test, Array.from({ length: N }, (_, i) => i)));
  const perClass = new Array(10).fill(0);
  const seedIdx: number[] = [];
  for (let i = SEED_FROM; i < TEST; i++) if (perClass[test.labels[i]]++ < PER_CLASS) seedIdx.push(i);
  assert.equal(seedIdx.length, 10 * PER_CLASS);
  seedX = gatherBatch(test, seedIdx).x;
  const oracle = decisionOracle(target);
  substitute = await trainSubstitute(oracle, { x: seedX }, { rounds: ROUNDS, epochs: 8, maxQueries: BUDGET, seed: 5 });
  oracleQueries = oracle.queries;
  const full = gatherBatch(train, Array.from({ length: 2000 }, (_, i) => i));
  logistic = await trainLogisticRegression(full.x, full.y, { epochs: 4, learningRate: 5e-3, seed: 1 });
  tf.dispose([full.x, full.y]);
});

test(`the substitute spends exactly ${BUDGET} oracle queries and agrees with the oracle on > 60% of held-out images`, async () => {
  console.log('rounds', JSON.stringify(substitute.rounds));
  assert.equal(substitute.queries, BUDGET);
  assert.equal(oracleQueries, BUDGET, 'the oracle counted the same');
  assert.deepEqual(substitute.rounds.map((r) => r.size), [150, 300, 600, 1200]);
  const held = gatherBatch(test_, Array.from({ length: SEED_FROM - N }, (_, i) => N + i));
  const [a, b] = await Promise.all([substitute.classifier.predict(held.x), target.predict(held.x)]);
  const agreement = a.filter((v, i) => v === b[i]).length / a.length;
  console.log(`substitute/oracle agreement on ${a.length} held-out images: ${agreement}`);
  assert.ok(agreement > 0.6, `agreement ${agreement}`);
  tf.dispose([held.x, held.y]);
});

test(`FGSM ε = ${EPS} on the substitute transfers to the target far better than random ±ε noise`, async () => {
  const r = await transferAttack(substitute.classifier, target, x, y, { attack: 'fgsm', eps: EPS });
  // The same through the label-only interface: same rate, 2 queries per example.
  const oracle = decisionOracle(target);
  const r2 = await transferAttack(substitute.classifier, oracle, x, y, { attack: 'fgsm', eps: EPS });
  assert.equal(r2.rate, r.rate);
  assert.equal(oracle.queries, 2 * N);
  assert.equal(r2.queries, 2 * N);
  const noisy = tf.tidy(() => tf.clipByValue(tf.add(x, tf.mul(EPS, tf.sign(tf.sub(tf.randomUniform(x.shape, 0, 1, 'float32', 7), 0.5)))), 0, 1));
  const [pn, labels] = await Promise.all([target.predict(noisy), y.data()]);
  const noiseRate = r.targetCorrect.filter((c, i) => c && pn[i] !== labels[i]).length / r.counted;
  console.log(`transfer rate ${r.rate} over ${r.counted}; white-box on the substitute ${r.source.success.filter(Boolean).length / N}; random ±ε noise ${noiseRate}`);
  assert.ok(r.counted >= N * 0.8);
  assert.ok(r.rate >= 0.4 && r.rate >= noiseRate + 0.25, `transfer ${r.rate} vs noise ${noiseRate}`);
  tf.dispose([noisy, r.source.adversarial, r2.source.adversarial]);
});

test('the transfer matrix: shape, diagonal = white-box success, values in [0, 1]', async () => {
  const models = [
    { name: 'mlp', classifier: target },
    { name: 'substitute', classifier: substitute.classifier },
    { name: 'logistic', classifier: logistic.classifier },
  ];
  const m = await transferMatrix(models, x, y, { name: 'pgd', options: { eps: 0.2, steps: 10, seed: 1 } });
  console.log('transfer matrix (PGD ε=0.2)', m.names, JSON.stringify(m.rates.map((r) => r.map((v) => +v.toFixed(3)))), 'counts', JSON.stringify(m.counts));
  assert.deepEqual(m.names, ['mlp', 'substitute', 'logistic']);
  assert.equal(m.rates.length, 3);
  for (const row of m.rates) {
    assert.equal(row.length, 3);
    for (const v of row) assert.ok(v >= 0 && v <= 1, `rate ${v}`);
  }
  const labels = await y.data();
  for (let s = 0; s < 3; s++) {
    const clean = await models[s].classifier.predict(x);
    const correct = Array.from(clean, (p, i) => p === labels[i]);
    const r = await getAttack('pgd')(models[s].classifier, x, { labels: y }, { eps: 0.2, steps: 10, seed: 1 });
    const white = r.success.filter((v, i) => v && correct[i]).length / correct.filter(Boolean).length;
    r.adversarial.dispose();
    assert.ok(Math.abs(m.rates[s][s] - white) < 1e-9, `diagonal ${s}: ${m.rates[s][s]} vs ${white}`);
    assert.equal(m.counts[s][s], correct.filter(Boolean).length);
    assert.ok(Math.abs(m.accuracy[s] - correct.filter(Boolean).length / N) < 1e-9);
  }
});

test('seed labels cost no query; the reservoir and the budget cut the augmentation exactly', async () => {
  const small = tf.slice(seedX, 0, 20);
  const labels = tf.tensor1d(Array.from(test_.labels.subarray(0, 20)), 'int32');
  const oracle = decisionOracle(target);
  // Unlabelled: 20 queries, then min(κ = 5, budget left 8) = 5 new points, then the 3 the budget leaves.
  const s = await trainSubstitute(oracle, { x: small }, { rounds: 4, epochs: 1, reservoir: 5, maxQueries: 28, tau: 2, seed: 1 });
  assert.deepEqual(s.rounds.map((r) => [r.size, r.queries]), [[20, 20], [25, 25], [28, 28]]);
  assert.equal(s.queries, 28);
  assert.equal(oracle.queries, 28);
  s.model.dispose();
  // Labelled: the seed is free, so 10 queries buy two rounds of 5 new points.
  const o2 = decisionOracle(target);
  const s2 = await trainSubstitute(o2, { x: small, y: labels }, { rounds: 3, epochs: 1, reservoir: 5, maxQueries: 10, seed: 1 });
  assert.deepEqual(s2.rounds.map((r) => [r.size, r.queries]), [[20, 0], [25, 5], [30, 10]]);
  assert.equal(o2.queries, 10);
  s2.model.dispose();
  tf.dispose([small, labels]);
});

test('no tensor leaks: a small substitute and a transfer attack', async () => {
  const small = tf.slice(seedX, 0, 20);
  const counts = await tensorCounts(async () => {
    const s = await trainSubstitute(decisionOracle(target), { x: small }, { rounds: 2, epochs: 1, seed: 1 });
    const r = await transferAttack(s.classifier, target, x, y, { attack: 'fgsm', eps: EPS });
    r.source.adversarial.dispose();
    s.model.dispose();
  });
  assert.equal(new Set(counts).size, 1, `tensor counts ${counts}`);
  small.dispose();
});

test('bad options are AdvxErrors', async () => {
  const oracle = decisionOracle(target);
  const empty = tf.zeros([0, 28, 28, 1]);
  await assert.rejects(trainSubstitute(oracle, { x: empty }), AdvxError);
  await assert.rejects(trainSubstitute(oracle, { x: seedX }, { rounds: 0 }), AdvxError);
  await assert.rejects(trainSubstitute(oracle, { x: seedX }, { lambda: -1 }), AdvxError);
  await assert.rejects(trainSubstitute(oracle, { x: seedX }, { maxQueries: 10 }), AdvxError);
  await assert.rejects(trainSubstitute(oracle, { x: seedX }, { architecture: 'nope' }), AdvxError);
  await assert.rejects(transferAttack(substitute.classifier, target, x, y, { attack: 'nope', eps: 0.1 }), AdvxError);
  await assert.rejects(transferMatrix([], x, y, { name: 'fgsm', options: { eps: 0.1 } }), AdvxError);
  assert.equal(oracle.queries, 0, 'no query before the checks');
  empty.dispose();
});
