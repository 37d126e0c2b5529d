/**
 * MaxPoolGrad for wasm: one pass over the input that recomputes each window's argmax and routes
 * dy there.
 *
 * TF.js's wasm MaxPoolGrad loops, for every input pixel, over every window that may contain it
 * and recomputes that window's max each time (~45 ms for the CNN's 128×26×26×32 pool). Here each
 * window is scanned once, channels innermost (contiguous in NHWC); ties go to the first maximum
 * in row-major window order, as in the cpu backend.
 *
 * Native path (kernels.c `max_pool_grad`): SIMD over 4 channels; for non-overlapping windows it
 * takes the window max, then writes dy to the first position equal to it and 0 elsewhere (no
 * scatter, and no zero-fill under windows that tile the input), with full 2×2 windows loaded
 * once; the batch is split over advx's native threads. ~5 ms for that pool on one thread (DANN's
 * 128×24×24×32: 4.2 → 2.3 CPU-ms with the 2×2 case), against ~28–35 ms for the JS path below,
 * which keeps a per-channel running max and position and accumulates into a zero-filled dx.
 */
import * as tf from '@tensorflow/tfjs-core';
import { nativeKernels, PARALLEL, ptr, splitRange } from './native.ts';
import { alloc, BACKEND, callOriginal, f32, type KernelArgs, type WasmBackend } from './util.ts';

export function maxPoolGrad({ inputs, backend: be, attrs }: KernelArgs): tf.TensorInfo {
  const backend = be as WasmBackend;
  const { dy, input } = inputs as { dy: tf.TensorInfo; input: tf.TensorInfo };
  if (input.dtype !== 'float32' || dy.dtype !== 'float32') return callOriginal(tf.MaxPoolGrad, inputs, backend, attrs);
  const { filterSize, strides, pad, dimRoundingMode } = attrs as unknown as tf.MaxPoolGradAttrs;
  const info = tf.backend_util.computePool2DInfo(
    input.shape as [number, number, number, number], filterSize, strides, 1, pad, dimRoundingMode);
  const { batchSize, inHeight, inWidth, inChannels: C, outHeight, outWidth, strideHeight, strideWidth } = info;
  const fh = info.effectiveFilterHeight;
  const fw = info.effectiveFilterWidth;
  const padTop = info.padInfo.top;
  const padLeft = info.padInfo.left;

  const out = alloc(backend, input.shape);
  const native = nativeKernels(backend);
  if (native) {
    const big = batchSize * inHeight * inWidth * C >= PARALLEL.minMacs / 4;
    const parts = big ? splitRange(batchSize, native.shares) : [[0, batchSize]];
    const [xp, dyp, dxp] = [ptr(backend, input), ptr(backend, dy), ptr(backend, out)];
    native.run('max_pool_grad', parts.map(([n0, n1]) => [xp, dyp, dxp, n0, n1, inHeight, inWidth, C,
      outHeight, outWidth, fh, fw, strideHeight, strideWidth, padTop, padLeft]));
    return out;
  }
  const x = f32(backend, input);
  const g = f32(backend, dy);
  const dx = f32(backend, out);
  dx.fill(0);
  const best = new Float32Array(C);
  const idx = new Int32Array(C);
  const rowStride = inWidth * C;
  const imgStride = inHeight * rowStride;
  let o = 0;
  for (let b = 0; b < batchSize; b++) {
    const img = b * imgStride;
    for (let yr = 0; yr < outHeight; yr++) {
      const r0 = yr * strideHeight - padTop;
      const rs = Math.max(0, r0);
      const re = Math.min(inHeight, r0 + fh);
      for (let yc = 0; yc < outWidth; yc++, o += C) {
        const c0 = yc * strideWidth - padLeft;
        const cs = Math.max(0, c0);
        const ce = Math.min(inWidth, c0 + fw);
        best.fill(-Infinity);
        idx.fill(-1);
        for (let r = rs; r < re; r++) {
          for (let c = cs; c < ce; c++) {
            const base = img + r * rowStride + c * C;
            for (let d = 0; d < C; d++) {
              const v = x[base + d];
              if (v > best[d]) {
                best[d] = v;
                idx[d] = base + d;
              }
            }
          }
        }
        for (let d = 0; d < C; d++) {
          const i = idx[d];
          if (i >= 0) dx[i] += g[o + d];
        }
      }
    }
  }
  return out;
}

/**
 * MaxPool for wasm, the usual 2×2 stride-2 pool with no padding, native on the calling thread;
 * everything else goes to TF.js's kernel. TF.js's runs on XNNPACK, whose thread pool cost ~1 ms
 * of CPU per call on a busy 2-core machine (DANN's 128×8×8×48 pool: 0.26 ms on one thread, 1.6
 * with two); the pool is memory-bound, so one thread loses nothing.
 */
export function maxPool({ inputs, backend: be, attrs }: KernelArgs): tf.TensorInfo {
  const backend = be as WasmBackend;
  const x = inputs.x as tf.TensorInfo;
  const native = x.dtype === 'float32' && x.shape.length === 4 ? nativeKernels(backend) : null;
  if (!native) return callOriginal(tf.MaxPool, inputs, backend, attrs);
  const { filterSize, strides, pad, dimRoundingMode } = attrs as unknown as tf.MaxPoolAttrs;
  const info = tf.backend_util.computePool2DInfo(x.shape as [number, number, number, number], filterSize, strides, 1, pad, dimRoundingMode);
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW } = info;
  const plain2x2 = info.filterHeight === 2 && info.filterWidth === 2 && info.strideHeight === 2 && info.strideWidth === 2 &&
    info.dilationHeight === 1 && info.dilationWidth === 1 && info.padInfo.top === 0 && info.padInfo.left === 0 &&
    OH * 2 <= H && OW * 2 <= W;
  if (!plain2x2) return callOriginal(tf.MaxPool, inputs, backend, attrs);
  const out = alloc(backend, [N, OH, OW, C]);
  native.exports.max_pool_2x2(ptr(backend, x), ptr(backend, out), N, H, W, C, OH, OW);
  return out;
}

export const maxPoolConfig: tf.KernelConfig = {
  kernelName: tf.MaxPool,
  backendName: BACKEND,
  kernelFunc: maxPool as unknown as tf.KernelFunc,
};

export const maxPoolGradConfig: tf.KernelConfig = {
  kernelName: tf.MaxPoolGrad,
  backendName: BACKEND,
  kernelFunc: maxPoolGrad as unknown as tf.KernelFunc,
};
