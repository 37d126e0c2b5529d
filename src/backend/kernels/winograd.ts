/**
 * 3×3 stride-1 convolutions by Winograd's minimal filtering, F(2×2, 3×3) (Lavin & Gray 2016), on
 * advx's native kernels (kernels.c `winograd_3x3`): 16 multiply-adds per 2×2 outputs and channel
 * pair instead of 36. It serves Conv2D and FusedConv2D (bias, ReLU, ReLU6), which TF.js runs on
 * XNNPACK's GEMM convolution: 1.0–1.45× faster than XNNPACK on 2 threads (bench/winograd.ts;
 * the CNN's 13×13×32→64 at batch 128: 6.4 against 7.8 ms). Not the input gradient: as the
 * convolution of dy with the flipped filter (padded by 2, so more tiles) it measured 0.8–1.0× of
 * the direct kernel in conv2d_backprop_input.ts.
 *
 * Where it applies: 3×3, stride 1, no dilation, NHWC float32, both channel counts multiples of 4
 * and at least WINOGRAD.minChannels (the transforms are linear in the channels, the products
 * quadratic: few channels leave too little to save). Elsewhere the callers keep their paths.
 * The filter is transformed per call (U = G g Gᵀ, 16 × C × O floats, kernels.c
 * `winograd_filter`): tens of µs, so that a batch of one image gains too.
 */
import * as tf from '@tensorflow/tfjs-core';
import { nativeKernels, PARALLEL, ptr, splitRange } from './native.ts';
import { alloc, dispose, type ConvGeometry, type WasmBackend } from './util.ts';

/** `enabled: false` keeps every convolution on its former path (tests and benchmarks compare both). */
export const WINOGRAD = { enabled: true, minChannels: 16 };

/** The activations the kernel applies in its output transform, by FusedConv2D's names. */
export const WINOGRAD_ACTIVATIONS: Record<string, number> = { linear: 0, relu: 1, relu6: 2 };

/** Whether a convolution of this geometry goes through Winograd. */
export function winogradApplies(g: ConvGeometry): boolean {
  return (
    WINOGRAD.enabled &&
    g.FH === 3 && g.FW === 3 && g.SH === 1 && g.SW === 1 && g.DH === 1 && g.DW === 1 &&
    g.C % 4 === 0 && g.O % 4 === 0 && Math.min(g.C, g.O) >= WINOGRAD.minChannels
  );
}

/**
 * out = act(bias + x ⋆ filter) for `x` [N, H, W, C] and `filter` [3, 3, C, O] into a new
 * [N, OH, OW, O] tensor, (PT, PL) the padding at the top and left. Null when the native kernels
 * are not loaded.
 */
export function winogradConv(
  backend: WasmBackend,
  x: tf.TensorInfo,
  filter: tf.TensorInfo,
  { N, H, W, C, OH, OW, O, PT, PL }: ConvGeometry,
  options: { bias?: tf.TensorInfo; activation?: number } = {},
): tf.TensorInfo | null {
  const native = nativeKernels(backend);
  if (!native) return null;
  const U = alloc(backend, [16, C, O]);
  native.exports.winograd_filter(ptr(backend, filter), ptr(backend, U), C, O);
  const out = alloc(backend, [N, OH, OW, O]);
  const macs = N * OH * OW * O * C * 9;
  const parts = macs >= PARALLEL.minMacs ? splitRange(N, native.shares) : [[0, N] as [number, number]];
  const scratchFloats = native.exports.winograd_scratch(C, O);
  const scratch = alloc(backend, [parts.length, scratchFloats]);
  const [xp, up, yp, sp] = [ptr(backend, x), ptr(backend, U), ptr(backend, out), ptr(backend, scratch)];
  const bp = options.bias ? ptr(backend, options.bias) : 0;
  native.run(
    'winograd_3x3',
    parts.map(([n0, n1], i) => [xp, up, bp, yp, sp + i * scratchFloats * 4, n0, n1, H, W, C, OH, OW, O, PT, PL, options.bias ? 1 : 0, options.activation ?? 0]),
  );
  dispose(backend, U, scratch);
  return out;
}
