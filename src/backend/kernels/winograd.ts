/**
 * 3×3 and 5×5 stride-1 convolutions by Winograd's minimal filtering (Lavin & Gray 2016) on
 * advx's native kernels (kernels.c `winograd_conv`, `winograd_grad`): F(4×4, 3×3), 36
 * multiply-adds per 4×4 outputs and channel pair instead of 144, and F(2×2, 5×5), 36 per 2×2
 * instead of 100. It serves Conv2D and FusedConv2D (bias, ReLU, ReLU6), which TF.js runs on
 * XNNPACK's GEMM convolution, and Conv2DBackpropFilter, whose other path is advx's direct kernel
 * (bench/winograd.ts measures each against the path it replaces).
 *
 * Not the input gradient: it is the convolution of dy with the flipped filter padded by R − 1,
 * so on these small images most of its tiles are padding (DANN's 8×8 → 12×12: 36 tiles × 36
 * multiply-adds against the direct kernel's 64 × 25, 1.2× fewer), and with F(2×2, 3×3) it
 * measured 0.8–1.0× of the direct kernel in conv2d_backprop_input.ts.
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
 * `enabled: false` keeps every convolution on its former path, `filterGrad: false` the filter
 * gradients only (tests and benchmarks compare both). `minOutputs`: below this many outputs per
 * channel in the batch the forward convolution stays on XNNPACK, the per-call set-up (the filter
 * transform, the scratch) outweighing what the tiles save (one image of DANN's conv 2, 8×8 outputs:
 * 0.79× XNNPACK; of the CNN's, 11×11: 0.94–1.12×). The filter gradient gains even there.
 */
export const WINOGRAD = { enabled: true, filterGrad: true, minChannels: 16, minOutputs: 128 };

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
