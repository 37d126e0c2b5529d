/**
 * Conv2DBackpropFilter for wasm (TF.js registers none, so a CNN cannot train on wasm without it).
 * The 3×3 and 5×5 stride-1 ones with enough channels go through Winograd (winograd.ts); the rest
 * as below.
 *
 * dW[(i,j,c), o] = Σ_p cols[p, (i,j,c)] · dy[p, o], p running over the N·outH·outW output pixels.
 *
 * Native path (kernels.c `conv2d_backprop_filter`, used whenever the native module loads): a
 * direct SIMD kernel with no im2col buffer and no packing: for blocks of output rows that keep dy
 * in L1, each tap and each 4×12 (input × output channel) register tile of dW accumulates the
 * outer products of x and dy over the block's pixels; in a 'valid' conv a whole window row
 * (fw·inC contiguous floats) is one tap. The output rows are split over advx's native threads,
 * each into its own partial dW, summed here. Measured at batch 128, one thread (CPU time): the
 * CNN's conv 2 ~24 ms (~29 with 4×8 tiles), DANN's conv 2 (5×5, 32→48) ~26 ms (~35 with 4×8
 * tiles and a division per output row), DANN's conv 1 (5×5, 3→32) ~15 ms (~18 tap by tap);
 * earlier, on the CNN: conv 1 ~3 ms; the
 * JS + XNNPACK path below took ~75 and ~30–95 ms (its im2colᵀ is a transposing JS scatter, and
 * XNNPACK re-packs dy, "the weights", for every chunk).
 *
 * JS fallback (no SIMD / module not loaded yet): one GEMM on XNNPACK (through wasm's
 * BatchMatMul, the only GEMM TF.js exposes) in chunks of output pixels:
 *   a = im2colᵀ of the chunk, [K = fh·fw·inC, chunk], built here in JS;
 *   b = the chunk's rows of dy, [chunk, outC], a zero-copy alias of dy;
 *   dW += a·b.
 * Why chunks: XNNPACK's GEMM runs the whole reduction inside its micro-kernel, so a reduction of
 * all 15 488 (conv 2) or 86 528 (conv 1) pixels streams its operands from memory, and it packs b
 * (the "weights") with a transposing copy that is cache-hostile when b is tall; unchunked this
 * took 65–100 ms for the CNN's conv 2 and ~60 ms for conv 1. Chunks keep a, b and the packing in
 * cache. (Also measured: a conv of the transposed input by the transposed dy — needs two big
 * transposes, whose wasm kernel is slow, ~40–70 ms each; and the same GEMM as a 1×1 Conv2D —
 * its filter transpose is the same cache-hostile copy.)
 */
import * as tf from '@tensorflow/tfjs-core';
import { nativeKernels, PARALLEL, ptr, splitRange } from './native.ts';
import { alloc, BACKEND, callOriginal, convGeometry, dispose, f32, type KernelArgs, makeAlias, releaseAlias, type WasmBackend } from './util.ts';
import { winogradApplies, winogradFilterGrad } from './winograd.ts';

/** Output pixels per GEMM chunk; tuned on the CNN's shapes (see bench/kernels.ts). */
export const FILTER_CHUNK = { pixels: 1024 };

export function conv2DBackpropFilter({ inputs, backend: be, attrs }: KernelArgs): tf.TensorInfo {
  const backend = be as WasmBackend;
  const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const attr = attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  if (tf.backend_util.convertConv2DDataFormat(attr.dataFormat) !== 'channelsLast') throw new Error(`advx wasm Conv2DBackpropFilter supports only NHWC, got ${attr.dataFormat}`);
  const geometry = convGeometry(x.shape, attr.filterShape, attr, false);
  const { N: batchSize, H, W, C, OH, OW, O, FH, FW, SH, SW, PT, PL } = geometry;
  const K = FH * FW * C;
  const P = batchSize * OH * OW;

  const float32 = x.dtype === 'float32' && dy.dtype === 'float32';
  const winograd = float32 && winogradApplies(geometry) ? winogradFilterGrad(backend, x, dy, geometry) : null;
  if (winograd) return winograd;
  const out = alloc(backend, [FH, FW, C, O]);
  const native = float32 ? nativeKernels(backend) : null;
  if (native) {
    // Output rows split over the threads, each summing its share into its own dW (thread 0
    // straight into out), then the partial dWs are added up. Small problems stay on one thread.
    const parts = P * K * O >= PARALLEL.minMacs ? splitRange(batchSize * OH, native.shares) : [[0, batchSize * OH]];
    const size = K * O;
    const partials = parts.length > 1 ? alloc(backend, [parts.length - 1, size]) : null;
    const xp = ptr(backend, x);
    const dyp = ptr(backend, dy);
    const dw = (k: number) => (k === 0 ? ptr(backend, out) : ptr(backend, partials!) + (k - 1) * size * 4);
    native.run('conv2d_backprop_filter', parts.map(([r0, r1], k) => [xp, dyp, dw(k), r0, r1, H, W, C, OH, OW, O, FH, FW, SH, SW, PT, PL]));
    if (partials) {
      const acc = f32(backend, out);
      const pv = f32(backend, partials);
      for (let k = 0; k < parts.length - 1; k++) {
        for (let q = 0, b = k * size; q < size; q++) acc[q] += pv[b + q];
      }
      dispose(backend, partials);
    }
    return out;
  }
  f32(backend, out).fill(0);
  if (P === 0) return out;
  const chunk = Math.max(1, Math.min(P, FILTER_CHUNK.pixels));
  const colsT = alloc(backend, [1, K, chunk]);

  for (let p0 = 0; p0 < P; p0 += chunk) {
    const pc = Math.min(chunk, P - p0);
    // a: im2colᵀ of pixels p0..p0+pc, [K, pc] (a contiguous prefix of colsT when pc < chunk).
    const xv = f32(backend, x);
    const a = f32(backend, colsT);
    let n = Math.floor(p0 / (OH * OW));
    let rem = p0 - n * OH * OW;
    let oy = Math.floor(rem / OW);
    let ox = rem - oy * OW;
    for (let pp = 0; pp < pc; pp++) {
      const img = n * H;
      for (let i = 0; i < FH; i++) {
        const r = oy * SH + i - PT;
        const rowOk = r >= 0 && r < H;
        for (let j = 0; j < FW; j++) {
          const col = ox * SW + j - PL;
          let k = ((i * FW + j) * C) * pc + pp;
          if (rowOk && col >= 0 && col < W) {
            const base = ((img + r) * W + col) * C;
            for (let c = 0; c < C; c++, k += pc) a[k] = xv[base + c];
          } else {
            for (let c = 0; c < C; c++, k += pc) a[k] = 0;
          }
        }
      }
      if (++ox === OW) {
        ox = 0;
        if (++oy === OH) {
          oy = 0;
          n++;
        }
      }
    }
    const aInfo = pc === chunk ? { dataId: colsT.dataId, shape: [1, K, pc], dtype: 'float32' as const } : makeAlias(backend, colsT, 0, [1, K, pc]);
    const bInfo = makeAlias(backend, dy, p0 * O, [1, pc, O]);
    const part = callOriginal(tf.BatchMatMul, { a: aInfo, b: bInfo }, backend, { transposeA: false, transposeB: false });
    releaseAlias(backend, bInfo);
    if (aInfo.dataId !== colsT.dataId) releaseAlias(backend, aInfo);
    const acc = f32(backend, out);
    const pv = f32(backend, part);
    for (let q = 0; q < acc.length; q++) acc[q] += pv[q];
    dispose(backend, part);
  }
  dispose(backend, colsT);
  return out;
}

export const conv2DBackpropFilterConfig: tf.KernelConfig = {
  kernelName: tf.Conv2DBackpropFilter,
  backendName: BACKEND,
  kernelFunc: conv2DBackpropFilter as unknown as tf.KernelFunc,
};
