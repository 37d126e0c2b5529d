/**
 * BatchMatMul for wasm, fast for transposed operands and batches.
 *
 * TF.js's wasm BatchMatMul sends only the plain case (no transposes, batch 1) to XNNPACK; every
 * other case (which is what the gradients of a dense layer are: dy·Wᵀ and xᵀ·dy, and what
 * batched matmuls are) runs a scalar C++ triple loop, 10–15× slower: a 128×1600 by 1600×128
 * product takes ~50 ms transposed against ~4 ms plain. Here transposed operands are
 * materialised with a cache-blocked transpose (native SIMD, else JS; a few hundred µs for those sizes) and batches
 * are split into batch-1 products over zero-copy aliases, so every product takes the XNNPACK
 * path. Products up to NATIVE_MATMUL.maxMacs run on advx's native GEMM instead.
 */
import * as tf from '@tensorflow/tfjs-core';
import { nativeKernels, PARALLEL, ptr, splitRange } from './native.ts';
import { alloc, BACKEND, callOriginal, dispose, f32, type KernelArgs, makeAlias, releaseAlias, transposeTensor, type WasmBackend } from './util.ts';

/**
 * Products of up to this many multiply-adds run on advx's native GEMM (kernels.c `matmul`, rows
 * split over advx's native threads from PARALLEL.minMacs up) rather than on XNNPACK. One thread,
 * CPU time, DANN's and the CNN's dense layers and their gradients (up to 128×1600 by 1600×128):
 * on a par with XNNPACK or faster (0.9 against 1.2 ms for 128×768 by 768×100: XNNPACK repacks a
 * fresh right-hand side every call); and XNNPACK's thread pool costs ~1 ms of CPU per call when
 * the cores are busy (a 64×100 by 100×100 product: 0.27 ms on one thread, 1.8 ms with two, on a
 * 2-core machine running other jobs), where advx's workers sleep between kernels. Past this
 * size XNNPACK's cache blocking wins. From `threadMacs` (and PARALLEL.minMacs) up the
 * rows are split over advx's threads; below it a dispatch costs more than it saves (128×768 by
 * 768×100, ~1 ms: 1 CPU-ms on one thread, 2.6 split over two on that busy machine).
 */
export const NATIVE_MATMUL = { maxMacs: 1 << 25, threadMacs: 1 << 24 };

export function batchMatMul({ inputs, backend: be, attrs }: KernelArgs): tf.TensorInfo {
  const backend = be as WasmBackend;
  const { a, b } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
  const { transposeA, transposeB } = (attrs ?? {}) as { transposeA: boolean; transposeB: boolean };
  const ra = a.shape.length;
  const rb = b.shape.length;
  const batchA = tf.util.sizeFromShape(a.shape.slice(0, -2));
  const batchB = tf.util.sizeFromShape(b.shape.slice(0, -2));
  const plain = !transposeA && !transposeB && batchA === 1 && batchB === 1;
  const simpleBroadcast = batchA === batchB || batchA === 1 || batchB === 1;
  if (!simpleBroadcast || a.dtype !== 'float32' || b.dtype !== 'float32') {
    return callOriginal(tf.BatchMatMul, inputs, backend, attrs);
  }
  const m = transposeA ? a.shape[ra - 1] : a.shape[ra - 2];
  const k = transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
  const kb = transposeB ? b.shape[rb - 1] : b.shape[rb - 2];
  const n = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
  const batch = Math.max(batchA, batchB);
  const native = k === kb && m * k * n <= NATIVE_MATMUL.maxMacs ? nativeKernels(backend) : null;
  if (plain && !native) return callOriginal(tf.BatchMatMul, inputs, backend, attrs);
  tf.util.assert(k === kb, () => `Error in matMul: inner shapes (${k}) and (${kb}) of tensors with shapes ${a.shape} and ${b.shape} must match.`);
  const outer = tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const outShape = [...outer, m, n];

  // Operands are passed by dataId with a rank-3 shape (no copy); an untransposed b keeps its
  // dataId, so XNNPACK's packed weights, cached per dataId, are reused across calls.
  const as3 = (t: tf.TensorInfo, shape: number[]): tf.TensorInfo => ({ dataId: t.dataId, shape, dtype: 'float32' });
  const plainAttrs = { transposeA: false, transposeB: false };
  let out: tf.TensorInfo;
  // Plain (row-major M×K and K×N) copies of transposed operands.
  let aPlain = a;
  let bPlain = b;
  if (transposeA) aPlain = alloc(backend, [batchA, m, k]);
  if (transposeB) bPlain = alloc(backend, [batchB, k, n]);
  if (transposeA) transposeTensor(backend, a, aPlain, batchA, k, m);
  if (transposeB) transposeTensor(backend, b, bPlain, batchB, n, k);

  if (native) {
    // advx's native GEMM, product by product, each one's rows split over the threads when big.
    out = alloc(backend, outShape);
    const [ap, bp, op] = [ptr(backend, aPlain), ptr(backend, bPlain), ptr(backend, out)];
    const macs = m * k * n;
    const parts = macs >= NATIVE_MATMUL.threadMacs && macs >= PARALLEL.minMacs ? splitRange(m, native.shares) : [[0, m]];
    for (let i = 0; i < batch; i++) {
      const [ai, bi, oi] = [ap + (batchA === 1 ? 0 : i * m * k * 4), bp + (batchB === 1 ? 0 : i * k * n * 4), op + i * m * n * 4];
      native.run('matmul', parts.map(([r0, r1]) => [ai + r0 * k * 4, bi, oi + r0 * n * 4, r1 - r0, k, n]));
    }
  } else if (batch === 1) {
    const o = callOriginal(tf.BatchMatMul, { a: as3(aPlain, [1, m, k]), b: as3(bPlain, [1, k, n]) }, backend, plainAttrs);
    out = { dataId: o.dataId, shape: outShape, dtype: 'float32' };
  } else {
    out = alloc(backend, outShape);
    for (let i = 0; i < batch; i++) {
      const ai = batchA === 1 ? as3(aPlain, [1, m, k]) : makeAlias(backend, aPlain, i * m * k, [1, m, k]);
      const bi = batchB === 1 ? as3(bPlain, [1, k, n]) : makeAlias(backend, bPlain, i * k * n, [1, k, n]);
      const oi = callOriginal(tf.BatchMatMul, { a: ai, b: bi }, backend, plainAttrs);
      f32(backend, out).set(f32(backend, oi), i * m * n);
      dispose(backend, oi);
      if (batchA !== 1) releaseAlias(backend, ai);
      if (batchB !== 1) releaseAlias(backend, bi);
    }
  }
  if (transposeA) dispose(backend, aPlain);
  if (transposeB) dispose(backend, bPlain);
  return out;
}

export const batchMatMulConfig: tf.KernelConfig = {
  kernelName: tf.BatchMatMul,
  backendName: BACKEND,
  kernelFunc: batchMatMul as unknown as tf.KernelFunc,
};
