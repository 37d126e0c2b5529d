/**
 * Conv2DBackpropInput for wasm.
 *
 * dx[n, y·s+i−pad, x·s+j−pad, c] += Σ_o dy[p, o] · W[i,j,c,o] over output pixels p = (n, y, x).
 *
 * Native path (kernels.c `conv2d_backprop_input`, the default): direct SIMD, no cols buffer:
 * the filter is transposed per tap to [o, c] (small), then for every tap a register tile of 4
 * of its output pixels (taken in order across output rows, so narrow rows leave no single
 * pixels) × 8 channels is accumulated over o and added into dx; channels past the last multiple
 * of 4 (all of them for a 1-channel input) are dot products over o. The batch is split over
 * advx's native threads (each writes only its own images). One thread, CNN at batch 128, when
 * tiles stayed within a row: conv 2 ~23 ms against ~32 ms for XNNPACK GEMM + native col2im
 * (INPUT_DIRECT off) and ~41–57 ms for the JS path; conv 1 ~7 ms against ~9 and ~12. Tiles
 * across rows: DCGAN's 7→14 transposed convolution 16.6 → 10.3 ms on 2 threads.
 *
 * JS fallback: a GEMM on XNNPACK plus a col2im scatter (native when the module is loaded but
 * INPUT_DIRECT is off, else JS).
 * cols[p, (i,j,c)] = Σ_o dy[p, o] · W[i,j,c,o], then dx[n, y·s+i−pad, x·s+j−pad, c] += cols[p, (i,j,c)].
 * The GEMM goes through wasm's BatchMatMul with a = rows of dy (a zero-copy alias, [chunk, outC])
 * and b = Wᵀ ([outC, fh·fw·inC], transposed here once per call, small, so XNNPACK packs it once
 * and reuses it for every chunk). Chunks of output pixels keep each cols block in cache for the
 * scatter. TF.js's own wasm kernel is a scalar loop (~330 ms for the CNN's two convs at batch
 * 128). Also measured: the "full" convolution of dy with the flipped, transposed filter through
 * wasm's Conv2D — ~75 ms for conv 2 and ~40 ms for conv 1 (a 1-output-channel conv is a poor fit
 * for XNNPACK), slower than this; it would also need dy dilated for strides > 1.
 */
import * as tf from '@tensorflow/tfjs-core';
import { nativeKernels, PARALLEL, ptr, splitRange } from './native.ts';
import { alloc, BACKEND, callOriginal, convGeometry, dispose, f32, type KernelArgs, makeAlias, releaseAlias, transposeTensor, type WasmBackend } from './util.ts';
import { winogradApplies, winogradInputGrad } from './winograd.ts';

/** Target size (floats) of one chunk of cols; tuned on the CNN's shapes (see bench/kernels.ts). */
export const INPUT_CHUNK = { floats: 1 << 17 };
/** Use the direct native kernel when the module is loaded (else XNNPACK GEMM + native col2im). */
export const INPUT_DIRECT = { enabled: true };

export function conv2DBackpropInput({ inputs, backend: be, attrs }: KernelArgs): tf.TensorInfo {
  const backend = be as WasmBackend;
  const { dy, filter } = inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
  const attr = attrs as unknown as tf.Conv2DBackpropInputAttrs;
  if (tf.backend_util.convertConv2DDataFormat(attr.dataFormat) !== 'channelsLast' || dy.dtype !== 'float32' || filter.dtype !== 'float32') {
    return callOriginal(tf.Conv2DBackpropInput, inputs, backend, attrs);
  }
  const geometry = convGeometry(attr.inputShape, filter.shape, attr, false);
  const { N: batchSize, H, W, C, OH, OW, O, FH, FW, SH, SW, PT, PL } = geometry;
  const K = FH * FW * C;
  const P = batchSize * OH * OW;

  const winograd = winogradApplies(geometry) ? winogradInputGrad(backend, dy, filter, geometry) : null;
  if (winograd) return winograd;
  const out = alloc(backend, [batchSize, H, W, C]);
  const native = nativeKernels(backend);
  if (native && INPUT_DIRECT.enabled) {
    const wt = alloc(backend, [FH * FW, O, C]);
    transposeTensor(backend, filter, wt, FH * FW, C, O);
    // Images split over the threads (each writes only its own images of dx).
    const parts = P * K * O >= PARALLEL.minMacs ? splitRange(batchSize, native.shares) : [[0, batchSize]];
    const [dyp, wp, wtp, dxp] = [ptr(backend, dy), ptr(backend, filter), ptr(backend, wt), ptr(backend, out)];
    native.run('conv2d_backprop_input', parts.map(([n0, n1]) => [dyp, wp, wtp, dxp, n0, n1, H, W, C, OH, OW, O, FH, FW, SH, SW, PT, PL]));
    dispose(backend, wt);
    return out;
  }
  f32(backend, out).fill(0);
  if (P === 0) return out;
  const wt = alloc(backend, [1, O, K]);
  transposeTensor(backend, filter, wt, 1, K, O);
  const chunk = Math.max(1, Math.min(P, Math.floor(INPUT_CHUNK.floats / K)));

  for (let p0 = 0; p0 < P; p0 += chunk) {
    const pc = Math.min(chunk, P - p0);
    const aInfo = makeAlias(backend, dy, p0 * O, [1, pc, O]);
    const cols = callOriginal(tf.BatchMatMul, { a: aInfo, b: wt }, backend, { transposeA: false, transposeB: false });
    releaseAlias(backend, aInfo);
    if (native) {
      native.exports.col2im(ptr(backend, cols), ptr(backend, out), p0, pc, H, W, C, OH, OW, FH, FW, SH, SW, PT, PL);
      dispose(backend, cols);
      continue;
    }
    const cv = f32(backend, cols);
    const dx = f32(backend, out);
    let n = Math.floor(p0 / (OH * OW));
    let rem = p0 - n * OH * OW;
    let oy = Math.floor(rem / OW);
    let ox = rem - oy * OW;
    for (let pp = 0; pp < pc; pp++) {
      const img = n * H;
      let k = pp * K;
      for (let i = 0; i < FH; i++) {
        const r = oy * SH + i - PT;
        if (r < 0 || r >= H) {
          k += FW * C;
          continue;
        }
        for (let j = 0; j < FW; j++, k += C) {
          const col = ox * SW + j - PL;
          if (col < 0 || col >= W) continue;
          const base = ((img + r) * W + col) * C;
          for (let c = 0; c < C; c++) dx[base + c] += cv[k + c];
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
    dispose(backend, cols);
  }
  dispose(backend, wt);
  return out;
}

export const conv2DBackpropInputConfig: tf.KernelConfig = {
  kernelName: tf.Conv2DBackpropInput,
  backendName: BACKEND,
  kernelFunc: conv2DBackpropInput as unknown as tf.KernelFunc,
};
