/**
 * DepthwiseConv2dNativeBackpropInput for wasm (TF.js registers none, so the input gradient of any
 * depthwise convolution — MobileNet-style converted graph models, ONNX grouped convs — failed
 * on wasm with "Kernel ... not registered").
 *
 * dx[n, y·sh + i·dh − pt, x·sw + j·dw − pl, c] += Σ_m dy[n, y, x, c·M + m] · W[i, j, c, m]
 * (M the channel multiplier).
 *
 * Native path (kernels.c `depthwise_backprop_input`, M = 1, MobileNet's case): the loop below in
 * SIMD, 4 channels per vector, input rows split over advx's native threads. MobileNet-V2's input
 * gradient at batch 8 (bench/kernels.ts --workload mobilenet-v2-input-grad): these kernels took
 * ~800 of its ~1160 ms in kernels in JS.
 *
 * JS path (M > 1, or the module not loaded), over the heap: for every output pixel and tap the window's
 * input pixel gets the contiguous C channels added (M = 1, the common case, is a plain
 * multiply-add over channels the JIT keeps tight). Strides, dilations and 'same' / 'valid' /
 * explicit pads all come from `computeConv2DInfo`; unlike the cpu kernel (which ignores the
 * dilation in its loops) dilations > 1 are honoured.
 * Verified against cpu in test/backend/graph-op-gradients.test.ts (dilated cases against cpu on
 * the equivalent zero-inserted filter). One thread, 8×112×112×32 3×3 stride 1: ~125 ms (cpu
 * backend ~250 ms); 8×14×14×512: ~25 ms (cpu ~56 ms).
 */
import * as tf from '@tensorflow/tfjs-core';
import { nativeKernels, PARALLEL, ptr, splitRange } from './native.ts';
import { alloc, BACKEND, convGeometry, f32, type KernelArgs, type WasmBackend } from './util.ts';

export function depthwiseConv2dNativeBackpropInput({ inputs, backend: be, attrs }: KernelArgs): tf.TensorInfo {
  const backend = be as WasmBackend;
  const { dy, filter } = inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
  const attr = attrs as unknown as tf.DepthwiseConv2dNativeBackpropInputAttrs;
  if (dy.dtype !== 'float32' || filter.dtype !== 'float32') throw new Error('advx wasm DepthwiseConv2dNativeBackpropInput supports only float32');
  const { N, H, W, C, OH, OW, O, FH, FW, SH, SW, DH, DW, PT, PL } = convGeometry(attr.inputShape, filter.shape, attr, true);
  const M = O / C;

  const out = alloc(backend, [N, H, W, C]);
  const native = M === 1 ? nativeKernels(backend) : null;
  if (native) {
    const parts = N * OH * OW * C * FH * FW >= PARALLEL.minMacs ? splitRange(N * H, native.shares) : [[0, N * H]];
    const [dyp, wp, dxp] = [ptr(backend, dy), ptr(backend, filter), ptr(backend, out)];
    native.run('depthwise_backprop_input', parts.map(([r0, r1]) => [dyp, wp, dxp, r0, r1, H, W, C, OH, OW, FH, FW, SH, SW, DH, DW, PT, PL]));
    return out;
  }
  const dx = f32(backend, out);
  const g = f32(backend, dy);
  const w = f32(backend, filter);
  // One input row at a time, accumulated in a small buffer (stays in L1 at MobileNet sizes) and
  // stored once (~10% faster than accumulating straight into dx on the heap, and no fill).
  const acc = new Float32Array(W * C);
  for (let n = 0; n < N; n++) {
    for (let r = 0; r < H; r++) {
      acc.fill(0);
      for (let i = 0; i < FH; i++) {
        const t = r + PT - i * DH;
        if (t < 0 || t % SH !== 0) continue;
        const oy = t / SH;
        if (oy >= OH) continue;
        for (let ox = 0; ox < OW; ox++) {
          const gBase = ((n * OH + oy) * OW + ox) * O;
          for (let j = 0; j < FW; j++) {
            const col = ox * SW + j * DW - PL;
            if (col < 0 || col >= W) continue;
            const aBase = col * C;
            const wBase = (i * FW + j) * O;
            if (M === 1) {
              for (let c = 0; c < C; c++) acc[aBase + c] += g[gBase + c] * w[wBase + c];
            } else {
              for (let c = 0; c < C; c++) {
                let s = 0;
                for (let m = 0, q = c * M; m < M; m++, q++) s += g[gBase + q] * w[wBase + q];
                acc[aBase + c] += s;
              }
            }
          }
        }
      }
      dx.set(acc, (n * H + r) * W * C);
    }
  }
  return out;
}

export const depthwiseConv2dNativeBackpropInputConfig: tf.KernelConfig = {
  kernelName: tf.DepthwiseConv2dNativeBackpropInput,
  backendName: BACKEND,
  kernelFunc: depthwiseConv2dNativeBackpropInput as unknown as tf.KernelFunc,
};
