/**
 * Add, Sub and Multiply for wasm when one operand is broadcast as a row (a bias: [N, …, C] + [C])
 * or as a column ([N, C] · [N, 1]), in advx's native module on the calling thread.
 *
 * TF.js's wasm kernels run these on XNNPACK, whose thread pool costs ~1 ms of CPU per call when
 * the cores are busy, whatever the size: measured on a 2-core machine running other jobs, a
 * 64×100 bias add took 0.06 ms on one thread and 2.8 ms with two; DANN's 128×24×24×32 conv bias
 * add 2.3 and 4.5 ms. These ops are memory-bound, so one thread loses nothing. Same-shape and
 * scalar operands, other broadcasts and other dtypes go to TF.js's kernels (the same-shape ones
 * showed no such cost).
 */
import * as tf from '@tensorflow/tfjs-core';
import { nativeKernels, ptr } from './native.ts';
import { alloc, BACKEND, callOriginal, type KernelArgs, type WasmBackend } from './util.ts';

const OPS = { [tf.Add]: 0, [tf.Sub]: 1, [tf.Multiply]: 2 } as Record<string, number>;

/** R × C and the mode of kernels.c `binary_bcast` for a and b, or null when not one of its cases. */
export function broadcastPattern(aShape: number[], bShape: number[]): { R: number; C: number; mode: number; outShape: number[] } | null {
  const size = tf.util.sizeFromShape;
  const outShape = tf.backend_util.assertAndGetBroadcastShape(aShape, bShape);
  const [sa, sb, so] = [size(aShape), size(bShape), size(outShape)];
  if (sa === sb || so === 0) return null;
  const fullIsA = sa === so;
  if (!fullIsA && sb !== so) return null;
  const small = (fullIsA ? bShape : aShape).slice();
  while (small.length > 0 && small[0] === 1) small.shift();
  const n = size(small);
  const k = small.length;
  if (n <= 1 || k > outShape.length) return null;
  const tail = outShape.slice(outShape.length - k);
  if (small.every((d, i) => d === tail[i])) return { R: so / n, C: n, mode: fullIsA ? 0 : 1, outShape };
  const C = outShape[outShape.length - 1];
  if (small[k - 1] === 1 && n * C === so && small.slice(0, -1).every((d, i) => d === tail[i])) {
    return { R: n, C, mode: fullIsA ? 2 : 3, outShape };
  }
  return null;
}

function binary(name: string) {
  return ({ inputs, backend: be }: KernelArgs): tf.TensorInfo => {
    const backend = be as WasmBackend;
    const { a, b } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const p = a.dtype === 'float32' && b.dtype === 'float32' ? broadcastPattern(a.shape, b.shape) : null;
    const native = p ? nativeKernels(backend) : null;
    if (!p || !native) return callOriginal(name, inputs, backend);
    const out = alloc(backend, p.outShape);
    native.exports.binary_bcast(ptr(backend, a), ptr(backend, b), ptr(backend, out), p.R, p.C, OPS[name], p.mode);
    return out;
  };
}

export const binaryConfigs: tf.KernelConfig[] = [tf.Add, tf.Sub, tf.Multiply].map((name) => ({
  kernelName: name,
  backendName: BACKEND,
  kernelFunc: binary(name) as unknown as tf.KernelFunc,
}));
