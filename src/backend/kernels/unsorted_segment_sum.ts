/**
 * UnsortedSegmentSum for wasm (TF.js registers none; it is the gradient of Gather, so the input
 * gradient of any gather — ONNX Gather, embedding lookups, channel shuffles — failed on wasm).
 *
 * out[s, ...] = Σ_{k : ids[k] = s} x[k, ...]: rows of `inner` contiguous values of x added into
 * a zero-filled output in JS over the heap; ids outside [0, numSegments) are dropped, as in TF.
 * Verified against cpu in test/backend/graph-op-gradients.test.ts.
 */
import * as tf from '@tensorflow/tfjs-core';
import { BACKEND, type KernelArgs, type WasmBackend } from './util.ts';

export function unsortedSegmentSum({ inputs, backend: be, attrs }: KernelArgs): tf.TensorInfo {
  const backend = be as WasmBackend;
  const { x, segmentIds } = inputs as { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
  const { numSegments } = attrs as unknown as tf.UnsortedSegmentSumAttrs;
  const idRank = segmentIds.shape.length;
  const outShape = [numSegments, ...x.shape.slice(idRank)];
  const inner = tf.util.sizeFromShape(x.shape.slice(idRank));
  const rows = tf.util.sizeFromShape(segmentIds.shape);
  const out = backend.makeOutput(outShape, x.dtype);
  const o = backend.typedArrayFromHeap(out);
  const xv = backend.typedArrayFromHeap(x);
  const ids = backend.typedArrayFromHeap(segmentIds);
  o.fill(0);
  for (let k = 0; k < rows; k++) {
    const s = ids[k];
    if (!(s >= 0 && s < numSegments)) continue;
    const ob = s * inner;
    const xb = k * inner;
    for (let q = 0; q < inner; q++) o[ob + q] += xv[xb + q];
  }
  return out;
}

export const unsortedSegmentSumConfig: tf.KernelConfig = {
  kernelName: tf.UnsortedSegmentSum,
  backendName: BACKEND,
  kernelFunc: unsortedSegmentSum as unknown as tf.KernelFunc,
};
