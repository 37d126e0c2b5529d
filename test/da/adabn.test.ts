import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { setup } from '../helpers/backend.ts';
import { hasBatchNorm, recalibrateBatchNorm } from '../../src/da/adabn.ts';
import { dannFeatures, dannFeaturesBatchNorm } from '../../src/da/dann.ts';

before(() => setup());

test('recalibrateBatchNorm sets each batch-norm layer to the exact statistics of its inputs on the given images', () => {
  const model = dannFeaturesBatchNorm([28, 28, 3], 0);
  assert.ok(hasBatchNorm(model));
  assert.ok(!hasBatchNorm(dannFeatures([28, 28, 3], 0)));
  // A "domain" whose channels have means 2, −1, 0.5 and standard deviations 0.5, 2, 1.
  const images = tf.tidy(() => tf.add(tf.mul(tf.randomNormal([40, 28, 28, 3], 0, 1, 'float32', 1), [0.5, 2, 1]), [2, -1, 0.5])) as tf.Tensor4D;
  const before = tf.memory().numTensors;
  recalibrateBatchNorm(model, images, 16);
  recalibrateBatchNorm(model, images, 16);
  assert.equal(tf.memory().numTensors, before, 'no tensors leak');
  const [input] = model.layers;
  const [, , mean, variance] = input.getWeights();
  const m = tf.tidy(() => tf.mean(images, [0, 1, 2]));
  const v = tf.tidy(() => tf.moments(images, [0, 1, 2]).variance);
  assert.ok(tf.tidy(() => tf.max(tf.abs(tf.sub(mean, m)))).dataSync()[0] < 1e-4);
  assert.ok(tf.tidy(() => tf.max(tf.abs(tf.sub(variance, v)))).dataSync()[0] < 1e-3);
  // In inference mode the first layer now standardises this domain: per-channel mean 0, variance 1.
  const out = tf.tidy(() => tf.moments(input.apply(images, { training: false }) as tf.Tensor, [0, 1, 2]));
  for (const x of out.mean.dataSync()) assert.ok(Math.abs(x) < 1e-3, `mean ${x}`);
  for (const x of out.variance.dataSync()) assert.ok(Math.abs(x - 1) < 1e-2, `variance ${x}`);
  // The later layers are calibrated on what the earlier (recalibrated) layers output.
  const bnLayers = model.layers.filter((l) => l.getClassName() === 'BatchNormalization');
  assert.equal(bnLayers.length, 3);
  const k = model.layers.indexOf(bnLayers[1]);
  const inner = tf.tidy(() => {
    let x: tf.Tensor = images;
    for (const l of model.layers.slice(0, k)) x = l.apply(x, { training: false }) as tf.Tensor;
    return tf.moments(x, [0, 1, 2]).mean;
  });
  assert.ok(tf.tidy(() => tf.max(tf.abs(tf.sub(bnLayers[1].getWeights()[2], inner)))).dataSync()[0] < 1e-3);
  tf.dispose([images, m, v, out.mean, out.variance, inner]);
  model.dispose();
});

test('recalibrateBatchNorm refuses non-sequential models and single images', () => {
  const input = tfl.input({ shape: [4] });
  const fn = tfl.model({ inputs: input, outputs: tfl.layers.batchNormalization().apply(input) as tfl.SymbolicTensor });
  const x = tf.zeros([1, 2, 2, 3]) as tf.Tensor4D;
  assert.throws(() => recalibrateBatchNorm(fn, x), /sequential/);
  const model = dannFeaturesBatchNorm([28, 28, 3], 0);
  assert.throws(() => recalibrateBatchNorm(model, x), /at least 2 images/);
  tf.dispose(x);
  model.dispose();
  fn.dispose();
});
