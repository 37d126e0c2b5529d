/**
 * PadV2 for wasm when only the first axis is padded (the gradient of a slice of the batch, as in
 * DANN's label head on the source half): a fill, a copy and a fill of the heap, in JS.
 *
 * TF.js's runs on XNNPACK, whose thread pool cost ~1 ms of CPU per call on a busy 2-core machine
 * (DANN's 64×768 → 128×768: 0.1 ms on one thread, 1.4 ms with two). Other paddings go to it.
 */
import * as tf from '@tensorflow/tfjs-core';
import { alloc, BACKEND, callOriginal, f32, type KernelArgs, type WasmBackend } from './util.ts';

export function padV2({ inputs, backend: be, attrs }: KernelArgs): tf.TensorInfo {
  const backend = be as WasmBackend;
  const x = inputs.x as tf.TensorInfo;
  const { paddings, constantValue } = attrs as unknown as tf.PadV2Attrs;
  const leadingOnly = x.shape.length > 0 && paddings.length === x.shape.length && paddings.every(([b, a], i) => i === 0 || (b === 0 && a === 0));
  if (x.dtype !== 'float32' || !leadingOnly) return callOriginal(tf.PadV2, inputs, backend, attrs);
  const [before, after] = paddings[0];
  const outShape = [x.shape[0] + before + after, ...x.shape.slice(1)];
  const row = tf.util.sizeFromShape(x.shape.slice(1));
  const out = alloc(backend, outShape);
  const o = f32(backend, out);
  o.fill(constantValue, 0, before * row);
  o.set(f32(backend, x), before * row);
  o.fill(constantValue, (before + x.shape[0]) * row);
  return out;
}

export const padV2Config: tf.KernelConfig = {
  kernelName: tf.PadV2,
  backendName: BACKEND,
  kernelFunc: padV2 as unknown as tf.KernelFunc,
};
