/**
 * Sum for wasm, fast when reducing leading axes — the bias gradient of a conv or dense layer
 * (dy summed over batch, height and width).
 *
 * TF.js's wasm Sum can only reduce innermost axes, so for leading axes it first transposes the
 * whole tensor (~30 ms for 128×26×26×32 on wasm). Here advx's native column sum does it in one
 * pass, or, without the native module, the rows are summed pairwise with wasm's Add (below);
 * any other reduction goes to TF.js's kernel.
 */
import * as tf from '@tensorflow/tfjs-core';
import { nativeKernels, ptr } from './native.ts';
import { alloc, BACKEND, callOriginal, dispose, f32, type KernelArgs, makeAlias, releaseAlias, type WasmBackend } from './util.ts';

export function sum({ inputs, backend: be, attrs }: KernelArgs): tf.TensorInfo {
  const backend = be as WasmBackend;
  const x = inputs.x as tf.TensorInfo;
  const { axis, keepDims } = attrs as unknown as tf.SumAttrs;
  const rank = x.shape.length;
  const axes = tf.util.parseAxisParam(axis, x.shape).sort((p, q) => p - q);
  const leading = axes.length > 0 && axes.length < rank && axes.every((a, i) => a === i);
  if (!leading || x.dtype !== 'float32') return callOriginal(tf.Sum, inputs, backend, attrs);
  const k = axes.length;
  const rows = tf.util.sizeFromShape(x.shape.slice(0, k));
  const cols = tf.util.sizeFromShape(x.shape.slice(k));
  const outShape = keepDims ? x.shape.map((d, i) => (i < k ? 1 : d)) : x.shape.slice(k);
  const native = nativeKernels(backend);
  if (native && rows !== 1) {
    // One streaming pass in advx's SIMD module (kernels.c column_sum): ~2.5× fewer CPU-ms than
    // the pairwise Adds below on DANN's 128×24×24×32 bias gradient, and no trip through
    // XNNPACK's thread pool per level, which costs milliseconds when the cores are busy.
    const out = alloc(backend, outShape);
    native.exports.column_sum(ptr(backend, x), ptr(backend, out), rows, cols);
    return out;
  }
  // Pairwise tree over rows with wasm's (SIMD) Add on zero-copy aliases of the two halves:
  // rows → rows/2 → … → 1, so every element is touched about twice, in C++. An odd row out at a
  // level is added into the level's first row. (A scalar JS loop over the rows measured 3–4×
  // slower than this on 128×26×26×32.)
  let cur: tf.TensorInfo = x;
  let n = rows;
  let owned = false;
  while (n > 1) {
    const half = n >> 1;
    const lo = makeAlias(backend, cur, 0, [half, cols]);
    const hi = makeAlias(backend, cur, half * cols, [half, cols]);
    const next = callOriginal(tf.Add, { a: lo, b: hi }, backend);
    releaseAlias(backend, lo);
    releaseAlias(backend, hi);
    if (n & 1) {
      const nv = f32(backend, next);
      const cv = f32(backend, cur);
      const last = (n - 1) * cols;
      for (let c = 0; c < cols; c++) nv[c] += cv[last + c];
    }
    if (owned) dispose(backend, cur);
    cur = next;
    owned = true;
    n = half;
  }
  if (!owned) return callOriginal(tf.Identity, { x: { dataId: x.dataId, shape: outShape, dtype: 'float32' } }, backend);
  return { dataId: cur.dataId, shape: outShape, dtype: 'float32' };
}

export const sumConfig: tf.KernelConfig = {
  kernelName: tf.Sum,
  backendName: BACKEND,
  kernelFunc: sum as unknown as tf.KernelFunc,
};
