/**
 * 3×3 and 5×5 stride-1 convolutions by Winograd's minimal filtering (Lavin & Gray 2016) on
 * advx's native kernels (kernels.c `winograd_conv`, `winograd_grad`): F(4×4, 3×3), 36
 * multiply-adds per 4×4 outputs and channel pair instead of 144, and F(2×2, 5×5), 36 per 2×2
 * instead of 100. It serves Conv2D and FusedConv2D (bias, ReLU, ReLU6), which TF.js runs on
 * XNNPACK's GEMM convolution, and Conv2DBackpropFilter, whose other path is advx's direct kernel
 * (bench/winograd.ts measures each against the path it replaces).
 *
 * And Conv2DBackpropInput, as the convolution of dy with the flipped filter, padded by R − 1:
 * there the padding costs tiles, so it gains less (DANN's 8×8 → 12×12: 36 tiles × 36
 * multiply-adds against the direct kernel's 64 × 25, 1.2× fewer, measured 1.0×; the CNN's
 * 11×11 → 13×13: 1.9× fewer, measured 1.14×; 2.7× on 56×56).
 *
 * Where it applies: R×R with R 3 or 5, stride 1, no dilation, NHWC float32, both channel counts
 * multiples of 4 and at least WINOGRAD.minChannels (the transforms are linear in the channels,
 * the products quadratic: few channels leave too little to save). Elsewhere the callers keep
 * their paths. The filter is transformed per call (U = G g Gᵀ, 36 × C × O floats): tens of µs.
 */
import * as tf from '@tensorflow/tfjs-core';
import { nativeKernels, PARALLEL, ptr, splitRange } from './native.ts';
import { alloc, dispose, type ConvGeometry, type WasmBackend } from './util.ts';

/**
 * `enabled: false` keeps every convolution on its former path, `filterGrad: false` and
 * `inputGrad: false` the filter or the input gradients only (tests and benchmarks compare both).
 * `minOutputs`: below this many outputs per channel in the batch the forward convolution stays
 * on XNNPACK, the per-call set-up (the filter transform, the scratch) outweighing what the tiles
 * save (one image of DANN's conv 2, 8×8 outputs: 0.79× XNNPACK; of the CNN's, 11×11: 0.94–1.12×).
 * The input gradient also flips the filter and pads dy, so it needs more outputs
 * (`minInputGradOutputs`: one image of the CNN's conv 2, 13×13 outputs, 0.70× the direct kernel;
 * a batch of 128, 1.14×). The filter gradient gains even on one image.
 */
export const WINOGRAD = { enabled: true, filterGrad: true, inputGrad: true, minChannels: 16, minOutputs: 128, minInputGradOutputs: 1024 };

/** Filter sizes the kernels have transforms for (F(4×4, 5×5) would need 8 points: too imprecise in float32). */
const SIZES = [3, 5];

/** The activations the kernel applies in its output transform, by FusedConv2D's names. */
export const WINOGRAD_ACTIVATIONS: Record<string, number> = { linear: 0, relu: 1, relu6: 2 };

/** Whether a convolution of this geometry goes through Winograd. */
export function winogradApplies(g: ConvGeometry): boolean {
  return (
    WINOGRAD.enabled &&
    SIZES.includes(g.FH) && g.FW === g.FH && g.SH === 1 && g.SW === 1 && g.DH === 1 && g.DW === 1 &&
    g.C % 4 === 0 && g.O % 4 === 0 && Math.min(g.C, g.O) >= WINOGRAD.minChannels
  );
}

/** Images per thread, one share per thread once the work is worth a dispatch. */
function shares(g: ConvGeometry, threads: number): Array<[number, number]> {
  const macs = g.N * g.OH * g.OW * g.O * g.C * g.FH * g.FW;
  return macs >= PARALLEL.minMacs ? splitRange(g.N, threads) : [[0, g.N]];
}

/**
 * out = act(bias + x ⋆ filter) for `x` [N, H, W, C] and `filter` [R, R, C, O] into a new
 * [N, OH, OW, O] tensor, (PT, PL) the padding at the top and left. Null when the native kernels
 * are not loaded or the batch has fewer than WINOGRAD.minOutputs outputs per channel.
 */
export function winogradConv(
  backend: WasmBackend,
  x: tf.TensorInfo,
  filter: tf.TensorInfo,
  g: ConvGeometry,
  options: { bias?: tf.TensorInfo; activation?: number } = {},
): tf.TensorInfo | null {
  const native = nativeKernels(backend);
  if (!native || g.N * g.OH * g.OW < WINOGRAD.minOutputs) return null;
  const { N, H, W, C, OH, OW, O, PT, PL, FH: R } = g;
  const U = alloc(backend, [36, C, O]);
  native.exports.winograd_filter(ptr(backend, filter), ptr(backend, U), C, O, R);
  const out = alloc(backend, [N, OH, OW, O]);
  const parts = shares(g, native.shares);
  const scratchFloats = native.exports.winograd_scratch(C, O, R);
  const scratch = alloc(backend, [parts.length, scratchFloats]);
  const [xp, up, yp, sp] = [ptr(backend, x), ptr(backend, U), ptr(backend, out), ptr(backend, scratch)];
  const bp = options.bias ? ptr(backend, options.bias) : 0;
  native.run(
    'winograd_conv',
    parts.map(([n0, n1], i) => [xp, up, bp, yp, sp + i * scratchFloats * 4, n0, n1, H, W, C, OH, OW, O, PT, PL, options.bias ? 1 : 0, options.activation ?? 0, R]),
  );
  dispose(backend, U, scratch);
  return out;
}

/**
 * dW [R, R, C, O] of the convolution of `x` [N, H, W, C] giving `dy` [N, OH, OW, O]: each thread
 * sums its images' dU = Σ_tiles V ⊗ A dy Aᵀ in the Winograd domain, then dW = Gᵀ (Σ dU) G. Null
 * when the native kernels are not loaded or WINOGRAD.filterGrad is off.
 */
export function winogradFilterGrad(backend: WasmBackend, x: tf.TensorInfo, dy: tf.TensorInfo, g: ConvGeometry): tf.TensorInfo | null {
  const native = WINOGRAD.filterGrad ? nativeKernels(backend) : null;
  if (!native) return null;
  const { H, W, C, OH, OW, O, PT, PL, FH: R } = g;
  const parts = shares(g, native.shares);
  const dUFloats = 36 * C * O;
  const scratchFloats = native.exports.winograd_grad_scratch(C, O, R);
  const dU = alloc(backend, [parts.length, dUFloats]);
  const scratch = alloc(backend, [parts.length, scratchFloats]);
  const [xp, dyp, up, sp] = [ptr(backend, x), ptr(backend, dy), ptr(backend, dU), ptr(backend, scratch)];
  native.run(
    'winograd_grad',
    parts.map(([n0, n1], i) => [xp, dyp, up + i * dUFloats * 4, sp + i * scratchFloats * 4, n0, n1, H, W, C, OH, OW, O, PT, PL, R]),
  );
  const out = alloc(backend, [R, R, C, O]);
  native.exports.winograd_filter_back(up, parts.length, ptr(backend, out), C, O, R);
  dispose(backend, dU, scratch);
  return out;
}

/**
 * dx [N, H, W, C] of the convolution of `filter` [R, R, C, O] giving `dy` [N, OH, OW, O]: the
 * R×R convolution of dy, padded by R − 1 − (PT, PL), with the filter flipped and its channels
 * swapped (g'[i, j, o, c] = g[R−1−i, R−1−j, c, o]), through winogradConv. Null where that
 * returns null, WINOGRAD.inputGrad is off or dx has fewer than WINOGRAD.minInputGradOutputs
 * outputs per channel.
 */
export function winogradInputGrad(backend: WasmBackend, dy: tf.TensorInfo, filter: tf.TensorInfo, g: ConvGeometry): tf.TensorInfo | null {
  const native = WINOGRAD.inputGrad ? nativeKernels(backend) : null;
  if (!native || g.N * g.H * g.W < WINOGRAD.minInputGradOutputs) return null;
  const { N, H, W, C, OH, OW, O, PT, PL, FH: R } = g;
  const flipped = alloc(backend, [R, R, O, C]);
  const [src, dst] = [ptr(backend, filter), ptr(backend, flipped)];
  for (let tap = 0; tap < R * R; tap++) native.exports.transpose2d(src + tap * C * O * 4, dst + (R * R - 1 - tap) * C * O * 4, C, O);
  const full: ConvGeometry = { N, H: OH, W: OW, C: O, OH: H, OW: W, O: C, FH: R, FW: R, SH: 1, SW: 1, DH: 1, DW: 1, PT: R - 1 - PT, PL: R - 1 - PL };
  const dx = winogradConv(backend, dy, flipped, full);
  dispose(backend, flipped);
  return dx;
}
