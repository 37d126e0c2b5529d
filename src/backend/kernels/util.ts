/**
 * Shared plumbing for advx's WASM kernels: a typed view of the parts of TF.js's `BackendWasm`
 * that the kernels use, access to the kernels TF.js registered before ours, heap views and
 * zero-copy aliases of tensor memory.
 *
 * Rules every kernel here follows:
 * - A Float32Array view of the WASM heap is invalidated (detached) by any allocation that grows
 *   the heap: make every output and intermediate first, then take the views.
 * - Intermediates made through the backend are released with `backend.disposeData` (or
 *   `releaseAlias` for an alias), so a kernel leaves no data behind but its output.
 * - Other kernels are called through their `kernelFunc` directly, never through the engine, so
 *   nothing is recorded on the autograd tape or counted as a tensor.
 */
import * as tf from '@tensorflow/tfjs-core';
import { nativeKernels } from './native.ts';
import type { WasmBackend } from './wasm-backend.ts';

// native.ts needs only this type from here, and this file calls native.ts: the type sits below
// both so that they form no cycle. Re-exported because the kernels import it from here.
export type { WasmBackend, WasmTensorData } from './wasm-backend.ts';

export type KernelArgs = {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
};

export const BACKEND = 'wasm';

/**
 * The kernels TF.js had registered for wasm before advx replaced them, by name, captured by
 * `index.ts` at registration time. Our kernels fall back to them for the cases they don't cover.
 */
export const originals = new Map<string, tf.KernelConfig>();

/** Calls the kernel that TF.js itself registered (the original, even if we replaced it). */
export function callOriginal(
  name: string,
  inputs: tf.NamedTensorInfoMap,
  backend: WasmBackend,
  attrs: tf.NamedAttrMap = {},
): tf.TensorInfo {
  const cfg = originals.get(name) ?? tf.getKernel(name, BACKEND);
  if (!cfg) throw new Error(`advx: no wasm kernel ${name} to fall back on`);
  return cfg.kernelFunc({ inputs, backend: backend as unknown as tf.KernelBackend, attrs }) as tf.TensorInfo;
}

export function f32(backend: WasmBackend, info: tf.TensorInfo): Float32Array {
  return backend.typedArrayFromHeap(info) as Float32Array;
}

/**
 * A tensor registered with the backend over `size(shape)` floats of existing heap memory
 * starting `elementOffset` floats into `base` — no allocation, no copy. It lets an XNNPACK
 * kernel work on a slice of a larger tensor. Must be released with `releaseAlias`, never
 * `disposeData` (which would free memory that belongs to `base`).
 */
export function makeAlias(backend: WasmBackend, base: tf.TensorInfo, elementOffset: number, shape: number[]): tf.TensorInfo {
  const offset = backend.dataIdMap.get(base.dataId).memoryOffset + elementOffset * 4;
  return backend.makeOutput(shape, 'float32', offset);
}

export function releaseAlias(backend: WasmBackend, alias: tf.TensorInfo): void {
  const data = backend.dataIdMap.get(alias.dataId);
  // Unregisters the id on the C++ side (which also drops any XNNPACK operator cached for it)
  // without freeing the memory, which belongs to the aliased tensor.
  backend.wasm.tfjs.disposeData(data.id);
  backend.dataIdMap.delete(alias.dataId);
}

/** A fresh float32 tensor on the heap (uninitialised memory: callers fill all of it). */
export function alloc(backend: WasmBackend, shape: number[]): tf.TensorInfo {
  return backend.makeOutput(shape, 'float32');
}

export function dispose(backend: WasmBackend, ...infos: tf.TensorInfo[]): void {
  for (const t of infos) backend.disposeData(t.dataId);
}

/** 2-D transpose of rows×cols (row-major) into cols×rows, blocked for cache locality. */
export function transpose2d(src: Float32Array, srcOff: number, rows: number, cols: number, dst: Float32Array, dstOff: number): void {
  const B = 32;
  for (let r0 = 0; r0 < rows; r0 += B) {
    const r1 = Math.min(r0 + B, rows);
    for (let c0 = 0; c0 < cols; c0 += B) {
      const c1 = Math.min(c0 + B, cols);
      for (let r = r0; r < r1; r++) {
        const s = srcOff + r * cols;
        for (let c = c0; c < c1; c++) dst[dstOff + c * rows + r] = src[s + c];
      }
    }
  }
}

/**
 * Transposes `batch` consecutive rows×cols matrices of `src` into `dst` (both float32 tensors),
 * with the native kernel when it is available.
 */
export function transposeTensor(backend: WasmBackend, src: tf.TensorInfo, dst: tf.TensorInfo, batch: number, rows: number, cols: number): void {
  const native = nativeKernels(backend);
  if (native) {
    const s = backend.dataIdMap.get(src.dataId).memoryOffset;
    const d = backend.dataIdMap.get(dst.dataId).memoryOffset;
    for (let i = 0; i < batch; i++) native.exports.transpose2d(s + i * rows * cols * 4, d + i * rows * cols * 4, rows, cols);
    return;
  }
  const sv = f32(backend, src);
  const dv = f32(backend, dst);
  for (let i = 0; i < batch; i++) transpose2d(sv, i * rows * cols, rows, cols, dv, i * rows * cols);
}

/** The geometry of a 2-D convolution (NHWC) in the short names the kernels' loops use. */
export interface ConvGeometry {
  N: number;
  H: number;
  W: number;
  C: number;
  OH: number;
  OW: number;
  O: number;
  FH: number;
  FW: number;
  SH: number;
  SW: number;
  DH: number;
  DW: number;
  /** Padding before the first row and column (the rest follows from the output size). */
  PT: number;
  PL: number;
}

/** The attributes every convolution gradient kernel has (Conv2D's have no dilations: 1). */
type ConvAttrs = Pick<tf.DepthwiseConv2dNativeBackpropInputAttrs, 'strides' | 'pad' | 'dimRoundingMode'> &
  Partial<Pick<tf.DepthwiseConv2dNativeBackpropInputAttrs, 'dilations'>>;

/**
 * Unpacks a convolution's attributes through TF.js's own `computeConv2DInfo`, so the gradient
 * kernels read strides, dilations, 'same' / 'valid' / explicit pads and rounding exactly as the
 * forward op did. `filterShape` is [fh, fw, inC, outC], or [fh, fw, C, multiplier] when `depthwise`.
 */
export function convGeometry(
  inShape: number[],
  filterShape: number[],
  attrs: ConvAttrs,
  depthwise: boolean,
): ConvGeometry {
  const info = tf.backend_util.computeConv2DInfo(
    inShape as [number, number, number, number], filterShape as [number, number, number, number],
    attrs.strides, attrs.dilations ?? 1, attrs.pad, attrs.dimRoundingMode, depthwise, 'channelsLast');
  return {
    N: info.batchSize, H: info.inHeight, W: info.inWidth, C: info.inChannels, OH: info.outHeight, OW: info.outWidth, O: info.outChannels,
    FH: info.filterHeight, FW: info.filterWidth, SH: info.strideHeight, SW: info.strideWidth, DH: info.dilationHeight, DW: info.dilationWidth,
    PT: info.padInfo.top, PL: info.padInfo.left,
  };
}
