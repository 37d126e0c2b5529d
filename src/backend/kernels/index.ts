/**
 * advx's kernels for TF.js's wasm backend: the gradient kernels TF.js lacks or runs slowly, and
 * the few forward kernels a training step leans on. Each file says what it replaces and why.
 * The heavy loops run in advx's own SIMD WASM module (native.ts, ../native/kernels.c) over
 * TF.js's heap, on threads of their own where the heap is shared, with JS fallbacks.
 * `registerWasmGradientKernels()` registers them all; call it before or after the wasm backend
 * is initialised (it is idempotent).
 */
import * as tf from '@tensorflow/tfjs-core';
import { batchMatMulConfig } from './batch_mat_mul.ts';
import { binaryConfigs } from './binary.ts';
import { castConfig } from './cast.ts';
import { conv2DConfig, fusedConv2DConfig } from './conv2d.ts';
import { tileConfig } from './tile.ts';
import { conv2DBackpropFilterConfig } from './conv2d_backprop_filter.ts';
import { conv2DBackpropInputConfig } from './conv2d_backprop_input.ts';
import { depthwiseConv2dNativeBackpropFilterConfig } from './depthwise_conv2d_backprop_filter.ts';
import { depthwiseConv2dNativeBackpropInputConfig } from './depthwise_conv2d_backprop_input.ts';
import { registerGraphOpGradients } from './graph_op_gradients.ts';
import { identityConfig } from './identity.ts';
import { maxPoolConfig, maxPoolGradConfig } from './max_pool_grad.ts';
import { padV2Config } from './pad.ts';
import { fusedMatMulConfig, reluConfig } from './relu.ts';
import { reluGradConfig } from './relu_grad.ts';
import { resizeNearestNeighborGradConfig } from './resize_nearest_neighbor_grad.ts';
import { sumConfig } from './sum.ts';
import { unsortedSegmentSumConfig } from './unsorted_segment_sum.ts';
import { BACKEND, originals } from './util.ts';

export const WASM_KERNELS: readonly tf.KernelConfig[] = [
  conv2DConfig,
  fusedConv2DConfig,
  conv2DBackpropFilterConfig,
  conv2DBackpropInputConfig,
  maxPoolGradConfig,
  maxPoolConfig,
  batchMatMulConfig,
  sumConfig,
  identityConfig,
  tileConfig,
  castConfig,
  ...binaryConfigs,
  reluConfig,
  reluGradConfig,
  fusedMatMulConfig,
  padV2Config,
  depthwiseConv2dNativeBackpropInputConfig,
  depthwiseConv2dNativeBackpropFilterConfig,
  unsortedSegmentSumConfig,
  resizeNearestNeighborGradConfig,
];

let registered = false;

export function registerWasmGradientKernels(): void {
  if (registered) return;
  registered = true;
  for (const cfg of WASM_KERNELS) {
    const prev = tf.getKernel(cfg.kernelName, BACKEND);
    if (prev) {
      originals.set(cfg.kernelName, prev);
      tf.unregisterKernel(cfg.kernelName, BACKEND);
    }
    // Keep TF.js's set-up (it binds the C++ entry points our fallbacks call) running when the
    // backend initialises after this point.
    tf.registerKernel({ ...cfg, setupFunc: prev?.setupFunc ?? cfg.setupFunc });
  }
  // Not kernels: gradients TF.js lacks for graph-model ops (dilated depthwise convolutions,
  // StridedSlice, GatherNd, DepthToSpace, batchNorm without offset or scale), per-input gradients
  // of fused convolutions and products, and ReLU's and ReLU6's (AdvxReluGrad here), on every backend.
  registerGraphOpGradients();
}
