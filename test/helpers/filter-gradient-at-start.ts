/**
 * Run as its own process by test/backend/kernel-determinism.test.ts: the filter gradient computed
 * at once after set-up (the worker threads still starting) and again once every worker is ready.
 * Prints one JSON line.
 */
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../../src/backend/index.ts';
import { nativeKernels } from '../../src/backend/kernels/native.ts';
import type { WasmBackend } from '../../src/backend/kernels/util.ts';

await useBackend('wasm');
await tf.setBackend('wasm');
const native = nativeKernels(tf.backend() as unknown as WasmBackend);
if (!native) throw new Error('native kernels failed to load');
// DANN's second convolution's filter gradient at batch 16: well above the size that is split.
const x = tf.randomNormal([16, 12, 12, 32], 0, 1, 'float32', 1);
const dy = tf.randomNormal([16, 8, 8, 48], 0, 1, 'float32', 2);
const attrs = { strides: 1, pad: 'valid', dataFormat: 'NHWC', filterShape: [5, 5, 32, 48] } as unknown as tf.NamedAttrMap;
const grad = () => Buffer.from((tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, attrs) as tf.Tensor).dataSync().buffer);
const threadsAtStart = native.threads;
const first = grad();
for (let i = 0; i < 400 && native.threads < Math.max(2, native.shares); i++) await new Promise((r) => setTimeout(r, 25));
const later = grad();
console.log(JSON.stringify({ threadsAtStart, threadsLater: native.threads, shares: native.shares, same: first.equals(later) }));
process.exit(0);
