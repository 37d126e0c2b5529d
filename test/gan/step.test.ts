import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../../src/backend/index.ts';
import { AdvxError } from '../../src/core/errors.ts';
import { Rng } from '../../src/core/rng.ts';
import { createGanStepper, type GanStepperOptions } from '../../src/gan/step.ts';
import { toyMixture } from '../../src/gan/toy-metrics.ts';

before(() => useBackend('wasm', { threads: 1 }));

const ring = toyMixture('ring', 0.1);
const sampleRing = (n: number, rng: Rng) => ring.sample(n, rng);
const small: GanStepperOptions = { loss: 'ns', seed: 3, batchSize: 32, latentDim: 2, generatorHidden: [16], discriminatorHidden: [16] };

test('the stepper counts steps, returns finite losses, and frees every tensor it makes', async () => {
  const before = tf.memory().numTensors;
  const s = createGanStepper(sampleRing, small);
  const first = await s.run();
  assert.equal(first.step, 1);
  assert.equal(first.dLoss.length, 1);
  const held = tf.memory().numTensors;
  const r = await s.run(5);
  assert.equal(r.step, 6);
  assert.equal(s.steps, 6);
  assert.equal(r.dLoss.length, 5);
  for (const v of [...r.dLoss, ...r.gLoss]) assert.ok(Number.isFinite(v));
  assert.equal(tf.memory().numTensors, held, 'no tensor left behind by a step');
  // Loss, learning rates and data switch between steps; the count goes on.
  for (const loss of ['minimax', 'hinge', 'wgan-gp'] as const) {
    s.loss = loss;
    const o = await s.run(2);
    for (const v of [...o.dLoss, ...o.gLoss]) assert.ok(Number.isFinite(v), `${loss}: ${v}`);
  }
  s.setLearningRates(1e-3, 5e-3);
  s.sampleReal = (n) => new Float32Array(2 * n).fill(1);
  assert.equal((await s.run()).step, 13);
  assert.equal(tf.memory().numTensors, held);
  assert.throws(() => s.setLearningRates(0, 1), AdvxError);
  s.dispose();
  assert.equal(tf.memory().numTensors, before, 'dispose frees networks and optimiser state');
  await assert.rejects(() => s.run(), /disposed/);
});

test('the same seed gives the same losses; minimax and ns share the discriminator loss at step 1', async () => {
  const losses = async (o: GanStepperOptions) => {
    const s = createGanStepper(sampleRing, o);
    const r = await s.run(3);
    s.dispose();
    return r;
  };
  const a = await losses(small);
  assert.deepEqual(await losses(small), a);
  const mm = await losses({ ...small, loss: 'minimax' });
  assert.equal(mm.dLoss[0], a.dLoss[0]);
  assert.notEqual(mm.gLoss[0], a.gLoss[0]);
});

test('options are checked', () => {
  assert.throws(() => createGanStepper(sampleRing, { ...small, loss: 'nope' as never }), /loss must be one of/);
  assert.throws(() => createGanStepper(sampleRing, { ...small, learningRate: -1 }), /learning rate must be a positive number/);
  assert.throws(() => createGanStepper(sampleRing, { ...small, batchSize: 0 }), /batch size/);
});
