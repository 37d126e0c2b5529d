/**
 * Winograd F(4×4, 3×3) and F(2×2, 5×5) for the forward convolutions and both gradients
 * (src/backend/kernels/winograd.ts): it is the path taken (its results differ from XNNPACK's and
 * from the direct gradient kernels by rounding, all within tolerance of cpu in
 * kernels.test.ts), and its float32 error changes no prediction of the shipped CNN on the whole
 * MNIST test set, nor of the shipped DANN model on MNIST-M's.
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

test('Winograd takes the 3×3 and 5×5 stride-1 convolutions with enough channels, and only those', () => {
  const attrs = (strides: number, dilations = 1) => ({ strides, pad: 'valid' as const, dilations });
  assert.ok(winogradApplies(convGeometry([8, 13, 13, 32], [3, 3, 32, 64], attrs(1), false)), '3×3');
  assert.ok(winogradApplies(convGeometry([8, 12, 12, 32], [5, 5, 32, 48], attrs(1), false)), '5×5');
  assert.ok(!winogradApplies(convGeometry([8, 28, 28, 1], [3, 3, 1, 32], attrs(1), false)), '1 input channel');
  assert.ok(!winogradApplies(convGeometry([8, 28, 28, 4], [5, 5, 4, 32], attrs(1), false)), 'fewer than 16 input channels');
  assert.ok(!winogradApplies(convGeometry([8, 13, 13, 32], [3, 3, 32, 64], attrs(2), false)), 'stride 2');
  assert.ok(!winogradApplies(convGeometry([8, 13, 13, 32], [3, 3, 32, 64], attrs(1, 2), false)), 'dilated');
  assert.ok(!winogradApplies(convGeometry([8, 12, 12, 32], [4, 4, 32, 48], attrs(1), false)), '4×4');
  assert.ok(!winogradApplies(convGeometry([8, 12, 12, 32], [7, 7, 32, 48], attrs(1), false)), '7×7');
  assert.ok(!winogradApplies(convGeometry([8, 13, 13, 17], [3, 3, 17, 32], attrs(1), false)), 'channels not a multiple of 4');
});

/** The largest difference between `a` and `b`, and the largest |b|. */
function difference(a: ArrayLike<number>, b: ArrayLike<number>): { maxDiff: number; scale: number } {
  let maxDiff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return { maxDiff, scale };
}

for (const [R, C, O, H] of [[3, 32, 64, 13], [5, 32, 48, 12]]) {
  test(`Winograd is the path taken for ${R}×${R}: the convolution and both its gradients differ from the other paths by rounding only`, () => {
    const x = tf.randomNormal([8, H, H, C], 0, 1, 'float32', 1) as tf.Tensor4D;
    const f = tf.randomNormal([R, R, C, O], 0, 0.1, 'float32', 2) as tf.Tensor4D;
    const dy = tf.randomNormal([8, H - R + 1, H - R + 1, O], 0, 1, 'float32', 3) as tf.Tensor4D;
    const filterGrad = () => tf.engine().runKernel(tf.Conv2DBackpropFilter, { x, dy }, { strides: 1, pad: 'valid', dataFormat: 'NHWC', filterShape: [R, R, C, O] }) as tf.Tensor;
    const inputGrad = () => tf.engine().runKernel(tf.Conv2DBackpropInput, { dy, filter: f }, { strides: 1, pad: 'valid', dataFormat: 'NHWC', inputShape: x.shape }) as tf.Tensor;
    const run = () => [tf.conv2d(x, f, 1, 'valid'), filterGrad(), inputGrad()].map((t) => {
      const v = t.dataSync();
      t.dispose();
      return v;
    });
    const [on, off] = [true, false].map((w) => withWinograd(w, run));
    for (const [i, what] of ['convolution', 'filter gradient', 'input gradient'].entries()) {
      const { maxDiff, scale } = difference(on[i], off[i]);
      assert.ok(maxDiff > 0, `${what}: bit-identical to the other path: Winograd did not run`);
      assert.ok(maxDiff < 1e-5 * scale, `${what}: differs by ${maxDiff} (scale ${scale})`);
    }
    tf.dispose([x, f, dy]);
  });
}

test('A batch too small for Winograd\'s set-up to pay stays on XNNPACK: one image of DANN\'s 5×5 convolution', () => {
  const x = tf.randomNormal([1, 12, 12, 32], 0, 1, 'float32', 1) as tf.Tensor4D;
  const f = tf.randomNormal([5, 5, 32, 48], 0, 0.1, 'float32', 2) as tf.Tensor4D;
  const [on, off] = [true, false].map((w) => withWinograd(w, () => tf.tidy(() => tf.conv2d(x, f, 1, 'valid').dataSync())));
  assert.deepEqual(on, off);
  tf.dispose([x, f]);
});

for (const [model, data] of [['mnist-cnn', 'mnist'], ['dann-mnist-mnistm', 'mnist-m']]) {
  test(`Winograd changes no prediction of models/${model} on the 10 000 ${data} test images`, async () => {
    const { classifier, layers, graph } = await loadClassifier(`models/${model}`);
    const start = tf.memory().numTensors;
    const test = loadDataset(data, { limit: { train: 0, test: 10000 } }).test;
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
}
