/**
 * Cast for wasm: a cast to the tensor's own dtype shares the data like Identity instead of
 * copying it; other casts go to TF.js's kernel.
 *
 * This is what makes the ReLU backward path cheap: TF.js's Relu gradient is
 * `mul(dy, cast(step(x), 'float32'))`, and step(x) is already float32, so the cast was a full
 * copy. What remains is wasm's Step and Multiply, both SIMD C++ (~2 ms each on 128×26×26×32).
 * A fused single-pass `x > 0 ? dy : 0` kernel written in JS was measured too and lost: scalar JS
 * over the WASM heap ran ~10–35 ms on the same tensor here (a registered Relu gradient calling
 * it worked, but was slower than the two SIMD kernels).
 */
import * as tf from '@tensorflow/tfjs-core';
import { identity } from './identity.ts';
import { BACKEND, callOriginal, type KernelArgs, type WasmBackend } from './util.ts';

export function cast(args: KernelArgs): tf.TensorInfo {
  const x = args.inputs.x as tf.TensorInfo;
  const { dtype } = (args.attrs ?? {}) as { dtype: tf.DataType };
  if (dtype === x.dtype && dtype !== 'string') return identity(args);
  return callOriginal(tf.Cast, args.inputs, args.backend as WasmBackend, args.attrs);
}

export const castConfig: tf.KernelConfig = {
  kernelName: tf.Cast,
  backendName: BACKEND,
  kernelFunc: cast as unknown as tf.KernelFunc,
};
