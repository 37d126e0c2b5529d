/**
 * The attacks' per-iteration progress callback (AttackOptions.onStep, issue 20): told steps that
 * never decrease, up to (steps, steps); the same results, queries and tensor count with and without it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { setup } from '../helpers/backend.ts';
import { ATTACKS, type AttackOptions } from '../../src/attacks/index.ts';
import { Classifier } from '../../src/models/classifier.ts';

await setup();

// A fixed linear model on 6×6 grey images and 4 inputs: cheap, and not every input starts fooled.
const [h, w, k, n] = [6, 6, 4, 4];
const weights = tf.randomNormal([h * w, k], 0, 1, 'float32', 7);
const classifier = new Classifier((t) => tf.matMul(tf.reshape(t, [t.shape[0], -1]), weights), { inputShape: [h, w, 1], numClasses: k, bounds: [0, 1] });
const x = tf.randomUniform([n, h, w, 1], 0, 1, 'float32', 11);
const labels = tf.argMax(classifier.logits(x), 1) as tf.Tensor1D;

const CASES: Record<string, AttackOptions> = {
  hsj: { eps: 0.1, norm: 'l2', queries: 300, seed: 1 },
  eot: { eps: 0.05, steps: 5, samples: 2, seed: 1 },
  square: { eps: 0.05, queries: 60, seed: 1 },
  nes: { eps: 0.05, queries: 130, seed: 1 },
  spsa: { eps: 0.05, queries: 130, seed: 1 },
  cw: { eps: 0, norm: 'l2', steps: 5 },
  pgd: { eps: 0.02, steps: 4, restarts: 2, seed: 1 },
  'apgd-ce': { eps: 0.02, steps: 4, restarts: 2, seed: 1 },
  'apgd-t': { eps: 0.02, steps: 3, targets: 2, seed: 1 },
  mifgsm: { eps: 0.02, steps: 4 },
  fab: { eps: 0.05, steps: 3, restarts: 2, seed: 1 },
  'fab-t': { eps: 0.05, steps: 2, restarts: 2, targets: 2, seed: 1 },
  deepfool: { eps: 0, norm: 'l2', steps: 4 },
  szegedy: { eps: 0, steps: 3 },
};

for (const [name, options] of Object.entries(CASES)) {
  test(`${name}: onStep told non-decreasing steps up to the total, results unchanged`, async () => {
    const run = async (o: AttackOptions) => {
      const before = tf.memory().numTensors;
      const r = await ATTACKS[name].run(classifier, x, { labels }, o);
      const adv = Array.from(await r.adversarial.data());
      r.adversarial.dispose();
      return { adv, success: r.success, queries: r.queries, iterations: r.iterations, leaked: tf.memory().numTensors - before };
    };
    const plain = await run(options);
    const calls: [number, number][] = [];
    const told = await run({ ...options, onStep: (step, steps) => calls.push([step, steps]) });
    assert.deepEqual(told, plain, `${name}: the same result with the callback`);
    assert.equal(told.leaked, 0, `${name}: no tensor left behind`);
    assert.ok(calls.length >= 3, `${name}: told more than the end, got ${JSON.stringify(calls)}`);
    const total = calls[0][1];
    assert.ok(total > 0 && calls.every(([, t]) => t === total), `${name}: one total, got ${JSON.stringify(calls)}`);
    for (let i = 1; i < calls.length; i++) assert.ok(calls[i][0] >= calls[i - 1][0], `${name}: steps never decrease, got ${JSON.stringify(calls)}`);
    assert.ok(calls.some(([s]) => s > 0 && s < total), `${name}: a step within, got ${JSON.stringify(calls)}`);
    assert.deepEqual(calls.at(-1), [total, total], `${name}: the last call is (steps, steps)`);
  });
}
