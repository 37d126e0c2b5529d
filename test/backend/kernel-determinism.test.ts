/**
 * The native kernels give the same bits whether their shares run on the worker threads or all on
 * the calling thread, as they do while the workers are still starting: a kernel that sums one
 * partial result per share (the filter gradient) splits its work the same way whatever number
 * of workers is ready, so a process's first steps round like its later ones (a run resumed from a
 * checkpoint otherwise drifted in the last bits from one that never stopped).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../../src/backend/index.ts';
import { nativeKernels, PARALLEL } from '../../src/backend/kernels/native.ts';
import type { WasmBackend } from '../../src/backend/kernels/util.ts';

test('the filter gradient has the same bits on the worker threads as on the calling thread alone', { skip: availableParallelism() < 2 && 'one core: no worker threads' }, async () => {
  await useBackend('wasm');
  const native = nativeKernels(tf.backend() as unknown as WasmBackend);
  assert.ok(native, 'native kernels loaded');
  for (let i = 0; i < 400 && native.threads < native.shares; i++) await new Promise((r) => setTimeout(r, 25));
  assert.ok(native.shares >= 2 && native.threads === native.shares, `the workers did not start: ${native.threads} of ${native.shares} threads`);
  // DANN's second convolution's filter gradient at batch 16: well above the size that is split.
  const x = tf.randomNormal([16, 12, 12, 32], 0, 1, 'float32', 1);
  const dy = tf.randomNormal([16, 8, 8, 48], 0, 1, 'float32', 2);
  const attrs = { strides: 1, pad: 'valid', dataFormat: 'NHWC', filterShape: [5, 5, 32, 48] } as unknown as tf.NamedAttrMap;
  const grad = (workers: boolean) => {
    PARALLEL.workers = workers;
    try {
      return tf.tidy(() => Buffer.from((tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, attrs) as tf.Tensor).dataSync().buffer));
    } finally {
      PARALLEL.workers = true;
    }
  };
  const alone = grad(false);
  const threaded = grad(true);
  assert.ok(alone.equals(threaded), 'the filter gradient changed with the workers');
  assert.ok(grad(false).equals(alone), 'and back');
  tf.dispose([x, dy]);
});
