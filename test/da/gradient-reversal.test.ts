import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers'; // registers the gradients of the core ops
import { setup } from '../helpers/backend.ts';
import { AdvxError } from '../../src/core/errors.ts';
import { gradientReversal, lambdaSchedule, lrSchedule, stopGradient } from '../../src/da/gradient-reversal.ts';

before(() => setup());

test('gradient reversal: identity forward, −λ times the gradient backward', async () => {
  const x = tf.tensor2d([[0.5, -1, 2], [3, 0.25, -0.75]]);
  const w = tf.tensor2d([[1, -2, 0.5], [0.3, 0.7, -1.1]]);
  const f = (z: tf.Tensor) => tf.sum(tf.mul(tf.square(z), w)) as tf.Scalar;
  const before = tf.memory().numTensors;
  for (const lambda of [0, 0.3, 1, 2.5]) {
    const y = gradientReversal(x, lambda);
    assert.deepEqual(await y.data(), await x.data());
    assert.deepEqual(y.shape, x.shape);
    const plain = tf.grad((z: tf.Tensor) => f(z))(x);
    const reversed = tf.grad((z: tf.Tensor) => f(gradientReversal(z, lambda)))(x);
    const want = Array.from(await plain.data(), (g) => -lambda * g);
    const got = Array.from(await reversed.data());
    got.forEach((g, i) => assert.ok(Math.abs(g - want[i]) <= 1e-6 * Math.max(1, Math.abs(want[i])), `λ=${lambda} [${i}]: ${g} vs ${want[i]}`));
    tf.dispose([y, plain, reversed]);
  }
  assert.equal(tf.memory().numTensors, before);
  // Default λ = 1.
  const g = tf.grad((z: tf.Tensor) => tf.sum(gradientReversal(z)) as tf.Scalar)(x);
  assert.deepEqual(Array.from(await g.data()), [-1, -1, -1, -1, -1, -1]);
  tf.dispose([x, w, g]);
});

test('stopGradient: identity forward, no gradient through it', async () => {
  const x = tf.tensor1d([0.5, -1, 2]);
  // d/dx [x · stop(x)] = stop(x) = x; without the stop it would be 2x.
  const g = tf.grad((z: tf.Tensor) => tf.sum(tf.mul(z, stopGradient(z))) as tf.Scalar)(x);
  assert.deepEqual(Array.from(await g.data()), [0.5, -1, 2]);
  const y = stopGradient(x);
  assert.deepEqual(Array.from(await y.data()), [0.5, -1, 2]);
  tf.dispose([x, g, y]);
});

test('gradient reversal rejects λ < 0 and non-finite λ', () => {
  const x = tf.zeros([2]);
  assert.throws(() => gradientReversal(x, -0.1), AdvxError);
  assert.throws(() => gradientReversal(x, NaN), AdvxError);
  assert.throws(() => gradientReversal(x, Infinity), AdvxError);
  x.dispose();
});

test('schedules: endpoints and monotonicity', () => {
  assert.equal(lambdaSchedule(0), 0);
  assert.ok(Math.abs(lambdaSchedule(1) - (2 / (1 + Math.exp(-10)) - 1)) < 1e-12);
  assert.ok(lambdaSchedule(1) > 0.9999);
  assert.equal(lrSchedule(0, 0.01), 0.01);
  assert.ok(Math.abs(lrSchedule(1, 0.01) - 0.01 / 11 ** 0.75) < 1e-15);
  for (let i = 1; i <= 100; i++) {
    const p = i / 100;
    const q = (i - 1) / 100;
    assert.ok(lambdaSchedule(p) > lambdaSchedule(q), `λ increases at p=${p}`);
    assert.ok(lrSchedule(p, 0.01) < lrSchedule(q, 0.01), `lr decreases at p=${p}`);
    assert.ok(lambdaSchedule(p) < 1 && lrSchedule(p, 0.01) > 0);
  }
  for (const bad of [-0.01, 1.01, NaN]) {
    assert.throws(() => lambdaSchedule(bad), AdvxError);
    assert.throws(() => lrSchedule(bad, 0.01), AdvxError);
  }
  assert.throws(() => lrSchedule(0.5, 0), AdvxError);
});
