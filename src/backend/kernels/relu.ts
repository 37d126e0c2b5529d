/**
 * Relu for wasm (float32), and _FusedMatMul with a linear or ReLU activation, in advx's native
 * module on the calling thread (past NATIVE_MATMUL's size the product itself goes to XNNPACK).
 *
 * TF.js runs Relu (an XNNPACK clamp) and its fused matmul on XNNPACK, whose thread pool costs
 * ~1 ms of CPU per call when the cores are busy, whatever the size (measured on a 2-core machine
 * running other jobs: a 64×100 ReLU 0.02 ms on one thread, 0.7 ms with two; DANN's 128×24×24×32
 * ReLU 1.6 and 3.0 ms; its two dense heads' fused matmuls 0.05 and 1.3 ms each). ReLU is
 * memory-bound and these products are small, so one thread loses nothing.
 *
 * TF.js's wasm _FusedMatMul also gets transposed operands wrong (tfjs-backend-wasm 4.22: a
 * 64×100 by (10×100)ᵀ product with bias is off by up to ~7 from cpu and from its own MatMul +
 * Add); the linear and ReLU cases here go through advx's BatchMatMul, which is right. Other
 * activations still reach TF.js's kernel.
 */
import * as tf from '@tensorflow/tfjs-core';
import { batchMatMul } from './batch_mat_mul.ts';
import { nativeKernels, ptr } from './native.ts';
import { alloc, BACKEND, callOriginal, type KernelArgs, type WasmBackend } from './util.ts';

export function relu({ inputs, backend: be }: KernelArgs): tf.TensorInfo {
  const backend = be as WasmBackend;
  const x = inputs.x as tf.TensorInfo;
  const native = x.dtype === 'float32' ? nativeKernels(backend) : null;
  if (!native) return callOriginal(tf.Relu, inputs, backend);
  const out = alloc(backend, x.shape);
  native.exports.relu(ptr(backend, x), ptr(backend, out), tf.util.sizeFromShape(x.shape));
  return out;
}

export function fusedMatMul({ inputs, backend: be, attrs }: KernelArgs): tf.TensorInfo {
  const backend = be as WasmBackend;
  const { a, b, bias, preluActivationWeights } = inputs as Record<string, tf.TensorInfo | undefined>;
  const { transposeA, transposeB, activation } = attrs as unknown as tf._FusedMatMulAttrs;
  const act = activation ?? 'linear';
  const [ra, rb] = [a!.shape.length, b!.shape.length];
  const m = transposeA ? a!.shape[ra - 1] : a!.shape[ra - 2];
  const k = transposeA ? a!.shape[ra - 2] : a!.shape[ra - 1];
  const n = transposeB ? b!.shape[rb - 2] : b!.shape[rb - 1];
  const native = a!.dtype === 'float32' && b!.dtype === 'float32' && preluActivationWeights == null &&
    (act === 'linear' || act === 'relu') && (bias == null || (bias.dtype === 'float32' && bias.shape.length === 1 && bias.shape[0] === n))
    ? nativeKernels(backend) : null;
  if (!native) return callOriginal(tf._FusedMatMul, inputs as tf.NamedTensorInfoMap, backend, attrs);
  // The product through advx's BatchMatMul (native GEMM up to NATIVE_MATMUL.maxMacs, else
  // XNNPACK on plain operands), then the bias and the activation in place.
  const out = batchMatMul({ inputs: { a: a!, b: b! }, backend, attrs: { transposeA, transposeB } });
  const size = tf.util.sizeFromShape(out.shape);
  const o = ptr(backend, out);
  if (bias != null && size > 0) native.exports.binary_bcast(o, ptr(backend, bias), o, size / n, n, 0, 0);
  if (act === 'relu') native.exports.relu(o, o, size);
  return out;
}

export const reluConfig: tf.KernelConfig = {
  kernelName: tf.Relu,
  backendName: BACKEND,
  kernelFunc: relu as unknown as tf.KernelFunc,
};

export const fusedMatMulConfig: tf.KernelConfig = {
  kernelName: tf._FusedMatMul,
  backendName: BACKEND,
  kernelFunc: fusedMatMul as unknown as tf.KernelFunc,
};
