/**
 * The block as the unit of work of a robustness evaluation: a block's per-example records are the
 * same alone, in a shard and in the whole run, and the shards' records summarise into the whole
 * run's report (every figure but the seconds).
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { setup } from '../helpers/backend.ts';
import { loadDataset } from '../../src/node/datasets/index.ts';
import { loadClassifier } from '../../src/node/io/load-model.ts';
import { toTensors } from '../../src/data/types.ts';
import type { Classifier } from '../../src/models/classifier.ts';
import { evaluateRobustnessExamples, shardBlocks, summarizeRobustness, type RobustnessOptions, type RobustnessReport } from '../../src/eval/robustness.ts';

let classifier: Classifier;
let x: tf.Tensor4D;
let y: tf.Tensor1D;

before(async () => {
  await setup();
  classifier = (await loadClassifier('models/mnist-cnn')).classifier;
  ({ x, y } = toTensors(loadDataset('mnist', { limit: { train: 0, test: 30 } }).test));
});

// A white-box, a score-based and a minimal-norm attack; blocks of 8 (the last one of 6).
const options: RobustnessOptions = { attacks: ['square', 'deepfool', 'pgd'], eps: [0.05, 0.1, 0.2, 0.3], steps: 5, queries: 60, seed: 7, batchSize: 8 };

/** The figures of a report: all of it but the clock. */
const figures = (r: RobustnessReport) => ({ ...r, seconds: 0, attacks: r.attacks.map((a) => ({ ...a, seconds: 0 })) });

test('shards are dealt round-robin by block', () => {
  assert.deepEqual(shardBlocks(30, 8), [0, 1, 2, 3]);
  assert.deepEqual(shardBlocks(30, 8, { index: 1, count: 3 }), [1]);
  assert.deepEqual(shardBlocks(30, 8, { index: 0, count: 3 }), [0, 3]);
  assert.deepEqual(shardBlocks(30, 8, { index: 0, count: 5 }), [0]);
  assert.deepEqual(shardBlocks(30, 8, { index: 4, count: 5 }), [], 'more shards than blocks: an empty shard');
});

test('a block gives the same records alone, in a shard and in the whole run; the shards summarise into the whole report', async () => {
  const tensors = tf.memory().numTensors;
  const whole = await evaluateRobustnessExamples(classifier, x, y, options);
  assert.equal(tf.memory().numTensors, tensors, 'no tensor left behind');
  assert.equal(whole.examples.length, 30);
  assert.deepEqual(whole.examples.map((e) => e.index), Array.from({ length: 30 }, (_, i) => i));
  console.log(JSON.stringify(whole.report.attacks.map((a) => [a.name, a.attacked, a.broken])));
  // Every attack did something somewhere, else the equality below would be vacuous.
  for (const a of whole.report.attacks) assert.ok(Object.values(a.broken).some((b) => b > 0), `${a.name} broke nothing`);
  assert.ok(whole.report.attacks[0].queries, 'square counts queries');

  // Block 2 alone: inputs 16..23 as a set of their own (block 0 of it), the seed's block index aside.
  const shards = [];
  for (let index = 0; index < 3; index++) shards.push(await evaluateRobustnessExamples(classifier, x, y, { ...options, shard: { index, count: 3 } }));
  assert.deepEqual(shards[2].examples, whole.examples.slice(16, 24), 'block 2 alone equals block 2 of the whole run');
  assert.deepEqual(shards[0].examples, [...whole.examples.slice(0, 8), ...whole.examples.slice(24)]);

  const merged = shards.flatMap((s) => s.examples).sort((a, b) => a.index - b.index);
  assert.deepEqual(merged, whole.examples);
  const setup = { eps: options.eps, norm: 'linf' as const, cascade: true, attacks: whole.report.attacks, blackBox: false };
  assert.deepEqual(figures(summarizeRobustness(merged, setup, { total: 0, attacks: [0, 0, 0] })), figures(whole.report));
  // A shard's own report counts its own inputs.
  assert.equal(shards[1].report.count, 8);
});
