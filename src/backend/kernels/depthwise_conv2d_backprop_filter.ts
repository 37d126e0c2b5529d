/**
 * DepthwiseConv2dNativeBackpropFilter for wasm (TF.js registers none: the weight gradient of a
 * depthwise convolution failed on wasm with "Kernel ... not registered").
 *
 * dW[i, j, c, m] = Σ_{n,y,x} x[n, y·sh + i·dh − pt, x·sw + j·dw − pl, c] · dy[n, y, x, c·M + m],
 * in JS over the heap, accumulated in a Float64Array of the (small) filter's size, then stored
 * as float32: the sums run over every output pixel of the batch (~10⁵ terms at MobileNet sizes),
 * which float32 accumulation would round visibly. The loop is the input gradient's (output
 * pixel, tap, contiguous channels). Strides, dilations (honoured, unlike the cpu kernel's loops)
 * and 'same' / 'valid' / explicit pads come from `computeConv2DInfo`.
 * Verified against cpu in test/backend/graph-op-gradients.test.ts (dilated cases against cpu on
 * the equivalent zero-inserted filter).
 */
import * as tf from '@tensorflow/tfjs-core';
import { alloc, BACKEND, convGeometry, f32, type KernelArgs, type WasmBackend } from './util.ts';

export function depthwiseConv2dNativeBackpropFilter({ inputs, backend: be, attrs }: KernelArgs): tf.TensorInfo {
  const backend = be as WasmBackend;
  const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const attr = attrs as unknown as tf.DepthwiseConv2dNativeBackpropFilterAttrs;
  if (x.dtype !== 'float32' || dy.dtype !== 'float32') throw new Error('advx wasm DepthwiseConv2dNativeBackpropFilter supports only float32');
  const { N, H, W, C, OH, OW, O, FH, FW, SH, SW, DH, DW, PT, PL } = convGeometry(x.shape, attr.filterShape, attr, true);
  const M = O / C;

  const acc = new Float64Array(FH * FW * O);
  const out = alloc(backend, [FH, FW, C, M]);
  const xv = f32(backend, x);
  const g = f32(backend, dy);
  for (let n = 0; n < N; n++) {
    for (let oy = 0; oy < OH; oy++) {
      for (let i = 0; i < FH; i++) {
        const r = oy * SH + i * DH - PT;
        if (r < 0 || r >= H) continue;
        const rowBase = (n * H + r) * W;
        for (let ox = 0; ox < OW; ox++) {
          const gBase = ((n * OH + oy) * OW + ox) * O;
          for (let j = 0; j < FW; j++) {
            const col = ox * SW + j * DW - PL;
            if (col < 0 || col >= W) continue;
            const xBase = (rowBase + col) * C;
            const wBase = (i * FW + j) * O;
            if (M === 1) {
              for (let c = 0; c < C; c++) acc[wBase + c] += xv[xBase + c] * g[gBase + c];
            } else {
              for (let c = 0; c < C; c++) {
                const xc = xv[xBase + c];
                for (let m = 0, q = c * M; m < M; m++, q++) acc[wBase + q] += xc * g[gBase + q];
              }
            }
          }
        }
      }
    }
  }
  f32(backend, out).set(acc);
  return out;
}

export const depthwiseConv2dNativeBackpropFilterConfig: tf.KernelConfig = {
  kernelName: tf.DepthwiseConv2dNativeBackpropFilter,
  backendName: BACKEND,
  kernelFunc: depthwiseConv2dNativeBackpropFilter as unknown as tf.KernelFunc,
};
