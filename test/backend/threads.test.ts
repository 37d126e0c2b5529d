import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import * as tfl from '@tensorflow/tfjs-layers';
import { useBackend } from '../../src/backend/index.ts';
import { tensorCounts } from '../helpers/backend.ts';

before(() => useBackend('wasm', { threads: 2 }));

/** A small conv net: enough XNNPACK work (conv, pool, dense) to be split across the threads. */
function smallNet(): tfl.LayersModel {
  const init = (k: number) => tfl.initializers.glorotUniform({ seed: k });
  const m = tfl.sequential();
  m.add(tfl.layers.conv2d({ inputShape: [16, 16, 1], filters: 8, kernelSize: 3, activation: 'relu', kernelInitializer: init(1) }));
  m.add(tfl.layers.maxPooling2d({ poolSize: 2 }));
  m.add(tfl.layers.conv2d({ filters: 16, kernelSize: 3, activation: 'relu', kernelInitializer: init(2) }));
  m.add(tfl.layers.flatten());
  m.add(tfl.layers.dense({ units: 10, kernelInitializer: init(3) }));
  return m;
}

test('the wasm backend runs on 2 threads', () => {
  assert.equal(tf.getBackend(), 'wasm');
  assert.equal(getThreadsCount(), 2);
});

test('threaded wasm matches the cpu backend on a conv net forward', async () => {
  const model = smallNet();
  const x = tf.randomUniform([32, 16, 16, 1], 0, 1, 'float32', 7);
  const forward = async () => {
    const y = tf.tidy(() => model.predict(x) as tf.Tensor);
    const values = await y.data();
    y.dispose();
    return values;
  };
  const wasm = await forward();
  await tf.setBackend('cpu');
  const cpu = await forward();
  await tf.setBackend('wasm');
  assert.equal(wasm.length, cpu.length);
  let maxDiff = 0;
  for (let i = 0; i < cpu.length; i++) maxDiff = Math.max(maxDiff, Math.abs(wasm[i] - cpu[i]));
  assert.ok(maxDiff < 1e-4, `max |wasm - cpu| = ${maxDiff}`);

  const counts = await tensorCounts(async () => void (await forward()));
  assert.ok(counts.every((c) => c === counts[0]), `tensor counts drift: ${counts}`);
  tf.dispose([x, ...model.weights.map((w) => (w as unknown as { val: tf.Variable }).val)]);
});

test('a script on the threaded backend exits by itself', () => {
  // The pthread workers must not keep the event loop alive; the timeout turns a hang into a failure.
  const script = `
    import * as tf from '@tensorflow/tfjs-core';
    import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
    import { useBackend } from './src/backend/index.ts';
    await useBackend('wasm', { threads: 2 });
    const y = tf.tidy(() => tf.sum(tf.conv2d(tf.ones([4, 8, 8, 1]), tf.ones([3, 3, 1, 4]), 1, 'valid')));
    console.log(getThreadsCount(), (await y.data())[0]);`;
  const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '--eval', script], {
    cwd: fileURLToPath(new URL('../..', import.meta.url)),
    encoding: 'utf8',
    timeout: 20_000,
  });
  assert.equal(out.trim(), '2 5184');
});
