/**
 * Winograd F(2×2, 3×3) for the forward convolutions (src/backend/kernels/winograd.ts): it is the
 * path taken (its results differ from XNNPACK's by rounding, both within tolerance of cpu in
 * kernels.test.ts), and its float32 error changes no prediction of the shipped CNN on the whole
 * MNIST test set.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { setup } from '../helpers/backend.ts';
import { WINOGRAD, winogradApplies } from '../../src/backend/kernels/winograd.ts';
import { convGeometry } from '../../src/backend/kernels/util.ts';
import { loadDataset } from '../../src/node/datasets/index.ts';
import { loadClassifier } from '../../src/node/io/load-model.ts';
import { gatherBatch } from '../../src/data/batch.ts';

before(async () => {
  await setup();
});

/** `f()` with Winograd on or off. */
function withWinograd<T>(on: boolean, f: () => T): T {
  const was = WINOGRAD.enabled;
  WINOGRAD.enabled = on;
  try {
    return f();
  } finally {
    WINOGRAD.enabled = was;
  }
}

test('Winograd takes the 3×3 stride-1 convolutions with enough channels, and only those', () => {
  const attrs = (strides: number, dilations = 1) => ({ strides, pad: 'valid' as const, dilations });
  assert.ok(winogradApplies(convGeometry([8, 13, 13, 32], [3, 3, 32, 64], attrs(1), false)));
  assert.ok(!winogradApplies(convGeometry([8, 28, 28, 1], [3, 3, 1, 32], attrs(1), false)), '1 input channel');
  assert.ok(!winogradApplies(convGeometry([8, 13, 13, 32], [3, 3, 32, 64], attrs(2), false)), 'stride 2');
  assert.ok(!winogradApplies(convGeometry([8, 13, 13, 32], [3, 3, 32, 64], attrs(1, 2), false)), 'dilated');
  assert.ok(!winogradApplies(convGeometry([8, 12, 12, 32], [5, 5, 32, 48], attrs(1), false)), '5×5');
  assert.ok(!winogradApplies(convGeometry([8, 13, 13, 17], [3, 3, 17, 32], attrs(1), false)), 'channels not a multiple of 4');
});

test('Winograd is the path taken: its convolution differs from XNNPACK\'s by rounding only', () => {
  const x = tf.randomNormal([4, 13, 13, 32], 0, 1, 'float32', 1) as tf.Tensor4D;
  const f = tf.randomNormal([3, 3, 32, 64], 0, 0.1, 'float32', 2) as tf.Tensor4D;
  const [a, b] = [true, false].map((on) => withWinograd(on, () => tf.conv2d(x, f, 1, 'valid').dataSync()));
  let maxDiff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  assert.ok(maxDiff > 0, 'bit-identical to XNNPACK: Winograd did not run');
  assert.ok(maxDiff < 1e-5 * scale, `differs by ${maxDiff} (scale ${scale})`);
  tf.dispose([x, f]);
});

test('Winograd changes no prediction of models/mnist-cnn on the 10 000 MNIST test images', async () => {
  const { classifier, layers, graph } = await loadClassifier('models/mnist-cnn');
  const start = tf.memory().numTensors;
  const test = loadDataset('mnist', { limit: { train: 0, test: 10000 } }).test;
  let changed = 0;
  let maxLogitDiff = 0;
  for (let s = 0; s < test.count; s += 1000) {
    const { x, y } = gatherBatch(test, Array.from({ length: Math.min(1000, test.count - s) }, (_, i) => s + i));
    const [on, off] = [true, false].map((w) => withWinograd(w, () => tf.tidy(() => classifier.logits(x))));
    const values = (t: tf.Tensor) => {
      const v = t.dataSync();
      t.dispose();
      return v;
    };
    const [pOn, pOff] = [on, off].map((l) => values(tf.argMax(l, 1)));
    pOn.forEach((p, i) => (changed += p === pOff[i] ? 0 : 1));
    maxLogitDiff = Math.max(maxLogitDiff, values(tf.tidy(() => tf.max(tf.abs(tf.sub(on, off)))))[0]);
    tf.dispose([x, y, on, off]);
  }
  assert.equal(tf.memory().numTensors, start, 'no tensor leaks');
  layers?.dispose();
  graph?.dispose();
  assert.equal(changed, 0, `${changed} predictions changed (largest logit difference ${maxLogitDiff})`);
  assert.ok(maxLogitDiff > 0 && maxLogitDiff < 1e-3, `largest logit difference ${maxLogitDiff}`);
});
