/**
 * ReLU's and ReLU6's gradients on wasm in one native pass (kernels.c `relu_grad`), under a kernel
 * of advx's own, AdvxReluGrad. TF.js writes ReLU6's gradient as dy·cast(lessEqual(x, 6)·step(x)):
 * four kernels and three intermediates per activation (LessEqual alone, a broadcast against a
 * scalar, took 188 ms of a 2 s MobileNet-v2 input-gradient step on wasm; the four ~280 ms),
 * and ReLU's as dy·cast(step(x)). Both are memory-bound, so one pass over dy and x is the cost.
 *
 * Gradients are global, so the registrations here dispatch when the gradient runs: on wasm
 * (float32, dy shaped as x: always, for these unary ops) to AdvxReluGrad; on every other backend,
 * and for other dtypes, to TF.js's own gradient, unchanged. The values are TF.js's exactly:
 * dy·1 inside (0, hi], dy·0 outside (so a NaN or ∞ in dy, and the sign of zero, come through as
 * TF.js's multiply gives them), NaN where x is NaN (TF.js's cpu Step passes NaN on).
 */
import * as tf from '@tensorflow/tfjs-core';
import { nativeKernels, ptr } from './native.ts';
import { alloc, BACKEND, f32, type KernelArgs, type WasmBackend } from './util.ts';

/** advx's kernel: dx = dy·[0 < x ≤ hi], hi = +∞ for ReLU, 6 for ReLU6. */
export const RELU_GRAD = 'AdvxReluGrad';

interface ReluGradAttrs {
  hi: number;
}

export function reluGrad({ inputs, backend: be, attrs }: KernelArgs): tf.TensorInfo {
  const backend = be as WasmBackend;
  const { dy, x } = inputs as { dy: tf.TensorInfo; x: tf.TensorInfo };
  const { hi } = attrs as unknown as ReluGradAttrs;
  const n = tf.util.sizeFromShape(x.shape);
  tf.util.assert(dy.dtype === 'float32' && x.dtype === 'float32' && tf.util.sizeFromShape(dy.shape) === n,
    () => `${RELU_GRAD}: needs float32 dy and x of one size (got ${dy.dtype} ${dy.shape}, ${x.dtype} ${x.shape})`);
  const out = alloc(backend, x.shape);
  const native = nativeKernels(backend);
  if (native) {
    native.exports.relu_grad(ptr(backend, dy), ptr(backend, x), ptr(backend, out), n, hi);
    return out;
  }
  // Views after the allocation above (it may grow the heap).
  const [g, v, d] = [f32(backend, dy), f32(backend, x), f32(backend, out)];
  for (let i = 0; i < n; i++) {
    const xi = v[i];
    d[i] = g[i] * (xi !== xi ? xi : xi > 0 && xi <= hi ? 1 : 0);
  }
  return out;
}

export const reluGradConfig: tf.KernelConfig = {
  kernelName: RELU_GRAD,
  backendName: BACKEND,
  kernelFunc: reluGrad as unknown as tf.KernelFunc,
};

const runReluGrad = (dy: tf.Tensor, x: tf.Tensor, hi: number) =>
  tf.engine().runKernel(RELU_GRAD, { dy, x }, { hi } as unknown as tf.NamedAttrMap) as tf.Tensor;

/** The gradient functions registered here, to tell them from TF.js's (re-registered on import). */
const ours = new WeakSet<tf.GradFunc>();

function override(kernelName: string, hi: number): void {
  const original = tf.getGradient(kernelName);
  // None yet (tfjs-layers, which registers TF.js's gradients, not loaded), or already ours.
  if (!original || ours.has(original.gradFunc)) return;
  const gradFunc: tf.GradFunc = (dyIn, saved, attrs) => {
    const dy = dyIn as tf.Tensor;
    const [x] = saved;
    const wasm = tf.getBackend() === BACKEND && tf.getKernel(RELU_GRAD, BACKEND) != null &&
      dy.dtype === 'float32' && x.dtype === 'float32' && tf.util.arraysEqual(dy.shape, x.shape);
    if (!wasm) return original.gradFunc(dyIn, saved, attrs);
    return { x: () => runReluGrad(dy, x, hi) };
  };
  ours.add(gradFunc);
  tf.registerGradient({ kernelName, inputsToSave: ['x'], gradFunc });
}

export function registerReluGradients(): void {
  override(tf.Relu, Infinity);
  override(tf.Relu6, 6);
  if (tf.getGradient(RELU_GRAD)) return;
  // Second-order gradients (a gradient of an input gradient): the mask is piecewise constant in
  // x, so d/dx is zero, and d/d(dy) is the same masked product.
  tf.registerGradient({
    kernelName: RELU_GRAD,
    inputsToSave: ['x'],
    gradFunc: (ddx, saved, attrs) => {
      const [x] = saved;
      const { hi } = attrs as unknown as ReluGradAttrs;
      return { dy: () => runReluGrad(ddx as tf.Tensor, x, hi), x: () => tf.zerosLike(x) };
    },
  });
}
