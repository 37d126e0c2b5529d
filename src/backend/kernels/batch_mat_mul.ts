/**
 * BatchMatMul for wasm, fast for transposed operands and batches.
 *
 * TF.js's wasm BatchMatMul sends only the plain case (no transposes, batch 1) to XNNPACK; every
 * other case (which is what the gradients of a dense layer are: dy·Wᵀ and xᵀ·dy, and what
 * batched matmuls are) runs a scalar C++ triple loop, 10–15× slower: a 128×1600 by 1600×128
 * product takes ~50 ms transposed against ~4 ms plain. Here transposed operands are
 * materialised with a cache-blocked transpose (native SIMD, else JS; a few hundred µs for those sizes) and batches
 * are split into batch-1 products over zero-copy aliases, so every product takes the XNNPACK
 * path.
 */
import * as tf from '@tensorflow/tfjs-core';
import { alloc, BACKEND, callOriginal, dispose, f32, type KernelArgs, makeAlias, releaseAlias, transposeTensor, type WasmBackend } from './util.ts';

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
  if (plain || !simpleBroadcast || a.dtype !== 'float32' || b.dtype !== 'float32') {
    return callOriginal(tf.BatchMatMul, inputs, backend, attrs);
  }
  const m = transposeA ? a.shape[ra - 1] : a.shape[ra - 2];
  const k = transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
  const kb = transposeB ? b.shape[rb - 1] : b.shape[rb - 2];
  const n = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
  tf.util.assert(k === kb, () => `Error in matMul: inner shapes (${k}) and (${kb}) of tensors with shapes ${a.shape} and ${b.shape} must match.`);
  const outer = tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const batch = Math.max(batchA, batchB);
  const outShape = [...outer, m, n];

  // Plain (row-major M×K and K×N) copies of transposed operands.
  let aPlain = a;
  let bPlain = b;
  if (transposeA) aPlain = alloc(backend, [batchA, m, k]);
  if (transposeB) bPlain = alloc(backend, [batchB, k, n]);
  if (transposeA) transposeTensor(backend, a, aPlain, batchA, k, m);
  if (transposeB) transposeTensor(backend, b, bPlain, batchB, n, k);

  // Operands are passed by dataId with a rank-3 shape (no copy); an untransposed b keeps its
  // dataId, so XNNPACK's packed weights, cached per dataId, are reused across calls.
  const as3 = (t: tf.TensorInfo, shape: number[]): tf.TensorInfo => ({ dataId: t.dataId, shape, dtype: 'float32' });
  const plainAttrs = { transposeA: false, transposeB: false };
  let out: tf.TensorInfo;
  if (batch === 1) {
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
